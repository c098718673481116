"""A character n-gram logistic regression: the ensemble's second trained model, beside the spaCy
word textcat.

Characters carry what word segmentation loses on residents' text — typos, dialect spellings
(马葫芦), words jieba never saw — so the model reads TF-IDF weighted 1–3-grams of characters
within words (padded with a space at each end, as scikit-learn's ``char_wb``), L2-normalised, and
scores them with a multinomial logistic regression. Training (L-BFGS, scipy) runs offline or in
the admin's retrain; prediction is a dictionary lookup and a sum of weight rows in numpy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

NGRAM_RANGE = (1, 3)
C = 20.0  # inverse L2 strength, as scikit-learn's LogisticRegression(C=...)
MIN_DF = 2  # n-grams seen in one training text only are noise (and half the vocabulary)
MAX_ITER = 300


def char_ngrams(text: str) -> list[str]:
    """Character n-grams of each whitespace-separated word, padded with a space at both ends."""
    low, high = NGRAM_RANGE
    grams = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in range(low, high + 1):
            grams += [padded[i:i + n] for i in range(len(padded) - n + 1)]
    return grams


def tfidf(text: str, index: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of the n-grams in ``index``: sublinear tf × idf, L2-normalised, in the
    dtype of ``idf`` (float64 for training, float32 at run time)."""
    counts = Counter(map(index.get, char_ngrams(text)))
    counts.pop(None, None)  # n-grams the vocabulary does not know
    if not counts:
        return np.empty(0, np.int64), np.empty(0, idf.dtype)
    cols = np.fromiter(counts, np.int64, len(counts))
    values = (1.0 + np.log(np.fromiter(counts.values(), idf.dtype, len(counts)))) * idf[cols]
    return cols, values / np.sqrt(values.dot(values))  # np.linalg.norm's formula, without its checks


class CharLinearModel:
    """Label → probability for texts; ``fit`` trains one, ``save``/``load`` keep it in one file."""

    def __init__(self, labels: Sequence[str], vocab: Sequence[str], idf: np.ndarray,
                 weights: np.ndarray, bias: np.ndarray) -> None:
        self.labels = tuple(labels)
        self.index = {gram: i for i, gram in enumerate(vocab)}
        self.idf = idf.astype(np.float32)
        self.weights = weights.astype(np.float32)  # (n-grams, labels)
        self.bias = bias.astype(np.float32)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, TF-IDF values) of the known n-grams, sublinear tf, L2-normalised."""
        return tfidf(text, self.index, self.idf)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, labels) probabilities; a row of NaN where the text has no known n-gram."""
        out = np.full((len(texts), len(self.labels)), np.nan)
        for row, text in enumerate(texts):
            probs = self.probability(text)
            if probs is not None:
                out[row] = probs
        return out

    def probability(self, text: str) -> np.ndarray | None:
        """One text's probabilities (float32), None when it has no known n-gram."""
        cols, values = self.features(text)
        if not len(cols):
            return None
        logits = values @ self.weights[cols] + self.bias
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Label → probability per text; ``{}`` where no n-gram is known."""
        return [dict(zip(self.labels, row, strict=True)) if row[0] == row[0] else {}
                for row in self.probabilities(texts).tolist()]

    @classmethod
    def fit(cls, texts: Sequence[str], targets: Sequence[str], c: float = C,
            min_df: int = MIN_DF, max_iter: int = MAX_ITER) -> CharLinearModel:
        """Multinomial logistic regression, L2-penalised (bias free), by L-BFGS; deterministic."""
        from scipy.optimize import minimize
        from scipy.sparse import csr_matrix

        labels = sorted(set(targets))
        df = Counter(g for t in texts for g in set(char_ngrams(t)))
        vocab = sorted(g for g, k in df.items() if k >= min_df)
        index = {g: i for i, g in enumerate(vocab)}
        idf = np.array([math.log((1 + len(texts)) / (1 + df[g])) + 1.0 for g in vocab])
        rows, cols, vals = [], [], []
        for r, text in enumerate(texts):
            columns, values = tfidf(text, index, idf)
            rows.extend([r] * len(columns))
            cols.extend(columns.tolist())
            vals.extend(values.tolist())
        x = csr_matrix((vals, (rows, cols)), shape=(len(texts), len(vocab)))
        x_t = x.T.tocsr()
        y = np.zeros((len(texts), len(labels)))
        y[np.arange(len(texts)), [labels.index(t) for t in targets]] = 1.0
        shape = (len(vocab), len(labels))

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = params[:-len(labels)].reshape(shape), params[-len(labels):]
            z = x @ w + b
            z -= z.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            diff = np.exp(log_p) - y
            value = -c * float((y * log_p).sum()) + 0.5 * float((w * w).sum())
            grad_w = c * (x_t @ diff) + w
            return value, np.concatenate([grad_w.ravel(), c * diff.sum(axis=0)])

        start = np.zeros(shape[0] * shape[1] + len(labels))
        result = minimize(loss, start, jac=True, method="L-BFGS-B",
                          options={"maxiter": max_iter, "maxcor": 5})
        params = result.x
        return cls(labels, vocab, idf, params[:-len(labels)].reshape(shape), params[-len(labels):])

    def save(self, path: Path) -> None:
        vocab = sorted(self.index, key=self.index.__getitem__)
        np.savez_compressed(path, labels=np.array(self.labels), vocab=np.array(vocab),
                            idf=self.idf, weights=self.weights.astype(np.float16), bias=self.bias)

    @classmethod
    def load(cls, path: Path) -> CharLinearModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["labels"].tolist(), data["vocab"].tolist(), data["idf"],
                       data["weights"], data["bias"])
