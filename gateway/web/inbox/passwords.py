"""Password hashing for operators (Argon2id through argon2-cffi) and the one password rule.

The rule lives here, not in a form or a command, so that `operator create`,
`operator set-password` and every inbox form refuse the same passwords.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()

#: Shortest password an operator may set (the inbox and the command line alike).
MIN_PASSWORD_LENGTH = 12
#: Longest: Argon2 takes any length, but hashing megabytes on request is a cheap way to load the server.
MAX_PASSWORD_LENGTH = 512


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be set (``"too_short"`` or ``"too_long"``), or None when it may.

    A code rather than a sentence: the inbox words it in the operator's language,
    the command line in English.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    if len(password) > MAX_PASSWORD_LENGTH:
        return "too_long"
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)
