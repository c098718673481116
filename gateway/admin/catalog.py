"""Category edits as administrators make them: form text ⇄ fields, conflicts, import/export.

Every saved change goes through ``save_classes``: validated against the tree, stored as an
override (which bumps the keyword version running classifiers watch) and audited with the
class's fields before and after, so the previous tree can be rebuilt from the audit log.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from categories import CategoryTree
from categories.tree import CategoryError
from gateway.admin.audit import record
from gateway.admin.csv_safe import plain_cell, safe_cell
from storage.catalog import effective_tree, save_override
from storage.models import AuditLog

CATEGORY_ACTIONS = ("category.update", "category.import")
CSV_FIELDS = ("label", "kind", "major_name_zh", "name_zh", "name_en", "department",
              "time_limit_hours", "enabled", "urgent", "zh", "en", "negative")
KEYWORD_SEP = ";"
MAX_IMPORT_BYTES = 1024 * 1024


def keyword_lines(items: list[Any]) -> str:
    """Keywords for a textarea: one a line, ``text | weight`` when the weight is not 1."""
    return "\n".join(i if isinstance(i, str) else f"{i['text']} | {i['weight']:g}" for i in items)


def parse_keywords(text: str) -> list[Any]:
    """The inverse of ``keyword_lines``; also accepts ``;`` between keywords (CSV cells)."""
    out: list[Any] = []
    for raw in text.replace(KEYWORD_SEP, "\n").splitlines():
        item = raw.strip()
        if not item:
            continue
        if "|" in item:
            word, _, weight = item.rpartition("|")
            try:
                out.append({"text": word.strip(), "weight": float(weight)})
            except ValueError:
                raise CategoryError(f"keyword {item!r}: the weight after | must be a number") from None
        else:
            out.append(item)
    return out


def keyword_cell(items: list[Any]) -> str:
    return f"{KEYWORD_SEP} ".join(keyword_lines(items).splitlines())


def conflicts(tree: CategoryTree) -> dict[str, list[str]]:
    """Keyword (case-folded) → the enabled classes using it, only where there are two or more."""
    users: dict[str, list[str]] = defaultdict(list)
    for cat in tree.enabled():
        for word in {k.text.casefold() for k in cat.keywords()}:
            users[word].append(cat.label)
    return {w: sorted(labels) for w, labels in sorted(users.items()) if len(labels) > 1}


def save_classes(session: Session, base: CategoryTree, changes: Mapping[str, Mapping[str, Any]],
                 actor: str, action: str) -> int | None:
    """Apply edited fields per label; only real changes are stored. Returns the new version."""
    current = effective_tree(session, base)
    unknown = [label for label in changes if label not in current]
    if unknown:
        raise CategoryError(f"unknown class(es): {', '.join(unknown[:5])}")
    before, after = {}, {}
    for label, fields in changes.items():
        old = current.as_overrides(label)
        new = current.with_overrides({label: {**old, **fields}}, 0).as_overrides(label)
        if new != old:
            before[label], after[label] = old, new
    if not after:
        return None
    version = 0
    for label, data in after.items():
        version = save_override(session, label, data, actor)
    target = next(iter(after)) if len(after) == 1 else f"{len(after)} classes"
    record(session, actor, action, target, before, after)
    return version


def previous_tree(session: Session, base: CategoryTree) -> tuple[CategoryTree, AuditLog] | None:
    """The tree as it was before the latest category change (from the audit log's ``before``)."""
    last = session.scalar(select(AuditLog).where(AuditLog.action.in_(CATEGORY_ACTIONS))
                          .order_by(AuditLog.id.desc()).limit(1))
    if last is None or not isinstance(last.before, dict):
        return None
    current = effective_tree(session, base)
    return current.with_overrides(last.before, version=max(current.version - 1, 0)), last


def export_yaml(tree: CategoryTree) -> str:
    data = {c.label: tree.as_overrides(c.label) for c in tree}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)


def export_csv(tree: CategoryTree) -> str:
    buf = io.StringIO()
    # CRLF rows: a cell holding a carriage return is then quoted, so it cannot split its row.
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for c in tree:
        data = tree.as_overrides(c.label)
        row = {
            "label": c.label, "kind": c.kind, "major_name_zh": c.major_name_zh,
            "name_zh": data["name_zh"], "name_en": data["name_en"],
            "department": data["department"],
            "time_limit_hours": "" if data["time_limit_hours"] is None else f"{data['time_limit_hours']:g}",
            "enabled": "yes" if data["enabled"] else "no", "urgent": "yes" if data["urgent"] else "no",
            "zh": keyword_cell(data["zh"]), "en": keyword_cell(data["en"]),
            "negative": f"{KEYWORD_SEP} ".join(data["negative"]),
        }
        writer.writerow({key: safe_cell(value) for key, value in row.items()})
    return buf.getvalue()


def _flag(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text in ("yes", "true", "1", "是", "y"):
        return True
    if text in ("no", "false", "0", "否", "n", ""):
        return False
    raise CategoryError(f"{where}: {value!r} is not yes/no")


def load_plain_yaml(content: str) -> Any:
    """YAML without anchors or aliases: an alias can repeat a node millions of times (a
    451-byte file became a 52 MB record), and an export never writes one."""
    for event in yaml.parse(content, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.YAMLError("anchors and aliases (&, *) are not accepted")
    return yaml.safe_load(content)


def parse_import(name: str, content: str) -> dict[str, dict[str, Any]]:
    """A CSV or YAML file (as exported) → fields per label. Columns/keys left out stay as they are."""
    if len(content.encode("utf-8")) > MAX_IMPORT_BYTES:
        raise CategoryError(f"{name}: over {MAX_IMPORT_BYTES // 1024 // 1024} MB")
    if name.lower().endswith((".yaml", ".yml")):
        try:
            data = load_plain_yaml(content)
        except yaml.YAMLError as exc:
            raise CategoryError(f"{name}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise CategoryError(f"{name}: expected a mapping of label → fields")
        return {str(k): dict(v or {}) for k, v in data.items()}
    if not name.lower().endswith(".csv"):
        raise CategoryError(f"{name}: expected a .csv or .yaml file")
    out: dict[str, dict[str, Any]] = {}
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff"), newline=""))
    for lineno, cells in enumerate(reader, start=2):
        where = f"{name}:{lineno}"
        row = {key: plain_cell(value) if isinstance(value, str) else value
               for key, value in cells.items()}
        label = (row.get("label") or "").strip()
        if not label:
            raise CategoryError(f"{where}: no label")
        fields: dict[str, Any] = {}
        for key in ("name_zh", "name_en", "department"):
            if row.get(key) is not None:
                fields[key] = row[key].strip()
        if row.get("time_limit_hours") is not None:
            fields["time_limit_hours"] = row["time_limit_hours"].strip() or None
        for key in ("enabled", "urgent"):
            if row.get(key) is not None:
                fields[key] = _flag(row[key], f"{where} {key}")
        for key in ("zh", "en"):
            if row.get(key) is not None:
                fields[key] = parse_keywords(row[key])
        if row.get("negative") is not None:
            fields["negative"] = [w.strip() for w in row["negative"].split(KEYWORD_SEP) if w.strip()]
        out[label] = fields
    return out
