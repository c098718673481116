"""What the engine counts for Prometheus (served at the gateway's /metrics): messages in by
channel and outcome, the classifier's confidence, and whether the resident was asked to pick
the class or the report went on at once.

Under gunicorn each worker writes these to the directory named by PROMETHEUS_MULTIPROC_DIR
(set by `gridintake serve` before anything imports prometheus-client); a scrape sums them."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

INBOUND = Counter("gridintake_inbound_messages", "Inbound messages by channel and outcome "
                  "(processed, rejected, failed, replayed, refused)", ["channel", "outcome"])
CONFIDENCE = Histogram("gridintake_classification_confidence",
                       "The classifier's confidence in a resident's description",
                       buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0))
DECISIONS = Counter("gridintake_classification_decisions", "What followed a classification: "
                    "asked (the resident picks the class), filed (went on), none (not a city "
                    "problem)", ["decision"])
