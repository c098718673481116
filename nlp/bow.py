"""The spaCy textcat's own prediction, read straight from the tokenizer's words.

``TextCatBOW`` reads a doc as counts of hashed word unigrams and bigrams (``ORTH``) and scores them
with a hashed sparse linear layer and a softmax. For one SMS, building the ``Doc`` (lexemes, token
structs) and passing through thinc's wrapper layers costs more than the scoring, so ``BowScorer``
segments with the pipeline's own tokenizer (spaCy's jieba segmenter, spaCy's word/space
alignment), counts the same n-gram keys and calls the pipeline's own sparse linear layer: the same
float32 numbers as ``textcat.predict`` (tests compare both on the training texts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.util import get_words_and_spaces


class BowScorer:
    """``textcat.predict`` for a jieba-segmented ``TextCatBOW`` pipeline, without docs."""

    def __init__(self, nlp: Language) -> None:
        tokenizer = nlp.tokenizer
        layers = {node.name: node for node in nlp.get_pipe("textcat").model.walk()}
        ngrams = layers.get("extract_ngrams")
        if (getattr(tokenizer, "segmenter", None) != "jieba" or ngrams is None
                or ngrams.attrs["attr"] != ORTH or "sparse_linear" not in layers):
            raise ValueError("expected a jieba-segmented TextCatBOW pipeline keyed on ORTH")
        self._cut = tokenizer.jieba_seg.cut  # type: ignore[attr-defined]
        self._strings = nlp.vocab.strings
        self._ngram_size: int = ngrams.attrs["ngram_size"]
        self._linear = layers["sparse_linear"]

    def words(self, text: str) -> list[str]:
        """The doc's tokens, as spaCy's Chinese tokenizer makes them."""
        words, _ = get_words_and_spaces([w for w in self._cut(text, cut_all=False) if w], text)
        return words

    def _features(self, text: str) -> tuple[list[int], list[int]]:
        """(keys, counts) of the word n-grams, keys ascending as ``extract_ngrams`` gives them (the
        layer sums in that order, so the order matters for equal floats)."""
        unigrams = np.fromiter(map(self._strings.__getitem__, self.words(text)), np.uint64)
        counts = Counter(unigrams.tolist())
        for n in range(2, self._ngram_size + 1):
            counts.update(self._linear.ops.ngrams(n, unigrams).tolist())
        keys = sorted(counts)
        return keys, [counts[k] for k in keys]

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, labels) probabilities in the textcat's label order; no text may be blank."""
        keys: list[int] = []
        counts: list[int] = []
        lengths: list[int] = []
        for text in texts:
            text_keys, text_counts = self._features(text)
            keys += text_keys
            counts += text_counts
            lengths.append(len(text_keys))
        scores = self._linear.predict((np.array(keys, np.uint64), np.array(counts, np.float32),
                                       np.array(lengths, np.int32)))
        return self._linear.ops.softmax(scores)
