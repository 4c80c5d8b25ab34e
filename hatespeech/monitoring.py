"""Drift after deployment: reference statistics from training, a rolling window of served predictions, and
the population stability index (PSI) between them, exposed on ``/metrics`` for Prometheus.

Statistics (training: over the validation splits; serving: over the last ``DRIFT_WINDOW`` predictions,
1000 by default): the predicted-hate rate, the histogram of the hate probability (10 equal bins), the
histogram of token lengths (:data:`LENGTH_EDGES`) and the share of ``[UNK]`` tokens. PSI =
sum over bins of (window - reference) * ln(window / reference), shares floored at 1e-4; the usual
reading is < 0.1 stable, 0.1-0.25 moderate, > 0.25 a significant shift (``monitoring/alerts.yml``
alerts above 0.25 for 10 minutes). The predicted-hate rate needs no labels, so it is watched too.
"""

import json
import logging
import math
import threading
from collections import deque
from collections.abc import Sequence

from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

PROBABILITY_BINS = 10
LENGTH_EDGES = (8, 16, 24, 32, 48, 64, 96)  # token-length bin upper bounds; the last bin is open
FLOOR = 1e-4
DEFAULT_WINDOW = 1000
# The window is copied at each /metrics scrape: 100,000 predictions take ~10 MB and ~0.1 s a scrape; a million
# took ~100 MB and blocked the server for a second at each scrape.
MAX_WINDOW = 100_000


def _histogram(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """Shares of ``values`` in bins closed on the right at ``edges``, plus an open last bin."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[next((i for i, edge in enumerate(edges) if value <= edge), len(edges))] += 1
    total = max(len(values), 1)
    return [count / total for count in counts]


PROBABILITY_EDGES = tuple((i + 1) / PROBABILITY_BINS for i in range(PROBABILITY_BINS - 1))


def statistics(hate: Sequence[float], tokens: Sequence[int], unknown: Sequence[int]) -> dict:
    """The monitored statistics of a set of predictions."""
    return {
        "n": len(hate),
        "pred_hate_rate": sum(p >= 0.5 for p in hate) / max(len(hate), 1),
        "probability_histogram": _histogram(hate, PROBABILITY_EDGES),
        "length_histogram": _histogram(tokens, LENGTH_EDGES),
        "unknown_share": sum(unknown) / max(sum(tokens), 1),
    }


def psi(reference: Sequence[float], window: Sequence[float]) -> float:
    """Population stability index of two histograms given as shares."""
    pairs = [(max(r, FLOOR), max(w, FLOOR)) for r, w in zip(reference, window, strict=True)]
    return float(sum((w - r) * math.log(w / r) for r, w in pairs))


class DriftWindow:
    """The last ``size`` served predictions' hate probability, token count and unknown-token count."""

    def __init__(self, size: int = DEFAULT_WINDOW):
        self.rows: deque[tuple[float, int, int]] = deque(maxlen=size)
        self.lock = threading.Lock()

    def add(self, hate: float, tokens: int, unknown: int) -> None:
        with self.lock:
            self.rows.append((hate, tokens, unknown))

    def statistics(self) -> dict:
        with self.lock:
            rows = list(self.rows)
        return statistics([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def drift(reference: dict, window: dict) -> dict[str, float]:
    """PSI of each histogram, window against reference."""
    return {
        name: psi(reference[f"{name}_histogram"], window[f"{name}_histogram"]) for name in ("probability", "length")
    }


class DriftCollector:
    """Prometheus collector: the window's statistics, the reference's, and their PSI, computed at scrape time."""

    def __init__(self, window: DriftWindow, reference: dict | None):
        self.window, self.reference = window, reference

    def collect(self):
        current = self.window.statistics()
        yield GaugeMetricFamily("hatespeech_window_predictions", "Predictions in the drift window", current["n"])
        yield GaugeMetricFamily("hatespeech_window_pred_hate_rate", "Predicted-hate rate in the drift window",
                                current["pred_hate_rate"])  # fmt: skip
        yield GaugeMetricFamily("hatespeech_window_unknown_share", "Share of [UNK] tokens in the drift window",
                                current["unknown_share"])  # fmt: skip
        if self.reference is None:  # a model published without reference statistics: no drift to compute
            return
        yield GaugeMetricFamily("hatespeech_reference_pred_hate_rate", "Predicted-hate rate on validation",
                                self.reference["pred_hate_rate"])  # fmt: skip
        yield GaugeMetricFamily("hatespeech_reference_unknown_share", "Share of [UNK] tokens on validation",
                                self.reference["unknown_share"])  # fmt: skip
        family = GaugeMetricFamily("hatespeech_drift_psi", "PSI of the window against the reference",
                                   labels=["statistic"])  # fmt: skip
        for name, value in drift(self.reference, current).items():
            family.add_metric([name], value)
        yield family


def read_reference(raw: bytes) -> dict | None:
    """``reference.json`` as written by training; None (drift off, with one logged line) when it is not usable:
    not UTF-8 JSON, not an object, a rate that is not a number in [0, 1], or a histogram with the wrong number
    of bins or shares that are not finite numbers in [0, 1] (a NaN would make every PSI NaN, so drift could
    never alert)."""
    try:
        reference = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        return _unusable(f"not UTF-8 JSON ({type(err).__name__})")
    if not isinstance(reference, dict):
        return _unusable("not a JSON object")
    bins = {"probability_histogram": PROBABILITY_BINS, "length_histogram": len(LENGTH_EDGES) + 1}
    for key in ("pred_hate_rate", "unknown_share", *bins):
        values = reference.get(key)
        values = values if key in bins and isinstance(values, list) else [values]
        if key in bins and len(values) != bins[key]:
            return _unusable(f"{key} needs {bins[key]} shares, it has {len(values)}")
        if not all(_share(value) for value in values):
            return _unusable(f"{key} holds a value that is not a number between 0 and 1")
    return reference


def _share(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1


def _unusable(why: str) -> None:
    logger.warning("reference.json is not usable (%s): drift metrics are off", why)
    return None
