"""gunicorn's access log, masked: `lapor-gateway web` runs gunicorn with this logger class.

gunicorn writes the request line, query string and referer as they came. Vonage's
GET webhooks carry the citizen's number and message there, and the API's
``contact`` filter a number; every such field goes through the application's one
`mask` before the line is written. Fields gunicorn makes itself (time, status,
sizes, durations) are left alone.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from gateway.logging_setup import mask

#: Atoms of gunicorn's access log format that the server makes, never the client.
SERVER_ATOMS = frozenset({"t", "s", "m", "H", "b", "B", "T", "D", "M", "L", "p"})


class MaskedAccessLogger(Logger):
    """gunicorn's logger whose access-log atoms from the request are masked."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: mask(value) if isinstance(value, str) and key not in SERVER_ATOMS else value
            for key, value in atoms.items()
        }
