"""What the experiments share: reading models and splits from the command line, and scoring them."""

import argparse

import numpy as np
from sklearn.metrics import f1_score

from hatespeech import HATE
from hatespeech.data.loading import DataArguments, load_splits
from hatespeech.inference.classifier import Classifier


def prior_matched_f1(labels, scores, prior) -> float:
    """Transductive: flag the top ``prior`` fraction of the scored texts as hate."""
    predicted = (scores >= np.quantile(scores, 1 - prior)).astype(int)
    return f1_score(labels, predicted, average="macro")


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
