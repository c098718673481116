"""spaCy tokenisers: blank ``zh`` segmented by jieba, blank ``en``.

Category keywords and gazetteer names go into jieba's user dictionary so that "马葫芦" or
"淇滨大道" stay one token for the text classifier and the matchers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import lru_cache

import jieba
import spacy
from spacy.language import Language

jieba.setLogLevel(logging.WARNING)

_added: set[str] = set()
_lock = threading.Lock()


def add_words(words: Iterable[str]) -> int:
    """Add words to jieba's dictionary (idempotent); returns how many were new."""
    new = 0
    with _lock:
        for word in words:
            word = word.strip()
            if len(word) < 2 or word in _added or not _has_han(word):
                continue
            jieba.add_word(word, freq=2000)
            _added.add(word)
            new += 1
    return new


def _has_han(word: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in word)


@lru_cache(maxsize=1)
def gazetteer_names() -> tuple[str, ...]:
    """Road, landmark and 小区 names from ``geo`` when it is installed; empty otherwise."""
    try:
        from geo import gazetteer_names as names  # type: ignore[attr-defined]
    except ImportError:
        return ()
    try:
        return tuple(n for n in names() if n)
    except Exception:  # geo data missing or broken must not stop classification
        logging.getLogger(__name__).warning("gazetteer names unavailable", exc_info=True)
        return ()


@lru_cache(maxsize=1)
def zh_nlp() -> Language:
    jieba.initialize()
    add_words(gazetteer_names())
    return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})


@lru_cache(maxsize=1)
def en_nlp() -> Language:
    return spacy.blank("en")


def blank(lang: str) -> Language:
    return en_nlp() if lang == "en" else zh_nlp()
