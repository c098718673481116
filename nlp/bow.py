"""The spaCy textcat's own prediction, read straight from the tokenizer's words.

``TextCatBOW`` reads a doc as counts of hashed word unigrams and bigrams (``ORTH``) and scores them
with a hashed sparse linear layer and a softmax. For one SMS, building the ``Doc`` (lexemes, token
structs) and passing through thinc's wrapper layers costs more than the scoring, so ``BowScorer``
segments with the pipeline's own tokenizer (spaCy's jieba segmenter, spaCy's word/space
alignment), counts the same n-gram keys and scores them as the sparse linear layer does: the same
float32 numbers as ``textcat.predict`` (tests compare both on the training texts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from murmurhash.mrmr import hash_bytes
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.util import get_words_and_spaces

_UINT32 = 0xFFFFFFFF


class BowScorer:
    """``textcat.predict`` for a jieba-segmented ``TextCatBOW`` pipeline, without docs."""

    def __init__(self, nlp: Language) -> None:
        tokenizer = nlp.tokenizer
        layers = {node.name: node for node in nlp.get_pipe("textcat").model.walk()}
        ngrams = layers.get("extract_ngrams")
        linear = layers.get("sparse_linear")
        if (getattr(tokenizer, "segmenter", None) != "jieba" or ngrams is None
                or ngrams.attrs["attr"] != ORTH or linear is None
                or linear.attrs.get("v1_indexing", True)):
            raise ValueError("expected a jieba-segmented TextCatBOW.v3 pipeline keyed on ORTH")
        self._cut = tokenizer.jieba_seg.cut  # type: ignore[attr-defined]
        self._strings = nlp.vocab.strings
        self._ngram_size: int = ngrams.attrs["ngram_size"]
        self._ops = linear.ops
        self._buckets: int = linear.get_dim("length")
        n_out = linear.get_dim("nO")
        # The layer stores each class's weights as one column of buckets, so a key's weights lie
        # a column apart (one cache line per class); a copy with one row per bucket (18 MB for
        # the shipped model) reads a key's weights as one row. The bias is the last row, the
        # first term of every sum. Filled in place: one allocation of that size, not two.
        self._rows = np.empty((self._buckets + 1, n_out), np.float32)
        self._rows[:-1] = linear.get_param("W").reshape(n_out, self._buckets).T
        self._rows[-1] = linear.get_param("b")

    def words(self, text: str) -> list[str]:
        """The doc's tokens, as spaCy's Chinese tokenizer makes them. Without whitespace in the
        text, spaCy's word/space alignment returns jieba's words as they are: it is skipped."""
        words = [w for w in self._cut(text, cut_all=False) if w]
        if text.split() == [text]:
            return words
        return get_words_and_spaces(words, text)[0]

    def _features(self, text: str) -> tuple[list[int], list[int]]:
        """(keys, counts) of the word n-grams, keys ascending as ``extract_ngrams`` gives them (the
        layer sums in that order, so the order matters for equal floats)."""
        unigrams = np.fromiter(map(self._strings.__getitem__, self.words(text)), np.uint64)
        counts = Counter(unigrams.tolist())
        for n in range(2, self._ngram_size + 1):
            counts.update(self._ops.ngrams(n, unigrams).tolist())
        keys = sorted(counts)
        return keys, [counts[k] for k in keys]

    def _logits(self, text: str, out: np.ndarray) -> None:
        """The sparse linear layer's output for one text, into ``out``: each key's count times the
        weights of its two buckets (MurmurHash3 of the key, seeds 0 and 1), added to the bias in
        the layer's order, one float32 addition at a time."""
        buckets = [self._buckets]  # the bias row, weighted 1
        weights = [1]
        for key, count in zip(*self._features(text), strict=True):
            raw = key.to_bytes(8, "little")
            buckets += ((hash_bytes(raw, 0) & _UINT32) % self._buckets,
                        (hash_bytes(raw, 1) & _UINT32) % self._buckets)
            weights += (count, count)
        terms = self._rows[buckets] * np.array(weights, np.float32)[:, None]
        # along axis 0 numpy adds row after row (no pairwise summation): the layer's order
        np.add.reduce(terms, axis=0, out=out)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, labels) probabilities in the textcat's label order; no text may be blank."""
        logits = np.empty((len(texts), self._rows.shape[1]), np.float32)
        for row, text in zip(logits, texts, strict=True):
            self._logits(text, row)
        return self._ops.softmax(logits)

    def predict_one(self, text: str) -> np.ndarray:
        """One row of ``predict`` as a 1-D array: thinc's softmax done on the row directly."""
        logits = np.empty(self._rows.shape[1], np.float32)
        self._logits(text, logits)
        exp = np.exp(logits - logits.max())
        exp /= exp.sum()
        return exp
