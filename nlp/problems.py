"""Several problems in one message: one entry per distinct problem (another class or another
place), in the order the resident wrote them.

The message is cut into statements (sentences, and clauses opened by 另外/还有/此外/also …);
greetings, formulas and thanks are dropped (``nlp.letter``). Each statement is classified; one
that names its class by a keyword, or that the classifier is sure of, can open a problem, the
others join the problem before them (they add detail, not a new problem). Statements with the same
class and no conflicting place are one problem. Each problem's text is then classified once more
as a whole, for its label, confidence and place. A message that is not a city problem has none.

The conversation engine and the hotline call ``find_problems(classifier, text)`` and file one case
per entry.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Protocol

from categories import NONE_LABEL
from nlp.letter import MAX_SENTENCES, READ_AT_MOST, SHORT, score, sentences, strip_greeting
from nlp.types import Classification

OPENS_A_PROBLEM = 0.6  # confidence at which a statement without a keyword opens a problem
_CLAUSE = re.compile(r"[，,]\s*(?=(?:另外|此外|还有|再有|再就是|同时还|另一个|其次|以及|"
                     r"also\b|another\b|plus\b|and also\b|as well as\b))", re.IGNORECASE)


class _Classifies(Protocol):
    def classify_many(self, texts: list[str], lang: str | None = None) -> list[Classification]: ...

    def keyword_labels(self, text: str) -> set[str]: ...


@dataclass(frozen=True)
class Problem:
    text: str  # the statements of this problem, as written
    label: str
    confidence: float
    place_text: str | None

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["confidence"] = round(self.confidence, 4)
        return data


def _no_keywords(_: str) -> float:
    return 0.0


def statements(text: str) -> list[str]:
    """The sentences and the clauses opened by a connective, without greetings and formulas."""
    out = []
    for sentence in sentences(text[:READ_AT_MOST])[:MAX_SENTENCES]:
        for clause in _CLAUSE.split(strip_greeting(sentence)):
            clause = clause.strip(" ，,")
            if clause and score(clause, _no_keywords) > -1.0:  # not a bare formula or background
                out.append(clause)
    return out


def find_problems(classifier: _Classifies, text: str) -> list[Problem]:
    """One ``Problem`` per distinct problem in ``text`` (class or place), in order; ``[]`` when
    the message is not a city problem."""
    parts = statements(text) if len(text) > SHORT or _CLAUSE.search(text) else [text]
    if len(parts) <= 1:
        return _as_problems(classifier, [text])
    results = classifier.classify_many(parts)
    groups: list[tuple[str, str | None, list[str]]] = []  # label, place, statements
    for part, result in zip(parts, results, strict=True):
        opens = result.label != NONE_LABEL and (
            result.label in classifier.keyword_labels(part) or result.confidence >= OPENS_A_PROBLEM)
        same = next((g for g in groups if g[0] == result.label
                     and (result.place_text is None or g[1] in (None, result.place_text))), None)
        if same is not None:
            same[2].append(part)
            if same[1] is None and result.place_text:
                groups[groups.index(same)] = (same[0], result.place_text, same[2])
        elif opens or not groups:
            groups.append((result.label, result.place_text, [part]))
        else:
            groups[-1][2].append(part)
    return _as_problems(classifier, [" ".join(g[2]) for g in groups])


def _as_problems(classifier: _Classifies, texts: list[str]) -> list[Problem]:
    """Classify each problem's text as a whole; drop ``none``, merge repeats of a class and place."""
    problems: list[Problem] = []
    for text, result in zip(texts, classifier.classify_many(texts), strict=True):
        if result.label == NONE_LABEL:
            continue
        same = next((i for i, p in enumerate(problems) if p.label == result.label
                     and (result.place_text is None or p.place_text in (None, result.place_text))),
                    None)
        if same is None:
            problems.append(Problem(text, result.label, result.confidence, result.place_text))
        else:
            old = problems[same]
            problems[same] = Problem(f"{old.text} {text}", old.label,
                                     max(old.confidence, result.confidence),
                                     old.place_text or result.place_text)
    return problems
