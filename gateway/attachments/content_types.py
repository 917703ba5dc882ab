"""What a stored attachment really is, decided from its first bytes, never from what the sender declared.

A citizen controls the declared type (a WhatsApp document's ``mime_type``, a
Telegram file name, a Twilio ``MediaContentType``), so a page of HTML or SVG
declared as ``image/jpeg`` (or declared honestly as ``text/html``) must not
decide how the gateway stores or serves it: served inline from our own origin,
its script would run with an operator's session.

Only an allowlist of formats a browser shows without running anything (photos,
PDF, the audio and video WhatsApp and Telegram send) is recognised; everything
else is :data:`OPAQUE`: kept for the record, served only as a download of
``application/octet-stream``.

Why our own few signatures and not a library (``filetype``, ``puremagic``,
``python-magic``): the question here is not "what is this file" over hundreds
of formats but "is it one of these dozen, for sure", and the answer is a
security decision, so it should be short enough to read in one sitting and
change only when we change it. ``python-magic`` needs libmagic (not pure
Python); the pure-Python ones recognise far more than we allow, so their answer
would still need this allowlist on top, and an update could widen what a guess
returns. The signatures are the formats' own fixed headers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaType:
    """A sniffed type: the Content-Type to serve, the extension to store, whether it may show inline."""

    mime: str
    extension: str
    inline: bool = True


OPAQUE = MediaType("application/octet-stream", ".bin", inline=False)

JPEG = MediaType("image/jpeg", ".jpg")
PNG = MediaType("image/png", ".png")
GIF = MediaType("image/gif", ".gif")
WEBP = MediaType("image/webp", ".webp")
PDF = MediaType("application/pdf", ".pdf")
OGG = MediaType("audio/ogg", ".ogg")  # WhatsApp and Telegram voice notes (Opus in Ogg)
MP3 = MediaType("audio/mpeg", ".mp3")
AAC = MediaType("audio/aac", ".aac")  # raw ADTS
AMR = MediaType("audio/amr", ".amr")
AMR_WB = MediaType("audio/amr-wb", ".awb")
M4A = MediaType("audio/mp4", ".m4a")
MP4 = MediaType("video/mp4", ".mp4")
MOV = MediaType("video/quicktime", ".mov")  # iPhone videos
THREE_GP = MediaType("video/3gpp", ".3gp")
THREE_G2 = MediaType("video/3gpp2", ".3g2")
WEBM = MediaType("video/webm", ".webm")

#: Every type that may be served inline; anything else is served as :data:`OPAQUE`.
ALLOWED = (JPEG, PNG, GIF, WEBP, PDF, OGG, MP3, AAC, AMR, AMR_WB, M4A, MP4, MOV, THREE_GP, THREE_G2, WEBM)

#: Photos: what a citizen's web form accepts as its picture (and evidence as its images).
PHOTOS = (JPEG, PNG, WEBP, GIF)

#: How many leading bytes :func:`sniff` looks at (read this many from a stored file).
SNIFF_BYTES = 64

# ISO base media ("ftyp" box) brands: the major brand says which member of the family it is.
# HEIC/AVIF photos share the box but browsers do not all show them: they stay opaque.
_AUDIO_MP4_BRANDS = (b"M4A ", b"M4B ")
_VIDEO_MP4_BRANDS = (
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"M4V ",
    b"M4VH",
    b"M4VP",
    b"MSNV",
    b"dash",
    b"mmp4",
    b"NDAS",
)


def _iso_media(head: bytes) -> MediaType | None:
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in _AUDIO_MP4_BRANDS:
        return M4A
    if brand in _VIDEO_MP4_BRANDS:
        return MP4
    if brand == b"qt  ":
        return MOV
    if brand[:3] in (b"3gp", b"3ge", b"3gg", b"3gs", b"3gr"):
        return THREE_GP
    if brand[:3] == b"3g2":
        return THREE_G2
    return None


def _mpeg_audio(head: bytes) -> MediaType | None:
    """An MP3 with an ID3 tag, a bare MPEG layer II/III frame, or an ADTS (AAC) frame.

    The frame header is checked past its 11 sync bits (layer, bitrate, sample
    rate), so a UTF-16 or UTF-32 byte-order mark (``FF FE``) is not taken for audio.
    """
    if head.startswith(b"ID3"):
        return MP3
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    if layer == 0b00:
        return AAC if head[1] & 0xF6 == 0xF0 else None
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    if version == 0b01 or layer == 0b11 or bitrate in (0, 0xF) or rate == 0b11:
        return None  # reserved version, layer I (no messenger sends it), free/bad bitrate, bad rate
    return MP3


def _matroska(head: bytes) -> MediaType | None:
    """WebM is Matroska whose DocType says ``webm``; other Matroska (``.mkv``) stays opaque."""
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    return WEBM if b"webm" in head[4:SNIFF_BYTES] else None


def sniff(head: bytes) -> MediaType:
    """The allowlisted type whose signature ``head`` (a file's first bytes) has, else OPAQUE."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"#!AMR-WB\n"):
        return AMR_WB
    if head.startswith(b"#!AMR\n"):
        return AMR
    for check in (_iso_media, _matroska, _mpeg_audio):
        found = check(head)
        if found is not None:
            return found
    return OPAQUE
