import pytest
import torch

from hatespeech.inference.classifier import Classifier, ModelError, length_batches, resolve_backend


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


@pytest.mark.parametrize(("native_bf16", "dtype"), [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_backend_runs_bf16_weights_only_where_the_cpu_has_native_bf16(trained_model_dir, monkeypatch,
                                                                            native_bf16, dtype):  # fmt: skip
    monkeypatch.setattr("hatespeech.inference.classifier.cpu_has_bf16_matmul", lambda: native_bf16)
    classifier = Classifier(str(trained_model_dir), device="cpu")
    assert next(classifier.engine.network.parameters()).dtype == dtype
    assert classifier.predict_proba(["nice day"]).dtype == torch.float32  # probabilities always in fp32
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend("int4", torch.device("cpu"))


def test_settings_saved_by_training_are_read_back(trained_model_dir, tiny_model_dir, tmp_path):
    """No train/serve skew: the trained model carries its normaliser and length; an older one gets defaults."""
    from transformers import AutoModelForSequenceClassification

    trained = Classifier(str(trained_model_dir), backend="fp32")
    assert not trained.normalize  # the tokenizer normalises by itself
    assert trained.max_length == trained.config.max_seq_length == trained.tokenizer.model_max_length

    legacy = tmp_path / "legacy"  # a model saved before: plain tokenizer, no run settings in its config
    AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2).save_pretrained(legacy)
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
        if (tiny_model_dir / name).exists():
            (legacy / name).write_bytes((tiny_model_dir / name).read_bytes())
    old = Classifier(str(legacy), backend="fp32")
    assert old.normalize and old.max_length == 128

    raw = tmp_path / "raw"  # trained with normalize_text false and a short max_seq_length
    model = AutoModelForSequenceClassification.from_pretrained(legacy)
    model.config.update({"normalize_text": False, "max_seq_length": 6})
    model.save_pretrained(raw)
    for path in legacy.iterdir():
        if "token" in path.name or path.name == "vocab.txt":
            (raw / path.name).write_bytes(path.read_bytes())
    unnormalised = Classifier(str(raw), backend="fp32")
    assert not unnormalised.normalize and unnormalised.max_length == 6
    long_text = "nice day " * 20
    assert torch.allclose(unnormalised.predict_proba([long_text]), unnormalised.predict_proba(["nice day nice day"]))

    wide = tmp_path / "wide"  # saved with a maximum length beyond the encoder's 128 positions
    model.config.update({"max_seq_length": 512})
    model.save_pretrained(wide)
    for path in raw.iterdir():
        if "token" in path.name or path.name == "vocab.txt":
            (wide / path.name).write_bytes(path.read_bytes())
    clamped = Classifier(str(wide), backend="fp32")
    assert clamped.max_length == 128  # a 300-token text used to stop the model with an index error
    assert clamped.predict_proba(["nice day " * 150]).shape == (1, 2)


def test_many_texts_are_tokenised_a_chunk_at_a_time_with_the_same_answers(trained_model_dir, monkeypatch):
    """Evaluation of a 200,000-line file reached 2.2 GB when every text was tokenised first."""
    import hatespeech.inference.classifier as inference

    classifier = Classifier(str(trained_model_dir), backend="fp32")
    texts = [f"@user tweet {i} go back" * (1 + i % 3) for i in range(50)]
    whole = classifier.predict_proba(texts)
    calls = []
    encode = classifier._encode
    monkeypatch.setattr(inference, "STREAM_CHUNK", 8)
    monkeypatch.setattr(classifier, "_encode", lambda part: calls.append(len(part)) or encode(part))
    assert torch.allclose(classifier.predict_proba(texts), whole, atol=1e-5)
    assert max(calls) == 8 and sum(calls) == 50


def test_a_long_tweet_does_not_pad_a_micro_batch_of_short_ones():
    assert [len(batch) for batch in length_batches([8] * 31 + [120], max_size=32, max_tokens=4096)] == [31, 1]
    # Lengths that differ by a few tokens stay in one model call.
    assert len(length_batches([8, 9, 10, 12] * 8, max_size=32, max_tokens=4096)) == 1


def test_length_grouped_micro_batches_answer_every_request_with_its_own_tweet(trained_model_dir):
    """32 concurrent single requests, one of them long: two model calls, and each answer is its own tweet's."""
    import asyncio

    from hatespeech.serving.batching import MicroBatcher

    classifier = Classifier(str(trained_model_dir), backend="fp32")
    calls = []
    engine = classifier.engine
    classifier.engine = lambda inputs: calls.append(inputs["input_ids"].shape) or engine(inputs)
    texts = [f"nice day {i}" for i in range(31)]
    texts.insert(5, " ".join(["vermin go back"] * 18))

    async def serve():
        batcher = MicroBatcher(classifier.classify, max_batch=32)
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(text) for text in texts))
        finally:
            await batcher.stop()

    answers = asyncio.run(serve())
    assert len(calls) >= 2 and max(shape[1] for shape in calls[:-1] or calls) < calls[-1][1]
    expected = classifier.predict_proba(texts)
    for answer, row in zip(answers, expected, strict=True):
        assert answer.probabilities["hate"] == pytest.approx(float(row[1]), abs=1e-5)


def test_a_tokenizer_whose_ids_were_shuffled_is_refused(trained_model_dir, tmp_path):
    """Finding 2: a tokenizer.json with its ids >= 20 permuted still knew every word; 54% of labels changed."""
    import json
    import random
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(trained_model_dir, folder)
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    high = sorted(token for token, index in vocab.items() if index >= 20)
    shuffled = [vocab[token] for token in high]
    random.Random(0).shuffle(shuffled)
    vocab.update(zip(high, shuffled, strict=True))
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(ModelError, match="not the one the model was trained with"):
        Classifier(str(folder), backend="fp32")
    assert Classifier(str(trained_model_dir), backend="fp32").classify(["hello"])  # the model's own one passes
