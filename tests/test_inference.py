import pytest
import torch

from hatespeech.hardware import cpu_has_bf16_matmul
from hatespeech.inference import Classifier, length_batches, resolve_backend


def test_classifier_keeps_input_order_and_normalises(trained_model_dir):
    classifier = Classifier(str(trained_model_dir), batch_size=2, backend="fp32")
    texts = ["a much longer tweet about nice sunny days with friends", "hi", "@bob go back invaders http://x.y"]
    shuffled = classifier.predict_proba(texts)
    one_by_one = torch.cat([classifier.predict_proba([t]) for t in texts])
    assert torch.allclose(shuffled, one_by_one, atol=1e-5)
    # Normalisation is applied: a raw handle and link give the same result as TweetEval's text.
    assert torch.allclose(classifier.predict_proba(["@user go back invaders http"]), one_by_one[2:], atol=1e-6)
    predictions = classifier.classify(texts)
    assert [p.label for p in predictions] == [classifier.id2label[int(i)] for i in shuffled.argmax(-1)]
    assert classifier.classify([]) == []


def test_length_batches_cap_texts_and_padded_tokens():
    lengths = [30, 5, 128, 6, 7, 31, 29, 8]
    batches = length_batches(lengths, max_size=3, max_tokens=64)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [[lengths[i] for i in batch] for batch in batches] == [[5, 6, 7], [8, 29], [30, 31], [128]]
    for batch in batches:  # a lone text longer than the budget still gets a batch of its own
        assert len(batch) <= 3 and (len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 64)


def test_token_budget_does_not_change_results(trained_model_dir):
    texts = [("word " * n).strip() for n in (1, 40, 3, 25, 2, 60, 7)]
    one_batch = Classifier(str(trained_model_dir), backend="fp32", max_batch_tokens=10_000).predict_proba(texts)
    split = Classifier(str(trained_model_dir), backend="fp32", max_batch_tokens=64).predict_proba(texts)
    assert torch.allclose(one_batch, split, atol=1e-5)


def test_bf16_backend_agrees_with_fp32(trained_model_dir):
    texts = [f"tweet {i} go back invaders nice day" for i in range(20)]
    fp32 = Classifier(str(trained_model_dir), backend="fp32").predict_proba(texts)
    bf16 = Classifier(str(trained_model_dir), backend="bf16").predict_proba(texts)
    assert torch.allclose(fp32, bf16, atol=0.02)


def test_backend_choice():
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu) == ("bf16" if cpu_has_bf16_matmul() else "fp32")
    assert resolve_backend("fp32", cpu) == "fp32"
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend("int4", cpu)
