"""WiSE-FT (Wortsman et al., CVPR 2022) on LP-FT runs of TweetEval hate (issue: model quality).

    python experiments/wise_ft.py --data_dir ../shared/tweeteval/hate outputs/experiments/lpft-lr1e-5-seed42 ...

Rebuilds each run's starting point (the frozen encoder with the logistic-regression head LP-FT
fitted first), interpolates every weight between it (alpha 0) and the fine-tuned model (alpha 1),
and prints validation and test macro-F1 for each alpha.
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import yaml
from common import score
from transformers import AutoModelForSequenceClassification

from hatespeech.data.loading import DataArguments, load_splits
from hatespeech.inference.classifier import Classifier
from hatespeech.modeling import ModelArguments, get_model, get_tokenizer
from hatespeech.training.linear_probe import fit_probe, pooled_features, set_head
from hatespeech.training.steps import tokenize


def starting_point(run: Path, splits):
    """The LP stage of an LP-FT run: pretrained encoder, head = the logistic regression it fitted."""
    config = yaml.safe_load((run / "run_config.yaml").read_text())
    model_args = ModelArguments(model_name_or_path=config["model_name_or_path"])
    tokenizer = get_tokenizer(model_args)
    model = get_model(model_args)
    train = tokenize(splits, tokenizer, config["max_seq_length"])["train"]
    features = pooled_features(model, train, tokenizer)
    set_head(model, fit_probe(features, np.asarray(train["label"]), config["linear_probe_c"], config["seed"]))
    return model


def interpolate(start, end, alpha):
    """Weights (1 - alpha) * start + alpha * end, in a copy of ``end``'s architecture."""
    end_weights = end.state_dict()
    mixed = {
        name: (1 - alpha) * weight + alpha * end_weights[name] if weight.is_floating_point() else weight
        for name, weight in start.state_dict().items()
    }
    model = AutoModelForSequenceClassification.from_config(end.config)
    model.load_state_dict(mixed)
    return model


def scores(model, tokenizer, splits, folder: Path) -> dict:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return score(Classifier(str(folder), backend="fp32"), splits, float(np.mean(splits["train"]["label"])))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--alphas", default="0,0.2,0.4,0.5,0.6,0.8,1")
    args = parser.parse_args()
    splits = load_splits(DataArguments(data_dir=args.data_dir))
    for run in args.runs:
        start = starting_point(run, splits)
        end = AutoModelForSequenceClassification.from_pretrained(run)
        tokenizer = get_tokenizer(ModelArguments(model_name_or_path=str(run)))
        for alpha in map(float, args.alphas.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                row = scores(interpolate(start, end, alpha), tokenizer, splits, Path(folder))
            print(json.dumps({"run": run.name, "alpha": alpha, **row}), flush=True)


if __name__ == "__main__":
    main()
