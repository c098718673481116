"""The classifier's answer in the active catalogue edition: the model speaks CJ/T 214 until it
is retrained; under another edition each label is carried through the crosswalk."""

from __future__ import annotations

from dataclasses import replace

from cases.relabel import category_fields
from categories import NONE_LABEL, CategoryTree
from categories.crosswalk import mappings
from nlp.types import Classification, Scored


def to_edition(tree: CategoryTree, classification: Classification) -> Classification:
    """The first class the crosswalk gives in ``tree``'s edition (evidence says from what and
    why); a class without a counterpart keeps its label, which the tree does not know, so the
    case goes to review."""
    edition = tree.edition
    if classification.label == NONE_LABEL:
        return classification
    found = mappings(classification.label, edition)
    evidence = {**classification.evidence, "crosswalk": {
        "from": classification.label, "to": found[0].to_label if found else None,
        "relation": found[0].relation if found else "none"}}
    top = [Scored(_first(s.label, edition), s.score) for s in classification.top]
    if not found:
        return replace(classification, evidence=evidence, top=top)
    fields = category_fields(tree.get(found[0].to_label))
    return replace(classification, label=found[0].to_label, kind=fields["kind"],
                   major=fields["major"], minor=fields["minor"], name=fields["name_zh"],
                   name_en=fields["name_en"], evidence=evidence, top=top)


def _first(label: str, edition: str) -> str:
    found = mappings(label, edition) if label != NONE_LABEL else []
    return found[0].to_label if found else label
