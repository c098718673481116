"""Classify residents' free text onto the component/event tree and pull out place and phone.

One API for the conversation engine, the hotline path, the CLI and the admin UI:
``get_classifier().classify(text)`` or, following administrators' keyword edits,
``ClassifierHub(load, version).current().classify(text)``; the distinct problems of one message:
``find_problems(classifier, text)``.
"""

from __future__ import annotations

from nlp.classifier import Classifier, ClassifierHub, get_classifier
from nlp.evaluate import evaluate
from nlp.extract import extract_phones, extract_place
from nlp.problems import Problem, find_problems
from nlp.transcript import extract_transcript_citizen_text
from nlp.types import Classification, Scored

__all__ = [
    "Classification",
    "Classifier",
    "ClassifierHub",
    "Problem",
    "Scored",
    "evaluate",
    "extract_phones",
    "extract_place",
    "extract_transcript_citizen_text",
    "find_problems",
    "get_classifier",
]
