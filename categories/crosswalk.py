"""Classes between editions (`categories/data/crosswalk.csv`): one row per mapped pair with its
relation (same, renamed, narrower, broader, related) and the basis for it; a class without a
counterpart is listed with relation `none`. Read both ways: CJ/T 214 → 2026 and back."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from categories.tree import NONE_LABEL, _data_path, edition_of

RELATIONS = ("same", "renamed", "narrower", "broader", "related", "none")


@dataclass(frozen=True)
class Mapping:
    from_edition: str
    from_label: str
    to_edition: str
    to_label: str
    relation: str
    basis: str

    def reversed(self) -> Mapping:
        return Mapping(self.to_edition, self.to_label, self.from_edition, self.from_label,
                       self.relation, self.basis)


@cache
def crosswalk() -> tuple[Mapping, ...]:
    with _data_path("crosswalk.csv").open(encoding="utf-8", newline="") as fh:
        rows = tuple(Mapping(r["from_edition"], r["from_label"], r["to_edition"], r["to_label"],
                             r["relation"], r["basis"]) for r in csv.DictReader(fh))
    bad = [r for r in rows if r.relation not in RELATIONS]
    if bad:
        raise ValueError(f"crosswalk.csv: unknown relation {bad[0].relation!r}")
    return rows


def mappings(label: str, to_edition: str) -> list[Mapping]:
    """The rows that carry ``label`` into ``to_edition``, best first (empty: no counterpart)."""
    if label == NONE_LABEL or edition_of(label) == to_edition:
        return [Mapping(to_edition, label, to_edition, label, "same", "same edition")]
    rows = [r if r.from_label == label else r.reversed() for r in crosswalk()
            if (r.from_label == label and r.to_edition == to_edition)
            or (r.to_label == label and r.from_edition == to_edition)]
    return [r for r in rows if r.to_label]


def map_label(label: str, to_edition: str) -> list[str]:
    """``label``'s class(es) in ``to_edition``, best first; [] when it has none there."""
    return [m.to_label for m in mappings(label, to_edition)]


def unmapped(edition: str) -> list[str]:
    """The classes of ``edition`` that have no counterpart in the other edition."""
    return sorted({r.from_label or r.to_label for r in crosswalk() if r.relation == "none"
                   and (r.from_edition if r.from_label else r.to_edition) == edition})
