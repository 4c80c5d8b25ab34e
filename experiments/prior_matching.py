"""Transductive prior matching for trained models on TweetEval hate (issue: model quality).

    python experiments/prior_matching.py --data_dir ../shared/tweeteval/hate outputs/experiments/RUN ...

Not a headline number: it reads the unlabelled test texts. The threshold is moved so that the
predicted-hate rate on the test texts equals the training split's hate rate, which measures how
much of the test gap is a shifted decision threshold rather than a wrong ranking.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from probe_features import prior_matched_f1

from hatespeech import HATE
from hatespeech.data import DataArguments, load_splits
from hatespeech.inference import Classifier


def score(classifier: Classifier, splits, prior: float) -> dict:
    """Validation and test macro-F1 at the model's own threshold, and test F1 prior-matched."""
    row = {}
    for split in ("validation", "test"):
        probabilities = classifier.predict_proba(splits[split]["text"])
        predicted = classifier.decide(probabilities).numpy()
        row[f"{split}_macro_f1"] = round(f1_score(splits[split]["label"], predicted, average="macro"), 4)
        row[f"{split}_pred_hate_rate"] = round(float(predicted.mean()), 3)
    hate_scores = probabilities[:, HATE].numpy()
    matched = prior_matched_f1(splits["test"]["label"], hate_scores, prior)
    row["transductive_prior_matched_test_macro_f1"] = round(matched, 4)
    return row


def models_and_splits(description: str) -> tuple[list[str], dict]:
    """The model folders or Hub ids named on the command line, and the TweetEval splits of --data_dir."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data_dir", required=True)
    args = parser.parse_args()
    return args.models, load_splits(DataArguments(data_dir=args.data_dir))


def main():
    models, splits = models_and_splits(__doc__)
    prior = float(np.mean(splits["train"]["label"]))
    for model in models:
        print(json.dumps({"model": model, **score(Classifier(model, backend="fp32"), splits, prior)}), flush=True)


if __name__ == "__main__":
    main()
