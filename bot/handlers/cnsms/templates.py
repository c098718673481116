"""Which approved template says a reply, and its parameters checked against the provider's
variable rules before anything is sent (data/templates.yaml): a value the provider would refuse
fails here, with the reason, instead of at the provider."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


class TemplateError(ValueError):
    """The message cannot go as an approved template (none for it, or a parameter it refuses)."""


@cache
def table() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", "templates.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@dataclass(frozen=True)
class Filled:
    code: str  # the provider's template code or id
    params: dict[str, str]  # in the template's order


def check(provider: str, kind: str, name: str, value: str) -> None:
    rule = table()["limits"][provider][kind]
    if not value:
        raise TemplateError(f"{name} is empty; {provider} refuses an empty variable")
    if len(value) > rule["max_chars"]:
        raise TemplateError(f"{name} is {len(value)} characters; {provider} allows "
                            f"{rule['max_chars']} in a {kind} variable")
    if "pattern" in rule and not re.fullmatch(rule["pattern"], value):
        raise TemplateError(f"{name}={value!r}: {provider} allows only {rule['pattern']} here")
    for banned in table()["forbidden"]:
        if banned in value.lower():
            raise TemplateError(f"{name} contains {banned!r}, which {provider} refuses in a variable")


def fill(provider: str, template: dict[str, Any] | None) -> Filled:
    """``template``: the outbox payload's {"key", "values"} (the catalog entry of the text)."""
    key = (template or {}).get("key")
    entry = table()["templates"].get(key) if key else None
    if entry is None or provider not in entry:
        raise TemplateError(f"no approved {provider} template for the reply {key!r}")
    values, kinds = template.get("values") or {}, entry.get("kinds", {})
    params = {}
    for name in entry["params"]:
        value = str(values.get(name, ""))
        check(provider, kinds.get(name, "other"), name, value)
        params[name] = value
    return Filled(str(entry[provider]), params)
