"""Predictions files follow the input order, whatever sampler trained: re-scored from outside, they give
the reported score, and row i is the model's answer for tweet i."""

import json
import random

import numpy as np
import pytest
import torch
from conftest import COMMON_WORDS, HATE_WORDS, NEUTRAL_WORDS, tweeteval_macro_f1
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, TrainingArguments

import train
from hatespeech.training.steps import InputOrderTrainer


def write_varied_lengths(folder) -> None:
    """TweetEval layout with tweets of 1 to 14 words, so length-grouped sampling reorders them."""
    rng = random.Random(7)
    folder.mkdir()
    (folder / "mapping.txt").write_text("0\tnot-hate\n1\thate")
    for prefix, n in (("train", 64), ("val", 24), ("test", 40)):
        labels = [i % 2 for i in range(n)]
        texts = [" ".join(rng.choices((HATE_WORDS if y else NEUTRAL_WORDS) + COMMON_WORDS, k=rng.randint(1, 14)))
                 for y in labels]  # fmt: skip
        (folder / f"{prefix}_text.txt").write_text("".join(t + "\n" for t in texts))
        (folder / f"{prefix}_labels.txt").write_text("".join(f"{y}\n" for y in labels))


@pytest.fixture(scope="module")
def grouped_run(tiny_model_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("order")
    write_varied_lengths(work / "data")
    args = ["--model_name_or_path", str(tiny_model_dir), "--data_dir", str(work / "data"),
            "--output_dir", str(work / "model"), "--num_train_epochs", "10", "--learning_rate", "3e-3",
            "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "8",
            "--train_sampling_strategy", "group_by_length", "--auto_bf16", "false",
            "--report_to", "none", "--use_cpu", "--disable_tqdm", "true"]  # fmt: skip
    assert train.main([*args, "--early_stopping_patience", "0"]) == 0
    # A model that says one label for everything would make any row order look right.
    assert len(set(_lines(work / "model" / "predictions_test.txt"))) == 2
    return work / "data", work / "model"


def _lines(path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


@pytest.mark.parametrize(("split", "prefix"), [("validation", "val"), ("test", "test")])
def test_written_predictions_rescore_to_the_reported_macro_f1(grouped_run, split, prefix):
    data, model = grouped_run
    gold, predicted = _lines(data / f"{prefix}_labels.txt"), _lines(model / f"predictions_{split}.txt")
    reported = json.loads((model / "eval_results.json").read_text())[split]["macro_f1"]
    assert tweeteval_macro_f1(gold, predicted) == pytest.approx(reported, abs=1e-9)


def test_row_i_is_the_models_answer_for_tweet_i(grouped_run):
    data, model = grouped_run
    tokenizer = AutoTokenizer.from_pretrained(model)
    network = AutoModelForSequenceClassification.from_pretrained(model).eval()
    expected = []
    with torch.inference_mode():
        for text in (data / "test_text.txt").read_text().splitlines():  # one at a time: no padding, no order
            expected.append(int(network(**tokenizer(text, return_tensors="pt")).logits.argmax(-1)))
    assert _lines(model / "predictions_test.txt") == expected


def test_evaluation_runs_shortest_first_and_every_caller_sees_input_order(tiny_model_dir, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    network = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    rng = random.Random(3)
    texts = [" ".join(rng.choices(HATE_WORDS + NEUTRAL_WORDS, k=n)) for n in (9, 2, 14, 5, 1, 11, 3, 7)]
    rows = Dataset.from_dict({"text": texts, "label": [0, 1] * 4}).map(
        lambda batch: tokenizer(batch["text"]), batched=True, remove_columns=["text"]
    )
    with torch.inference_mode():  # one text at a time: no padding, no order
        alone = np.concatenate([network(**tokenizer(text, return_tensors="pt")).logits.numpy() for text in texts])
    widths, seen = [], []
    network.register_forward_pre_hook(lambda _, args, kwargs: widths.append(kwargs["input_ids"].shape[1]),
                                      with_kwargs=True)  # fmt: skip
    trainer = InputOrderTrainer(
        model=network,
        args=TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, use_cpu=True, report_to="none"),
        eval_dataset=rows,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=lambda prediction: seen.append(prediction) or {},
    )
    trainer.evaluate()
    assert len(widths) == 4 and widths == sorted(widths)  # batches of similar length, shortest first
    assert np.allclose(seen[0].predictions, alone, atol=1e-5)  # the metrics read row i as text i
    assert seen[0].label_ids.tolist() == [0, 1] * 4
    output = trainer.predict(rows)
    assert np.allclose(output.predictions, alone, atol=1e-5) and output.label_ids.tolist() == [0, 1] * 4
