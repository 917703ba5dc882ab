"""The allowlist of file types, recognised by their first bytes only."""

from __future__ import annotations

import struct

import pytest

from gateway.attachments import content_types as mt


def ftyp(brand: bytes) -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"isom"


def mp3_frame() -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: FF FB 90 64.
    return b"\xff\xfb\x90\x64" + b"\x00" * 60


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", mt.JPEG),
        (b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00", mt.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", mt.PNG),
        (b"GIF89a\x01\x00\x01\x00", mt.GIF),
        (b"GIF87a\x01\x00\x01\x00", mt.GIF),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", mt.WEBP),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", mt.PDF),
        (b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00OpusHead", mt.OGG),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", mt.MP3),
        (mp3_frame(), mt.MP3),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc", mt.AAC),
        (b"#!AMR\n\x3c", mt.AMR),
        (b"#!AMR-WB\n", mt.AMR_WB),
        (ftyp(b"M4A "), mt.M4A),
        (ftyp(b"isom"), mt.MP4),
        (ftyp(b"mp42"), mt.MP4),
        (ftyp(b"3gp4"), mt.THREE_GP),
        (ftyp(b"3g2a"), mt.THREE_G2),
        (ftyp(b"qt  "), mt.MOV),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm", mt.WEBM),
    ],
)
def test_allowlisted_formats_are_recognised(head: bytes, expected: mt.MediaType) -> None:
    found = mt.sniff(head)
    assert found == expected and found.inline
    assert found in mt.ALLOWED


@pytest.mark.parametrize(
    "head",
    [
        b"<!doctype html><script>alert(1)</script>",
        b"  \n<html><body onload=alert(1)>",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">',
        b"alert(document.cookie)",
        b"\xef\xbb\xbf<html>",  # UTF-8 byte-order mark
        b"\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x00",  # UTF-16LE mark: FF and E0 bits, but no audio frame
        b"\xff\xfe\x00\x00<\x00\x00\x00",  # UTF-32LE mark
        b"\xfe\xff\x00<\x00h",  # UTF-16BE mark
        b"PK\x03\x04\x14\x00",  # zip, docx
        b"MZ\x90\x00",  # a Windows program
        ftyp(b"heic"),  # HEIC photo: not every browser shows it
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"",
    ],
)
def test_everything_else_is_opaque(head: bytes) -> None:
    assert mt.sniff(head) is mt.OPAQUE
    assert not mt.OPAQUE.inline and mt.OPAQUE.mime == "application/octet-stream"
    assert mt.OPAQUE.extension == ".bin"


def test_no_allowlisted_type_is_one_a_browser_runs_scripts_in() -> None:
    for kind in mt.ALLOWED:
        assert kind.mime.split("/")[0] in ("image", "audio", "video") or kind.mime == "application/pdf"
        assert "svg" not in kind.mime and "html" not in kind.mime and "xml" not in kind.mime
