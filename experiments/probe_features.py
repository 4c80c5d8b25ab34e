"""Frozen-feature probes of the base model on TweetEval hate (issue: model quality).

    python experiments/probe_features.py --data_dir ../shared/tweeteval/hate

Embeds every tweet once with the frozen encoder (mean-pooled tokens, and the BERT pooler output
that BertForSequenceClassification's head sees), fits logistic regressions over a grid of C,
selects C on validation macro-F1 only, and reports validation and test macro-F1 for each.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from hatespeech.data import DataArguments, load_splits
from hatespeech.modeling import EMBEDDED_MODEL, resolve_model_path


def embed(model, tokenizer, texts, batch_size=128):
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
    return torch.cat(mean).numpy()[inverse], torch.cat(pooled).numpy()[inverse]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--model", default=EMBEDDED_MODEL)
    args = parser.parse_args()
    splits = load_splits(DataArguments(data_dir=args.data_dir))
    path = resolve_model_path(args.model)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    features = {name: embed(model, tokenizer, ds["text"]) for name, ds in splits.items()}
    labels = {name: np.array(ds["label"]) for name, ds in splits.items()}
    results = {}
    for kind, column in (("mean", 0), ("pooler", 1)):
        best = None
        for c in (0.01, 0.03, 0.1, 0.3, 1, 3, 10):
            clf = LogisticRegression(C=c, max_iter=2000).fit(features["train"][column], labels["train"])
            val = f1_score(labels["validation"], clf.predict(features["validation"][column]), average="macro")
            if best is None or val > best[1]:
                best = (c, val, clf)
        c, val, clf = best
        test_pred = clf.predict(features["test"][column])
        results[kind] = {
            "C": c,
            "val_macro_f1": round(val, 4),
            "test_macro_f1": round(f1_score(labels["test"], test_pred, average="macro"), 4),
            "test_pred_hate_rate": round(float(test_pred.mean()), 3),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
