"""`python -m portal --host 127.0.0.1 --port 8000`: serve the report page.

Configured by the DUBAN_* environment (database, home, config); the schema is created or upgraded
before the first request. `duban up` starts exactly this command.
"""

from __future__ import annotations

import argparse

import uvicorn

from duban.service import Context
from portal.app import create_app
from portal.server import uvicorn_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m portal",
                                     description="督办报送页面 / the report page server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    ctx = Context.from_env()
    ctx.db.create_schema()
    app = create_app(ctx, upgrade_schema=False)
    uvicorn.Server(uvicorn_config(app, args.host, args.port)).run()


if __name__ == "__main__":
    main()
