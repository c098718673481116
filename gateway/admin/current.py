"""The classifier for the current keyword version, fresh even within the hub's check interval."""

from __future__ import annotations

from gateway.admin.security import runtime
from nlp.classifier import HubClassifier
from storage.catalog import effective_tree, keyword_version
from storage.db import transaction


def current_classifier() -> HubClassifier:
    """An administrator who just saved a keyword sees its effect on the next page, not a second later."""
    rt = runtime()
    hub_classifier = rt.classifiers.current()
    with transaction(rt.sessions) as db:
        if keyword_version(db) == hub_classifier.version:
            return hub_classifier
        tree = effective_tree(db, rt.base_tree)
    fresh = HubClassifier(tree, model=hub_classifier.model)  # the active trained model, not the shipped one
    fresh.model_version = hub_classifier.model_version
    return fresh
