"""Does a validation-tuned decision threshold generalise? (issue: model quality)

    python experiments/threshold_check.py --data_dir ../shared/tweeteval/hate outputs/experiments/RUN ...

For each trained model: the threshold ``--tune_threshold`` would pick on the whole validation split,
macro-F1 at it and at 0.5 on validation and test, and the decision evidence that uses validation
only: the threshold is chosen on one random half of validation and scored on the other half
(50 random 2-fold splits), against 0.5 on the same half.
"""

import json

import numpy as np
from common import models_and_splits
from sklearn.metrics import f1_score

from hatespeech import HATE
from hatespeech.inference.classifier import Classifier
from hatespeech.training.threshold import best_threshold


def macro_f1(labels, p_hate, threshold) -> float:
    return f1_score(labels, p_hate >= threshold, average="macro")


def held_out_gains(labels, p_hate, repeats: int = 50, seed: int = 0) -> np.ndarray:
    """Macro-F1 gain of a half-tuned threshold over 0.5 on the other half of validation."""
    rng, gains = np.random.default_rng(seed), []
    for _ in range(repeats):
        order = rng.permutation(len(labels))
        halves = order[: len(order) // 2], order[len(order) // 2 :]
        for fit, held in (halves, halves[::-1]):
            threshold = best_threshold(labels[fit], p_hate[fit])
            gains.append(macro_f1(labels[held], p_hate[held], threshold) - macro_f1(labels[held], p_hate[held], 0.5))
    return np.array(gains)


def main():
    models, splits = models_and_splits(__doc__)
    labels = {split: np.array(splits[split]["label"]) for split in ("validation", "test")}
    for model in models:
        classifier = Classifier(model, backend="fp32")
        p_hate = {split: classifier.predict_proba(splits[split]["text"])[:, HATE].numpy() for split in labels}
        threshold = best_threshold(labels["validation"], p_hate["validation"])
        gains = held_out_gains(labels["validation"], p_hate["validation"])
        row = {"model": model, "val_threshold": threshold}
        for split in labels:
            row[f"{split}_f1_at_0.5"] = round(macro_f1(labels[split], p_hate[split], 0.5), 4)
            row[f"{split}_f1_at_threshold"] = round(macro_f1(labels[split], p_hate[split], threshold), 4)
        row.update(
            held_out_val_gain_mean=round(float(gains.mean()), 4), held_out_val_gain_std=round(float(gains.std()), 4)
        )
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
