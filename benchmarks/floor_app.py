"""The floor the report page is measured against: the least a page on this stack can do.

FastAPI behind the report page's own uvicorn settings (portal.server.uvicorn_config), plain
`def` endpoints in the same thread pool, one session per request on the same database with the
same engine rules (duban.ledger.database): GET /r/{token} is one indexed read (the link's row by
its hash), POST /r/{token} parses the same form and inserts one row into a table of its own.

    .venv/bin/python benchmarks/floor_app.py --port 8123   # DUBAN_DATABASE_URL names the ledger
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from fastapi import FastAPI, Form  # noqa: E402
from fastapi.responses import HTMLResponse, PlainTextResponse  # noqa: E402
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select  # noqa: E402

from duban.ledger.database import Database  # noqa: E402
from duban.ledger.models import AccessToken  # noqa: E402
from duban.reports.tokens import hash_token  # noqa: E402
from portal.server import uvicorn_config  # noqa: E402

FLOOR = Table("bench_floor_report", MetaData(),
              Column("id", Integer, primary_key=True), Column("token_hash", String(64)),
              Column("kind", String(16)), Column("value", String(64)), Column("note", String(200)),
              Column("at", DateTime))
Text = Annotated[str, Form()]


def create_floor(db: Database) -> FastAPI:
    FLOOR.metadata.create_all(db.engine)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/r/{token}")
    def read(token: str) -> HTMLResponse:
        with db.read() as session:
            row = session.execute(select(AccessToken.id, AccessToken.occurrence_id).where(
                AccessToken.token_hash == hash_token(token))).first()
        return HTMLResponse(f"<p>{row[1] if row else '-'}</p>", status_code=200 if row else 404)

    @app.post("/r/{token}")
    def write(token: str, kind: Text = "", value: Text = "", note: Text = "",
              nonce: Text = "", csrf: Text = "") -> HTMLResponse:
        with db.session() as session:
            session.execute(insert(FLOOR).values(token_hash=hash_token(token), kind=kind,
                                                 value=value, note=note, at=datetime.now(UTC)))
        return HTMLResponse("<p>ok</p>")

    @app.get("/healthz")
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_floor(Database(os.environ["DUBAN_DATABASE_URL"]))
    uvicorn.Server(uvicorn_config(app, args.host, args.port)).run()


if __name__ == "__main__":
    main()
