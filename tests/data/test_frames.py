"""Counter-speech frames (--counter_frames): framed copies of hateful training rows, labelled not-hate."""

import pytest
from conftest import write_sources

from hatespeech.data.frames import FRAMES, counter_framed
from hatespeech.data.loading import DataArguments, DataError, load_splits


def test_hateful_training_rows_gain_a_framed_not_hate_copy_at_the_probability(tweeteval_dir, tmp_path):
    write_sources(tmp_path / "sources", "no leak")
    base = dict(data_dir=str(tweeteval_dir), sources=["davidson", "dynahate"], sources_dir=str(tmp_path / "sources"))
    clean = load_splits(DataArguments(**base))
    framed, again = (load_splits(DataArguments(**base, counter_frames=0.5, augment_seed=3)) for _ in range(2))
    n = len(clean["train"])
    assert framed["train"]["text"][:n] == clean["train"]["text"]  # every row still trains, as it was
    assert framed["train"]["text"] == again["train"]["text"]  # repeatable from run_config.yaml's options
    copies = framed["train"].select(range(n, len(framed["train"])))
    hateful = {text: source for text, label, source in zip(*(clean["train"][c] for c in ("text", "label", "source")),
                                                            strict=True) if label == 1}  # fmt: skip
    assert 0.25 * len(hateful) <= len(copies) <= 0.75 * len(hateful) and set(copies["label"]) == {0}
    for text, source in zip(copies["text"], copies["source"], strict=True):
        quoted = next(original for original in hateful if f'"{original.strip()}"' in text)  # a hateful row, quoted
        assert source == hateful[quoted]  # keeps its row's source
        assert any(text == frame.format(text=quoted.strip()) for frame in FRAMES)
    assert framed["validation"]["text"] == clean["validation"]["text"]  # only training rows
    with pytest.raises(DataError, match="--counter_frames must be between 0 and 1"):
        load_splits(DataArguments(**base, counter_frames=2.0))


def test_only_hateful_rows_are_framed():
    framed = counter_framed(["they are vermin", "lovely day"], [1, 0], probability=1.0, seed=0)
    assert [index for index, _ in framed] == [0] and '"they are vermin"' in framed[0][1]
    assert counter_framed(["they are vermin"], [1], probability=0.0, seed=0) == []
