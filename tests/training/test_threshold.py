"""The validation-chosen decision threshold, folded into the head so every front end applies it."""

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification, pipeline

import train
from hatespeech.evaluation.metrics import softmax
from hatespeech.training import steps as training
from hatespeech.training.threshold import HATE, best_threshold, fold_into_head, logit_offset, shift_logits


def test_best_threshold_separates_and_prefers_the_one_nearest_half():
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert best_threshold(labels, np.array([0.60, 0.65, 0.70, 0.80, 0.85, 0.90])) == 0.71
    # Every threshold from 0.31 to 0.80 separates these perfectly: the tie goes to 0.5.
    assert best_threshold(labels, np.array([0.1, 0.2, 0.3, 0.81, 0.9, 0.95])) == 0.5


def test_shifted_logits_make_argmax_the_threshold_decision():
    logits = np.random.default_rng(0).normal(size=(500, 2))
    p_hate = softmax(logits)[:, HATE]
    for threshold in (0.2, 0.5, 0.83):
        assert np.array_equal(softmax(shift_logits(logits, threshold)).argmax(-1), (p_hate >= threshold).astype(int))


def test_fold_into_head_moves_the_bias_of_the_last_linear_layer():
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = BertForSequenceClassification(config).eval()
    inputs = {"input_ids": torch.randint(0, 50, (8, 6))}
    with torch.no_grad():
        before = model(**inputs).logits.numpy()
        fold_into_head(model, 0.7)
        after = model(**inputs).logits.numpy()
    assert np.allclose(after, shift_logits(before, 0.7), atol=1e-5)
    with pytest.raises(ValueError, match="Linear layer with a bias"):
        fold_into_head(torch.nn.Module(), 0.7)


def test_tuned_threshold_is_saved_in_the_model_that_pipeline_loads(train_args, tweeteval_dir, tmp_path, monkeypatch):
    assert train.main([*train_args, "--max_steps", "2", "--output_dir", str(tmp_path / "plain")]) == 0
    # The choice itself is tested above; a fixed 0.3 makes the rest exact.
    monkeypatch.setattr(training, "best_threshold", lambda labels, p_hate, sources=None: 0.3)
    assert train.main([*train_args, "--max_steps", "2", "--tune_threshold"]) == 0
    out = tmp_path / "out"
    assert json.loads((out / "train_results.json").read_text())["decision_threshold"] == 0.3
    plain, tuned = (AutoModelForSequenceClassification.from_pretrained(p) for p in (tmp_path / "plain", out))
    shift = tuned.classifier.bias.detach() - plain.classifier.bias.detach()
    assert torch.allclose(shift, torch.tensor([0.0, -logit_offset(0.3)]), atol=1e-5)
    saved = [int(line) for line in (out / "predictions_test.txt").read_text().split()]
    texts = (tweeteval_dir / "test_text.txt").read_text().splitlines()
    classify = pipeline("text-classification", model=str(out))
    assert [tuned.config.label2id[r["label"]] for r in classify(texts)] == saved
