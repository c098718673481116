"""The component/event tree as data: national classes (CSV) plus city keywords (YAML).

Labels are ``component:MMNN`` / ``event:MMNN``, and ``none`` for "not a city-management problem".
"""

from __future__ import annotations

from categories.tree import (
    NONE_LABEL,
    Category,
    CategoryError,
    CategoryTree,
    Keyword,
    load_tree,
    parse_label,
)

__all__ = [
    "NONE_LABEL",
    "Category",
    "CategoryError",
    "CategoryTree",
    "Keyword",
    "load_tree",
    "parse_label",
]
