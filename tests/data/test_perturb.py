"""Disguised text (AugLy): seeded and repeatable, blind to the label, handles and links intact; the panel's
disguised validation is the same text for every model."""

import numpy as np
import pytest
from conftest import make_tweets

from hatespeech.data.loading import DataArguments, DataError, load_splits
from hatespeech.data.perturb import PANEL_SEED, disguise_all, disguise_some
from hatespeech.evaluation.panel import evaluate_panel


def test_disguises_repeat_from_the_seed_and_change_the_text():
    texts, _ = make_tweets(60, seed=1)
    first = disguise_all(texts, seed=3)
    assert first == disguise_all(texts, seed=3) and first != disguise_all(texts, seed=4)
    assert sum(a != b for a, b in zip(first, texts, strict=True)) >= 50  # almost every text is disguised
    # The global random generators a training run relies on are left as they were.
    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    disguise_all(texts[:5], seed=3)
    assert np.random.rand() == expected


def test_handles_and_links_survive_a_disguise():
    texts = ["@user you people are vermin http and should leave @someone https://t.co/x"] * 30
    for text in disguise_all(texts, seed=0):
        assert {"@user", "http", "@someone", "https://t.co/x"} <= set(text.split())


def test_training_rows_are_disguised_at_the_probability_whatever_their_label(tweeteval_dir):
    args = DataArguments(data_dir=str(tweeteval_dir), augment_probability=0.5, augment_seed=7)
    clean = load_splits(DataArguments(data_dir=str(tweeteval_dir)))
    augmented, again = load_splits(args), load_splits(args)
    assert augmented["train"]["text"] == again["train"]["text"]  # repeatable from run_config.yaml's options
    assert augmented["train"]["label"] == clean["train"]["label"]  # a disguise never changes the label
    assert augmented["validation"]["text"] == clean["validation"]["text"]  # only training rows
    changed = np.array([a != b for a, b in zip(augmented["train"]["text"], clean["train"]["text"], strict=True)])
    labels = np.array(clean["train"]["label"])
    # Which rows are disguised depends on the seed and the row alone: both labels near the probability.
    assert 0.25 <= changed[labels == 1].mean() <= 0.75 and 0.25 <= changed[labels == 0].mean() <= 0.75
    _, chosen = disguise_some(clean["train"]["text"], 0.5, 7)
    assert chosen >= changed.sum()  # a chosen row can come out unchanged (too short to disguise)
    assert (
        load_splits(DataArguments(data_dir=str(tweeteval_dir), augment_probability=0.0))["train"]["text"]
        == (clean["train"]["text"])
    )
    with pytest.raises(DataError, match="between 0 and 1"):
        load_splits(DataArguments(data_dir=str(tweeteval_dir), augment_probability=1.5))


def test_every_model_meets_the_same_disguised_validation(tweeteval_dir, tmp_path):
    from conftest import write_sources

    write_sources(tmp_path / "sources", "no leak")
    args = DataArguments(data_dir=str(tweeteval_dir), sources_dir=str(tmp_path / "sources"))
    seen: list[list[list[str]]] = [[], []]

    def model(calls: list, hate: float):
        def predict_proba(texts: list[str]) -> np.ndarray:
            calls.append(list(texts))
            return np.tile([1 - hate, hate], (len(texts), 1))

        return predict_proba

    first, second = evaluate_panel(model(seen[0], 0.9), args), evaluate_panel(model(seen[1], 0.1), args)
    assert seen[0] == seen[1]  # the same texts, clean and disguised, whatever the model
    validation = (tweeteval_dir / "val_text.txt").read_text(encoding="utf-8").splitlines()
    assert disguise_all(validation, PANEL_SEED) in seen[0]
    assert first.validation_perturbed["tweeteval"].pred_hate_rate == 1.0
    assert second.validation_perturbed["tweeteval"].pred_hate_rate == 0.0
