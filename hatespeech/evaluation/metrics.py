"""Scores for the Trainer and for evaluation, through the repository's `evaluate` module."""

import importlib
import sys
from functools import cache
from pathlib import Path

import numpy as np
from transformers import EvalPrediction

from hatespeech import HATE
from hatespeech.config import REPO_ROOT

METRIC_PATH = Path(__file__).parent / "tweeteval_metric"


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
    probabilities = _probabilities(eval_prediction)
    return score(eval_prediction.label_ids, probabilities.argmax(-1), probabilities[:, HATE])


def source_macro_f1(labels, predicted, sources) -> dict[str, float]:
    """Each source's macro-F1, and under ``mean`` their unweighted mean: the selection rule when
    several sources train a model (a large source must not outvote the others)."""
    from sklearn.metrics import f1_score

    labels, predicted, sources = np.asarray(labels), np.asarray(predicted), np.asarray(sources)
    # A source with one label (the intervention replies: all non-hateful) has no macro-F1 worth the name (its
    # hate F1 is 0 whatever the model does): it is left out of the mean; the panel reports its accuracy.
    per_source = {
        name: float(f1_score(labels[sources == name], predicted[sources == name], average="macro", labels=[0, 1]))
        for name in sorted(set(sources.tolist()))
        if len(set(labels[sources == name].tolist())) == 2
    }
    return {**per_source, "mean": float(np.mean(list(per_source.values())))}


def metrics_for_sources(validation_sources: list[str]):
    """Trainer hook for a multi-source validation set (rows in input order): ``macro_f1`` is the mean of
    the sources' macro-F1 (what selects checkpoints, stops early and scores Optuna trials)."""

    def compute(eval_prediction: EvalPrediction) -> dict[str, float]:
        probabilities = _probabilities(eval_prediction)
        predicted = probabilities.argmax(-1)
        scores = score(eval_prediction.label_ids, predicted, probabilities[:, HATE])
        per_source = source_macro_f1(eval_prediction.label_ids, predicted, validation_sources)
        pooled = scores.pop("macro_f1")
        return {**scores, "pooled_macro_f1": pooled, "macro_f1": per_source.pop("mean"),
                **{f"{name}_macro_f1": value for name, value in per_source.items()}}  # fmt: skip

    return compute


def _probabilities(eval_prediction: EvalPrediction) -> np.ndarray:
    logits = eval_prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    return softmax(logits.astype(np.float64))
