"""The pykwalify extension Rasa registers for its schemas, rewritten here (Rasa is not installed).

Every response variant needs a non-null `text` or a non-empty `custom`; each `condition` must be a
list of mappings. pykwalify loads this file by path and calls the function named in `func:`.
"""

from __future__ import annotations

from typing import Any

from pykwalify.errors import SchemaError


def require_response_keys(responses: list[Any], rule: Any, path: str) -> bool:
    for response in responses:
        if not isinstance(response, dict):
            continue
        if response.get("text") is None and not response.get("custom"):
            raise SchemaError(f"{path}: a response variant needs a non-null 'text' or a non-empty 'custom'")
        conditions = response.get("condition", [])
        if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
            raise SchemaError(f"{path}: 'condition' must be a list of mappings")
    return True
