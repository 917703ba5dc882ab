"""JSON and XML bodies for Open311 GeoReport v2: the same data, two encodings chosen by suffix.

GeoReport v2 names the XML elements after the JSON keys, with a list wrapped in
a plural element (``<services><service>...``). `render` takes the JSON shape plus
the two element names, so each view builds its data once.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from flask import Response

FORMATS: tuple[str, ...] = ("json", "xml")
MIME = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


# What XML 1.0 cannot carry at all, even escaped: C0 controls but tab, newline and
# return; lone surrogates; U+FFFE and U+FFFF. Text stored before Open311 stripped them
# (or arriving another way) must not make the whole document unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _element(tag: str, value: Any) -> ET.Element:
    node = ET.Element(tag)
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, list):
                node.append(_list(key, _singular(key), inner))
            else:
                node.append(_element(key, inner))
    elif value is not None:
        node.text = _text(value)
    return node


def _singular(tag: str) -> str:
    return {
        "attributes": "attribute",
        "values": "value",
        "endpoints": "endpoint",
        "formats": "format",
        "service_requests": "request",
        "services": "service",
        "errors": "error",
    }.get(tag, tag.rstrip("s"))


def _list(tag: str, item_tag: str, items: list[Any]) -> ET.Element:
    node = ET.Element(tag)
    for item in items:
        node.append(_element(item_tag, item))
    return node


def to_xml(data: Any, root: str, item: str | None = None) -> str:
    """``data`` (a dict, or a list when ``item`` is given) as an XML document."""
    node = _list(root, item, data) if item is not None else _element(root, data)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(node, encoding="unicode")


def render(fmt: str, data: Any, root: str, item: str | None = None, status: int = 200) -> Response:
    body = to_xml(data, root, item) if fmt == "xml" else json.dumps(data, ensure_ascii=False)
    return Response(body, status=status, content_type=MIME.get(fmt, MIME["json"]))


def error(fmt: str, status: int, description: str) -> Response:
    """GeoReport v2 errors: ``[{"code": 400, "description": "..."}]`` or ``<errors><error>...``."""
    return render(fmt, [{"code": status, "description": description}], "errors", "error", status=status)
