"""Load and validate the category tree; apply administrators' edits on top of the shipped data."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

NONE_LABEL = "none"
KINDS = ("component", "event")
# The editions of the national catalogue shipped in categories/data/<edition>/, and the digits of
# a minor code in each: CJ/T 214 (4, e.g. component:0101) and GB/T 47678.5-2026 (5, 01001).
EDITIONS = {"cjt214": 4, "gbt47678-2026": 5}
DEFAULT_EDITION = "cjt214"
LABEL_RE = re.compile(r"^(component|event):(\d{2})(\d{2,3})$")


class CategoryError(ValueError):
    """The category data is inconsistent; the message names the row or label."""


@dataclass(frozen=True)
class Keyword:
    text: str
    weight: float = 1.0


@dataclass(frozen=True)
class Category:
    label: str
    kind: str
    major: str
    minor: str
    major_name_zh: str
    name_zh: str
    name_en: str
    department: str = ""
    time_limit_hours: float | None = None
    keywords_zh: tuple[Keyword, ...] = ()
    keywords_en: tuple[Keyword, ...] = ()
    negative: tuple[str, ...] = ()
    urgent: bool = False
    enabled: bool = True

    @property
    def code(self) -> str:
        return self.minor

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def keywords(self) -> tuple[Keyword, ...]:
        return self.keywords_zh + self.keywords_en


def parse_label(label: str) -> tuple[str, str, str]:
    """``event:0102`` → (kind, major, minor) = ("event", "01", "0102")."""
    match = LABEL_RE.match(label)
    if not match:
        raise CategoryError(f"malformed label {label!r}: expected component:MMNN or event:MMNN "
                            "(MMNNN in the 2026 edition)")
    kind, major, nn = match.groups()
    return kind, major, major + nn


def edition_of(label: str) -> str:
    """The edition a label's code belongs to, by its number of digits."""
    digits = len(parse_label(label)[2])
    return next(name for name, width in EDITIONS.items() if width == digits)


@dataclass
class CategoryTree:
    categories: dict[str, Category]
    version: int = 0
    majors: dict[tuple[str, str], str] = field(default_factory=dict)
    edition: str = DEFAULT_EDITION

    def __post_init__(self) -> None:
        if not self.majors:
            self.majors = {(c.kind, c.major): c.major_name_zh for c in self.categories.values()}

    def __contains__(self, label: object) -> bool:
        return label in self.categories

    def __iter__(self):
        return iter(self.categories.values())

    def __len__(self) -> int:
        return len(self.categories)

    def get(self, label: str) -> Category | None:
        return self.categories.get(label)

    def enabled(self) -> list[Category]:
        return [c for c in self.categories.values() if c.enabled]

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]], version: int) -> CategoryTree:
        """A new tree with administrators' edits (one mapping of fields per label) applied."""
        merged = dict(self.categories)
        for label, fields_ in overrides.items():
            base = merged.get(label)
            if base is None:
                raise CategoryError(f"override for unknown label {label!r}")
            merged[label] = replace(base, **_category_fields(fields_, label))
        return CategoryTree(merged, version=version, edition=self.edition)

    def as_overrides(self, label: str) -> dict[str, Any]:
        """The editable fields of one class as plain data (the inverse of ``with_overrides``)."""
        c = self.categories[label]
        return {
            "name_zh": c.name_zh,
            "name_en": c.name_en,
            "department": c.department,
            "time_limit_hours": c.time_limit_hours,
            "zh": [_keyword_out(k) for k in c.keywords_zh],
            "en": [_keyword_out(k) for k in c.keywords_en],
            "negative": list(c.negative),
            "urgent": c.urgent,
            "enabled": c.enabled,
        }


def _keyword_out(k: Keyword) -> str | dict[str, Any]:
    return k.text if k.weight == 1.0 else {"text": k.text, "weight": k.weight}


def _keywords(items: Iterable[Any], label: str) -> tuple[Keyword, ...]:
    out = []
    for item in _sequence(items, label, "keywords"):
        if isinstance(item, str):
            out.append(Keyword(item.strip()))
        elif isinstance(item, Mapping) and "text" in item and set(item) <= {"text", "weight"}:
            weight = _number(item.get("weight", 1.0), f"{label}: keyword {item!r} weight")
            if weight <= 0:
                raise CategoryError(f"{label}: keyword {item!r} weight must be positive")
            out.append(Keyword(str(item["text"]).strip(), weight))
        else:
            raise CategoryError(f"{label}: keyword {item!r} must be a string or {{text, weight}}")
    if any(not k.text for k in out):
        raise CategoryError(f"{label}: empty keyword")
    return tuple(out)


def _sequence(items: Any, label: str, what: str) -> list[Any]:
    """A YAML list; a bare string would otherwise be split into single characters."""
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        raise CategoryError(f"{label}: {what} must be a list, got {items!r}")
    return list(items)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise CategoryError(f"{where}: {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CategoryError(f"{where}: {value!r} is not a number") from None


def _category_fields(data: Mapping[str, Any], label: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise CategoryError(f"{label}: expected a mapping of fields, got {data!r}")
    known = {"name_zh", "name_en", "department", "time_limit_hours", "zh", "en", "negative",
             "urgent", "enabled"}
    unknown = set(data) - known
    if unknown:
        raise CategoryError(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key in ("name_zh", "name_en", "department"):
        if key in data:
            out[key] = str(data[key] or "")
    if "time_limit_hours" in data:
        value = data["time_limit_hours"]
        out["time_limit_hours"] = (
            _number(value, f"{label}: time_limit_hours") if value not in (None, "") else None
        )
    if "zh" in data:
        out["keywords_zh"] = _keywords(data["zh"], label)
    if "en" in data:
        out["keywords_en"] = _keywords(data["en"], label)
    if "negative" in data:
        out["negative"] = tuple(str(n).strip() for n in _sequence(data["negative"], label,
                                                                     "negative"))
    for key in ("urgent", "enabled"):
        if key in data:
            out[key] = bool(data[key])
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a repeated key instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise CategoryError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _data_path(*parts: str) -> Path:
    return Path(str(resources.files("categories").joinpath("data", *parts)))


def edition_path(edition: str, name: str) -> Path:
    """A file of one edition's data (categories.csv, keywords.yaml)."""
    if edition not in EDITIONS:
        raise CategoryError(f"unknown edition {edition!r}; one of {', '.join(EDITIONS)}")
    return _data_path(edition, name)


def _read_classes(csv_path: Path, digits: int | None = None) -> dict[str, Category]:
    classes: dict[str, Category] = {}
    with csv_path.open(encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.DictReader(fh), start=2):
            where = f"{csv_path.name}:{lineno}"
            kind, major, minor = row.get("kind", ""), row.get("major_code", ""), row.get("minor_code", "")
            if kind not in KINDS:
                raise CategoryError(f"{where}: unknown kind {kind!r}")
            width = digits or len(minor)
            if not re.fullmatch(r"\d{2}", major) or not re.fullmatch(rf"\d{{{width}}}", minor) \
                    or width not in EDITIONS.values():
                raise CategoryError(f"{where}: malformed code {major!r}/{minor!r}")
            digits = width
            if not minor.startswith(major):
                raise CategoryError(f"{where}: minor {minor} is not under major {major} (unknown parent)")
            if not row.get("minor_name_zh") or not row.get("major_name_zh"):
                raise CategoryError(f"{where}: missing name for {kind}:{minor}")
            label = f"{kind}:{minor}"
            if label in classes:
                raise CategoryError(f"{where}: duplicate code {label}")
            limit = row.get("time_limit_hours") or ""
            classes[label] = Category(
                label=label, kind=kind, major=major, minor=minor,
                major_name_zh=row["major_name_zh"], name_zh=row["minor_name_zh"],
                # a class without an English name (new in 2026) shows its Chinese one
                name_en=row.get("name_en") or row["minor_name_zh"],
                department=row.get("typical_department_zh") or "",
                time_limit_hours=_number(limit, f"{where}: time_limit_hours") if limit else None,
            )
    majors: dict[tuple[str, str], str] = {}
    for c in classes.values():
        if majors.setdefault((c.kind, c.major), c.major_name_zh) != c.major_name_zh:
            raise CategoryError(f"{c.label}: major {c.kind}:{c.major} has two names")
    return classes


def load_tree(csv_path: Path | None = None, keywords_path: Path | None = None,
              edition: str = DEFAULT_EDITION) -> CategoryTree:
    """An edition's shipped tree (or the given files), validated; raises CategoryError naming
    the fault."""
    classes = _read_classes(csv_path or edition_path(edition, "categories.csv"))
    kw_path = keywords_path or edition_path(edition, "keywords.yaml")
    data = yaml.load(kw_path.read_text("utf-8"), _UniqueKeyLoader) if kw_path.exists() else {}
    if not isinstance(data, dict):
        raise CategoryError(f"{kw_path.name}: expected a mapping of label → fields")
    for label, fields_ in data.items():
        if label not in classes:
            parse_label(label)
            raise CategoryError(f"{kw_path.name}: keywords for unknown class {label}")
        classes[label] = replace(classes[label], **_category_fields(fields_ or {}, label))
    return CategoryTree(classes, edition=edition)
