"""Running the report page: the uvicorn settings that `python -m portal` uses.

The access log is off (a request line is the link itself, token included), and the token filter
guards every other uvicorn and duban log line.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from portal.security import install_log_redaction


def uvicorn_config(app: Any, host: str, port: int, **kwargs: Any) -> uvicorn.Config:
    install_log_redaction()
    options = {"access_log": False, "server_header": False, "proxy_headers": False,
               "log_level": "info", **kwargs}
    return uvicorn.Config(app, host=host, port=port, **options)
