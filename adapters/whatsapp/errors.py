"""Graph API error codes of the WhatsApp Cloud API, mapped to what a send job should do.

One table rather than a chain of ifs, so that a reviewer can read every decision
in one place and a new code from Meta's changelog is one line. Codes come from
Meta's "Error codes" reference for the Cloud API; anything not listed falls back
to the HTTP status (429 and 5xx retry, other 4xx are final).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorRule:
    """What a Graph error code means for the job that tried to send."""

    retryable: bool
    window_closed: bool = False  # the 24-hour customer service window is closed
    unreachable: bool = False  # the citizen cannot or does not want to receive messages
    note: str = ""


ERROR_TABLE: dict[int, ErrorRule] = {
    # The customer service window: free text is refused, a template is needed.
    131047: ErrorRule(retryable=False, window_closed=True, note="re-engagement message (outside 24h)"),
    # The recipient cannot get this message; retrying the same message will not help.
    131026: ErrorRule(retryable=False, note="message undeliverable"),
    131050: ErrorRule(retryable=False, unreachable=True, note="user stopped marketing messages"),
    131051: ErrorRule(retryable=False, note="unsupported message type"),
    131021: ErrorRule(retryable=False, note="recipient cannot be sender"),
    131030: ErrorRule(retryable=False, note="recipient not in allowed list"),
    131049: ErrorRule(retryable=False, note="not delivered to maintain ecosystem health"),
    # Our request is wrong: fix the code or the template, not the timing.
    100: ErrorRule(retryable=False, note="invalid parameter"),
    131008: ErrorRule(retryable=False, note="required parameter missing"),
    131009: ErrorRule(retryable=False, note="parameter value invalid"),
    132000: ErrorRule(retryable=False, note="template parameter count mismatch"),
    132001: ErrorRule(retryable=False, note="template does not exist"),
    132005: ErrorRule(retryable=False, note="template hydrated text too long"),
    132007: ErrorRule(retryable=False, note="template format character policy violated"),
    132012: ErrorRule(retryable=False, note="template parameter format mismatch"),
    132015: ErrorRule(retryable=False, note="template is paused"),
    132016: ErrorRule(retryable=False, note="template is disabled"),
    # Credentials and account state: an operator must act.
    0: ErrorRule(retryable=False, note="authentication exception"),
    3: ErrorRule(retryable=False, note="API method capability"),
    10: ErrorRule(retryable=False, note="permission denied"),
    190: ErrorRule(retryable=False, note="access token expired or invalid"),
    200: ErrorRule(retryable=False, note="permission denied"),
    368: ErrorRule(retryable=False, note="temporarily blocked for policy violations"),
    131031: ErrorRule(retryable=False, note="business account locked"),
    131042: ErrorRule(retryable=False, note="business eligibility payment issue"),
    131045: ErrorRule(retryable=False, note="incorrect certificate"),
    # Throttling: wait and try again.
    4: ErrorRule(retryable=True, note="application request limit reached"),
    613: ErrorRule(retryable=True, note="API call rate limit"),
    80007: ErrorRule(retryable=True, note="WABA rate limit"),
    130429: ErrorRule(retryable=True, note="Cloud API throughput reached"),
    131048: ErrorRule(retryable=True, note="spam rate limit hit"),
    131056: ErrorRule(retryable=True, note="pair rate limit (same recipient)"),
    # Meta's side is unwell.
    1: ErrorRule(retryable=True, note="unknown API error"),
    2: ErrorRule(retryable=True, note="API service temporarily unavailable"),
    131000: ErrorRule(retryable=True, note="something went wrong"),
    131016: ErrorRule(retryable=True, note="service unavailable"),
    133004: ErrorRule(retryable=True, note="server temporarily unavailable"),
}


def rule_for(code: int | None, http_status: int) -> ErrorRule:
    """The rule for a Graph error code, falling back to the HTTP status when the code is unknown."""
    if code is not None and code in ERROR_TABLE:
        return ERROR_TABLE[code]
    if http_status == 429 or http_status >= 500:
        return ErrorRule(retryable=True, note=f"HTTP {http_status}")
    return ErrorRule(retryable=False, note=f"HTTP {http_status}")
