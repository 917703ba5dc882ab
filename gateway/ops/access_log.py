"""gunicorn's logs as the application's: one JSON object per line, masked.

`lapor-gateway web` runs gunicorn with `JsonGunicornLogger`. gunicorn writes the
request line, query string and referer as they came; Vonage's GET webhooks carry the
citizen's number and message there, and the API's ``contact`` filter a number. Every
field from the client goes through the application's one `mask`, and every line, access
or error, through the application's `JsonFormatter`, so a log collector parses one format
for the whole process. Fields gunicorn makes itself (time, status, sizes, durations) are
left alone. The access line carries the request id the app answered with (``X-Request-ID``),
so an access line is found with the job and send lines of the same webhook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from gunicorn.glogging import Logger

from gateway.ops.logging_setup import REQUEST_ID_HEADER, JsonFormatter, mask, request_context

if TYPE_CHECKING:
    from gunicorn.glogging import _AtomsDict  # in types-gunicorn only

#: Atoms of gunicorn's access log format that the server makes, never the client.
SERVER_ATOMS = frozenset({"t", "s", "m", "H", "b", "B", "T", "D", "M", "L", "p"})


class MaskedAccessLogger(Logger):
    """gunicorn's logger whose access-log atoms from the request are masked."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> _AtomsDict:
        atoms = super().atoms(resp, req, environ, request_time)
        # The same keys, some values masked: still the atoms gunicorn made.
        return cast(
            "_AtomsDict",
            {
                key: mask(value) if isinstance(value, str) and key not in SERVER_ATOMS else value
                for key, value in atoms.items()
            },
        )


class JsonGunicornLogger(MaskedAccessLogger):
    """`MaskedAccessLogger` writing JSON lines (error log and access log) with the app's formatter."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(formatter)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        enabled = getattr(
            self,
            "access_log_enabled",
            bool(self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict),
        )
        if not enabled:
            return
        try:
            line, fields, request_id = access_record(self, resp, req, environ, request_time)
            with request_context(request_id):
                self.access_log.info("%s", line, extra=fields)
        except Exception:  # a log line must never fail a request
            self.error("Failed to format the access log line", exc_info=True)


def access_record(
    logger: MaskedAccessLogger, resp: Any, req: Any, environ: Any, request_time: Any
) -> tuple[str, dict[str, Any], str | None]:
    """The masked request line, the fields of one access line, and the request id the app answered."""
    atoms = logger.atoms(resp, req, environ, request_time)
    status = atoms.get("s", "-")
    query = atoms.get("q") or ""
    line = f"{atoms.get('m', '-')} {atoms.get('U', '')}{'?' + query if query else ''} {status}"
    request_id = next(
        (
            value
            for name, value in getattr(resp, "headers", []) or []
            if name.lower() == REQUEST_ID_HEADER.lower()
        ),
        None,
    )
    fields: dict[str, Any] = {
        "access": True,
        "remote": atoms.get("h"),
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "query": atoms.get("q") or None,
        "status": int(status) if str(status).isdigit() else status,
        "bytes": atoms.get("B"),
        "duration_ms": round(request_time.total_seconds() * 1000, 1),
        "referer": atoms.get("f"),
        "user_agent": atoms.get("a"),
    }
    return line, fields, request_id
