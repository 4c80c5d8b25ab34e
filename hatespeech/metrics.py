"""Scores for the Trainer and for evaluation, through the repository's `evaluate` module."""

import importlib
import sys
from functools import cache
from pathlib import Path

import numpy as np
from transformers import EvalPrediction

from hatespeech.config import REPO_ROOT

METRIC_PATH = Path(__file__).parent / "tweeteval_metric"
HEADLINE = "macro_f1"


def evaluate_library():
    """The `evaluate` library, not this repository's ``evaluate.py`` script of the same name.

    Running ``python train.py`` (or pytest) puts the repository root first on ``sys.path``,
    where ``import evaluate`` would find the script; the library is imported with it hidden.
    """
    module = sys.modules.get("evaluate")
    if module is not None and Path(getattr(module, "__file__", "")).resolve().parent != REPO_ROOT:
        return module
    sys.modules.pop("evaluate", None)
    saved = sys.path[:]
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != REPO_ROOT]
    try:
        return importlib.import_module("evaluate")
    finally:
        sys.path[:] = saved


@cache
def load_metric():
    """The TweetEval hate metric, loaded from its local folder (Hub metric scripts need network)."""
    return evaluate_library().load(str(METRIC_PATH))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def score(references, predictions, hate_scores=None) -> dict[str, float]:
    """All TweetEval hate scores for one set of predictions."""
    return load_metric().compute(predictions=predictions, references=references, hate_scores=hate_scores)


def compute_metrics(eval_prediction: EvalPrediction) -> dict[str, float]:
    """Trainer hook: logits in, TweetEval scores out (``macro_f1`` selects the best checkpoint)."""
    logits = eval_prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    probabilities = softmax(logits.astype(np.float64))
    return score(eval_prediction.label_ids, probabilities.argmax(-1), probabilities[:, 1])
