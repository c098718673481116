"""The services we offer: one per enabled class of the category tree, its `service_code` the
one our Open311 sink sends (`cases.open311.service_code`), so two gridintakes speak alike."""

from __future__ import annotations

from typing import Any

from bot.handlers.open311.render import Open311Error
from cases.open311 import service_code
from categories import Category, CategoryTree

# The one attribute every service takes: may the city contact the reporter? Without it, or with
# "false", contact details stay with us (cases.document masks them).
CONSENT = "consent"
CONSENT_ATTRIBUTE = {
    "variable": True, "code": CONSENT, "datatype": "singlevaluelist", "required": False,
    "datatype_description": "true or false",
    "order": 1,
    "description": "可否将您的联系方式转交处置部门 May the city contact you with these details?",
    "values": [{"key": "true", "name": "同意 Yes"}, {"key": "false", "name": "不同意 No"}],
}


def code_of(category: Category) -> str:
    return service_code(category.label, category.kind, category.major, category.minor)


def label_of(tree: CategoryTree, code: str) -> str:
    """The class a service_code names; 404 in the spec's words when none does."""
    for category in tree.enabled():
        if code_of(category) == code:
            return category.label
    raise Open311Error(404, f"service_code {code} was not found")


def service(tree: CategoryTree, category: Category) -> dict[str, Any]:
    keywords = [k.text for k in category.keywords()]
    return {
        "service_code": code_of(category),
        "service_name": category.name_zh,
        "description": category.name_en,
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys(keywords)),
        "group": tree.majors.get((category.kind, category.major), category.major_name_zh),
    }


def services(tree: CategoryTree) -> list[dict[str, Any]]:
    return [service(tree, c) for c in tree.enabled()]


def definition(tree: CategoryTree, code: str) -> dict[str, Any]:
    label_of(tree, code)
    return {"service_code": code, "attributes": [CONSENT_ATTRIBUTE]}
