"""JSON from outside (request bodies, WebSocket frames), parsed in one place.

JSON may spell lone UTF-16 surrogates ("\\ud800"), which Python decodes into a str that no encoder
accepts: it would crash later, far from here, when the text is sent, stored or logged. Every string
(keys too) is repaired on the way in: a surrogate pair split in two escapes is joined again, a lone
half becomes U+FFFD. Ids in paths are parsed here as well, to the database's integer range.
"""

from __future__ import annotations

import json
import re
from typing import Any

from backend.db import MAX_ID as MAX_DB_ID

_ID = re.compile(r"[0-9]{1,10}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """Not JSON, too large, or nested too deep."""


def repair_text(text: str) -> str:
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def repaired(value: Any) -> Any:
    """`value` with every string in it repaired; dicts and lists rebuilt, other values as they are."""
    if isinstance(value, str):
        return repair_text(value)
    if isinstance(value, dict):
        return {repair_text(k): repaired(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repaired(v) for v in value]
    return value


def parse_json(raw: str | bytes, limit: int | None = None) -> Any:
    """The repaired value of `raw`; raises BadJson."""
    if limit is not None and len(raw) > limit:
        raise BadJson("too large")
    try:
        return repaired(json.loads(raw))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadJson(str(exc)) from exc


def parse_object(raw: str | bytes, limit: int | None = None) -> dict[str, Any] | None:
    """The repaired JSON object in `raw`, or None when it is anything else."""
    try:
        data = parse_json(raw, limit)
    except BadJson:
        return None
    return data if isinstance(data, dict) else None


def parse_id(raw: str) -> int | None:
    """A database id from a path segment: ASCII digits within INTEGER range, else None (a 404)."""
    if not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_DB_ID else None
