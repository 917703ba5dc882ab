"""Signatures of SMS aggregator webhooks.

Vonage (the SMS API's "signed webhooks"): the parameters other than ``sig`` are
sorted by name, ``&`` and ``=`` inside values are replaced by ``_``, and the pairs
are joined as ``&name=value&name=value``. With the default "md5hash" method the
signature is the lowercase hex MD5 of that string followed by the signature
secret; with the HMAC methods it is the (uppercase) hex HMAC of the string keyed
by the secret. The method is chosen per account in the Vonage dashboard, so it is
a setting here (``SMS_SIGNATURE_METHOD``).

Infobip documents no signature for SMS forwarding webhooks, so this gateway asks
the deployer to put a proxy or Infobip's custom header feature in front and sign
the raw body: ``X-Lapor-Signature: sha256=<hex HMAC-SHA256 of the body>``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

VONAGE_METHODS: dict[str, str | None] = {
    "md5hash": None,  # plain MD5 of the string + secret, not an HMAC
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "sha512": "sha512",
}

INFOBIP_HEADER = "X-Lapor-Signature"


def vonage_string(params: Mapping[str, str]) -> str:
    """The string Vonage signs: sorted ``&name=value`` pairs, ``sig`` left out."""
    out = []
    for key in sorted(params):
        if key == "sig":
            continue
        value = str(params[key]).replace("&", "_").replace("=", "_")
        out.append(f"&{key}={value}")
    return "".join(out)


def vonage_signature(params: Mapping[str, str], secret: str, method: str = "md5hash") -> str:
    """The ``sig`` Vonage would send for these parameters (lowercase hex)."""
    if method not in VONAGE_METHODS:
        raise ValueError(f"unknown Vonage signature method {method!r}; one of {', '.join(VONAGE_METHODS)}")
    message = vonage_string(params)
    digest = VONAGE_METHODS[method]
    if digest is None:
        return hashlib.md5((message + secret).encode("utf-8"), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), digest).hexdigest()


def vonage_valid(params: Mapping[str, str], secret: str, method: str = "md5hash") -> bool:
    """True when ``params["sig"]`` matches; hex case is ignored (HMAC variants come uppercase)."""
    given = str(params.get("sig") or "").strip().lower()
    if not given:
        return False
    return hmac.compare_digest(
        given.encode("ascii", "replace"), vonage_signature(params, secret, method).encode()
    )


def body_signature(body: bytes, secret: str) -> str:
    """The ``X-Lapor-Signature`` header value for a raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def body_valid(body: bytes, secret: str, header: str | None) -> bool:
    if not header:
        return False
    return hmac.compare_digest(
        header.strip().lower().encode("ascii", "replace"), body_signature(body, secret).encode()
    )
