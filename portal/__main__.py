"""`python -m portal --host 127.0.0.1 --port 8000`: serve the report page.

Configured by the DUBAN_* environment (database, home, config); the schema is created or upgraded
before the first request. `duban up` starts exactly this command.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(add_completion=False, help="督办报送页面 / the report page server.")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="监听地址 / address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535,
                                      help="监听端口 / port.")] = 8000,
) -> None:
    """Serve the report page until stopped.

    Example: python -m portal --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from duban.service import Context
    from portal.app import create_app
    from portal.server import uvicorn_config

    ctx = Context.from_env()
    ctx.db.create_schema()
    application = create_app(ctx, upgrade_schema=False)
    uvicorn.Server(uvicorn_config(application, host, port)).run()


def main(argv: list[str] | None = None) -> None:
    app(args=argv, prog_name="python -m portal")


if __name__ == "__main__":
    main()
