import pytest
import torch

from hatespeech.hardware import cpu_has_bf16_matmul
from hatespeech.inference import Classifier, resolve_backend


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


def test_bf16_backend_agrees_with_fp32(trained_model_dir):
    texts = [f"tweet {i} go back invaders nice day" for i in range(20)]
    fp32 = Classifier(str(trained_model_dir), backend="fp32").predict_proba(texts)
    bf16 = Classifier(str(trained_model_dir), backend="bf16").predict_proba(texts)
    assert torch.allclose(fp32, bf16, atol=0.02)


def test_saved_threshold_replaces_argmax(trained_model_dir):
    classifier = Classifier(str(trained_model_dir), backend="fp32")
    probabilities = torch.tensor([[0.7, 0.3], [0.4, 0.6]])
    assert classifier.decide(probabilities).tolist() == [0, 1]
    classifier.threshold = 0.25
    assert classifier.decide(probabilities).tolist() == [1, 1]


def test_backend_choice():
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu) == ("bf16" if cpu_has_bf16_matmul() else "fp32")
    assert resolve_backend("fp32", cpu) == "fp32"
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend("int4", cpu)
