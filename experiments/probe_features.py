"""Frozen-feature probes of the base model on TweetEval hate (issue: model quality).

    python experiments/probe_features.py --data_dir ../shared/tweeteval/hate

Embeds every tweet once with the frozen encoder: mean-pooled tokens, the BERT pooler output that
BertForSequenceClassification's head sees, and the sentence embedding the model was trained to
produce (mean-pooled, L2-normalised). Fits logistic regressions (and an RBF SVM on the sentence
embedding, as the HatEval 2019 winner did) over a grid of C, selects C on validation macro-F1 only,
and reports validation and test macro-F1 for each. The last column is a transductive variant, not
a headline number: the threshold is moved so that the predicted-hate rate on the unlabelled test
texts equals the training split's hate rate.
"""

import argparse
import json

import numpy as np
import torch
from common import prior_matched_f1
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.svm import SVC
from transformers import AutoModel, AutoTokenizer

from hatespeech.data.loading import DataArguments, load_splits
from hatespeech.modeling import EMBEDDED_MODEL, resolve_model_path

GRID = (0.1, 0.3, 1, 3, 10, 30)


def embed(model, tokenizer, texts, batch_size=128):
    """Mean-pooled, pooler and L2-normalised mean-pooled features, in input order."""
    mean, pooled = [], []
    order = np.argsort([len(t) for t in texts])
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
            out = model(**enc)
            mask = enc["attention_mask"].unsqueeze(-1).float()
            mean.append((out.last_hidden_state.float() * mask).sum(1) / mask.sum(1))
            pooled.append(out.pooler_output.float())
    inverse = np.argsort(order)
    mean, pooled = torch.cat(mean).numpy()[inverse], torch.cat(pooled).numpy()[inverse]
    return {"mean": mean, "pooler": pooled, "sentence": mean / np.linalg.norm(mean, axis=1, keepdims=True)}


def select_on_validation(make, features, labels):
    """The classifier over GRID with the best validation macro-F1."""
    best = None
    for c in GRID:
        clf = make(c).fit(features["train"], labels["train"])
        val = f1_score(labels["validation"], clf.predict(features["validation"]), average="macro")
        if best is None or val > best[1]:
            best = (c, val, clf)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--model", default=EMBEDDED_MODEL)
    args = parser.parse_args()
    splits = load_splits(DataArguments(data_dir=args.data_dir))
    path = resolve_model_path(args.model)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    embedded = {name: embed(model, tokenizer, ds["text"]) for name, ds in splits.items()}
    labels = {name: np.array(ds["label"]) for name, ds in splits.items()}
    probes = [
        ("mean + LR", "mean", lambda c: LogisticRegression(C=c, max_iter=5000)),
        ("pooler + LR", "pooler", lambda c: LogisticRegression(C=c, max_iter=5000)),
        ("sentence + LR", "sentence", lambda c: LogisticRegression(C=c, max_iter=5000)),
        ("sentence + RBF SVM", "sentence", lambda c: SVC(C=c, kernel="rbf", gamma="scale")),
    ]
    for name, kind, make in probes:
        features = {split: embedded[split][kind] for split in splits}
        c, val, clf = select_on_validation(make, features, labels)
        test_pred = clf.predict(features["test"])
        scores = clf.decision_function(features["test"])
        row = {
            "probe": name,
            "C": c,
            "val_macro_f1": round(val, 4),
            "test_macro_f1": round(f1_score(labels["test"], test_pred, average="macro"), 4),
            "test_pred_hate_rate": round(float(test_pred.mean()), 3),
            "transductive_prior_matched_test_macro_f1": round(
                prior_matched_f1(labels["test"], scores, labels["train"].mean()), 4
            ),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
