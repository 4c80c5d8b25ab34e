"""Other public sources: loaders on small files in each original format, bad rows, seeded splits, the
leakage filter, the selection rule over sources, HateCheck refused for training, and the panel."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import write_sources

from hatespeech.data import DataArguments, DataError, load_splits, resample, temperature_sizes
from hatespeech.metrics import source_macro_f1
from hatespeech.sources import (
    HubSource,
    SourceError,
    load_source,
    parse_source,
    read_hatexplain,
    read_hub_catalog,
    read_hub_source,
    seeded_split,
)
from hatespeech.threshold import best_threshold


@pytest.fixture()
def sources_dir(tmp_path, tweeteval_dir):
    leak = (tweeteval_dir / "test_text.txt").read_text().splitlines()[0].strip()
    write_sources(tmp_path / "sources", leak)
    return tmp_path / "sources"


def test_each_loader_maps_labels_and_splits(sources_dir):
    davidson = load_source(sources_dir, "davidson", seed=0)
    assert sum(len(rows) for rows in davidson.values()) == 31
    assert {r.label for rows in davidson.values() for r in rows} == {0, 1}
    hatexplain = load_source(sources_dir, "hatexplain", seed=0)  # category 3 (no majority) is dropped
    assert [len(hatexplain[s]) for s in ("train", "validation", "test")] == [6, 2, 1]
    assert all(r.label == (r.text in {"post 1 deport them", "post 5 deport them", "post 9 deport them"})
               for rows in hatexplain.values() for r in rows)  # fmt: skip
    ethos = [r for rows in load_source(sources_dir, "ethos", seed=0).values() for r in rows]
    assert sum(r.label for r in ethos) == 10  # isHate >= 0.5
    stormfront = [r for rows in load_source(sources_dir, "stormfront", seed=0).values() for r in rows]
    assert len(stormfront) == 20  # relation and idk/skip dropped
    mlma = [r for rows in load_source(sources_dir, "mlma", seed=0).values() for r in rows]
    assert sum(r.label for r in mlma) == 10


def test_bad_rows_name_the_file_and_line(sources_dir):
    path = sources_dir / "hatexplain" / "092-HateXplain.csv"
    path.write_text(path.read_text() + "99_twitter,broken,0,7,99\n")
    with pytest.raises(SourceError, match=r"092-HateXplain.csv:14: category must be 0-3"):
        list(read_hatexplain(sources_dir / "hatexplain"))


def test_seeded_splits_repeat_exactly_and_keep_the_label_balance(sources_dir):
    rows = [r for rows in load_source(sources_dir, "davidson", seed=0).values() for r in rows]
    first, again, other = seeded_split(rows, 3), seeded_split(rows, 3), seeded_split(rows, 4)
    assert first == again and first != other
    for split in ("train", "validation", "test"):
        assert any(r.split == split and r.label == 1 for r in first) or split != "train"


def test_hatecheck_and_unknown_sources_are_refused_for_training():
    with pytest.raises(SourceError, match="test suite"):
        parse_source("hatecheck")
    with pytest.raises(SourceError, match="unknown source"):
        parse_source("twitter")
    assert parse_source("davidson:500") == ("davidson", 500)


def test_mixture_drops_copies_of_held_out_texts_and_caps_sources(sources_dir, tweeteval_dir):
    args = DataArguments(data_dir=str(tweeteval_dir), sources=["davidson:10", "ethos"], sources_dir=str(sources_dir))
    splits = load_splits(args)
    leak = (tweeteval_dir / "test_text.txt").read_text().splitlines()[0].strip()
    assert leak not in splits["train"]["text"] and leak in splits["test"]["text"]
    assert splits.dropped_copies["davidson"] == 1
    sources = splits["train"]["source"]
    assert sources.count("davidson") == 10 and sources.count("ethos") == 16
    assert set(splits["validation"]["source"]) == {"tweeteval", "davidson", "ethos"}
    with pytest.raises(DataError, match="test suite"):
        load_splits(DataArguments(data_dir=str(tweeteval_dir), sources=["hatecheck"], sources_dir=str(sources_dir)))


def test_temperature_sampling_evens_out_sources_and_keeps_the_total(sources_dir, tweeteval_dir):
    # size^(1/T): at T=2, sources of 100 and 25 rows get 2:1 of the 125 rows instead of 4:1.
    assert temperature_sizes({"big": 100, "small": 25}, 2.0) == {"big": 83, "small": 42}
    assert temperature_sizes({"big": 100, "small": 25, "empty": 0}, 1.0) == {"big": 100, "small": 25, "empty": 0}
    rows = list(range(10))
    upsampled = resample(rows, 25, "seed")
    assert len(upsampled) == 25 and all(upsampled.count(r) in (2, 3) for r in rows)
    assert resample(rows, 25, "seed") == upsampled  # seeded: the same rows every time
    downsampled = resample(rows, 4, "seed")
    assert len(set(downsampled)) == 4 and set(downsampled) <= set(rows)
    base = DataArguments(data_dir=str(tweeteval_dir), sources=["davidson", "ethos"], sources_dir=str(sources_dir))
    proportional = load_splits(base)["train"]["source"]
    tempered = load_splits(DataArguments(**{**vars(base), "source_temperature": 3.0}))
    sizes = {name: tempered["train"]["source"].count(name) for name in ("tweeteval", "davidson", "ethos")}
    assert sum(sizes.values()) == len(proportional)
    # The largest source (TweetEval, 48 rows here) gives rows to the smallest (ethos, 16).
    assert sizes["ethos"] > proportional.count("ethos") and sizes["tweeteval"] < proportional.count("tweeteval")
    # Validation and test splits are never resampled; the leaked test text stays out of training.
    assert tempered["validation"]["source"] == load_splits(base)["validation"]["source"]
    assert (tweeteval_dir / "test_text.txt").read_text().splitlines()[0].strip() not in tempered["train"]["text"]
    with pytest.raises(DataError, match="positive"):
        load_splits(DataArguments(**{**vars(base), "source_temperature": 0.0}))


def test_selection_rule_is_the_unweighted_mean_over_sources():
    labels = np.array([0, 1, 0, 1, 0, 1, 1, 1])
    predicted = np.array([0, 1, 0, 1, 1, 1, 0, 0])
    sources = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    scores = source_macro_f1(labels, predicted, sources)
    # a: perfect (1.0). b: class 0 F1 0 (tp 0), class 1 tp 1 fp 1 fn 2 -> 0.4; macro 0.2. Mean: 0.6.
    assert scores == pytest.approx({"a": 1.0, "b": 0.2, "mean": 0.6})
    # The threshold rule follows it too: source b has 4 rows but counts as much as source a's 8.
    labels = np.array([0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0])
    hate = np.array([0.59, 0.34, 0.39, 0.89, 0.23, 0.62, 0.08, 0.83, 0.79, 0.24, 0.88, 0.06])
    sources = np.array(["a"] * 8 + ["b"] * 4)
    assert (best_threshold(labels, hate, sources), best_threshold(labels, hate)) == (0.24, 0.6)


def test_training_with_sources_writes_the_panel_into_the_card(train_args, sources_dir, tmp_path):
    import train

    args = [*train_args, "--max_steps", "2", "--sources", "davidson", "ethos", "--sources_dir", str(sources_dir)]
    assert train.main(args) == 0
    panel = json.loads((tmp_path / "out" / "panel.json").read_text())
    assert set(panel["test"]) == {"tweeteval", "davidson", "hatexplain", "ethos", "mlma", "stormfront"}
    assert panel["hatecheck"]["n"] == 2 and set(panel["hatecheck"]["functionalities"]) == {
        "derog_neg_emote_h", "ident_neutral_nh"}  # fmt: skip
    card = (tmp_path / "out" / "README.md").read_text()
    assert "### Evaluation panel" in card and "HateCheck (2 cases)" in card
    assert "davidson 1" in card  # the dropped copy is reported
    assert (tmp_path / "out" / "plots" / "hatecheck_functionalities.png").stat().st_size > 0
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert results["test"]["true_hate_rate"] == pytest.approx(0.5)  # the headline is TweetEval's test split alone


def write_catalog(path, **entries) -> str:
    path.write_text(yaml.safe_dump(entries))
    return str(path)


def test_hub_catalog_entries_are_checked_with_file_and_name(tmp_path):
    good = {"dataset": "org/hate", "text_column": "tweet", "label_column": "class", "hate": [0, "hate speech"]}
    catalog = read_hub_catalog(Path(write_catalog(tmp_path / "ok.yaml", mine=good)))
    assert catalog["mine"].hate == {"0", "hate speech"} and catalog["mine"].splits is None
    assert parse_source("mine:50", catalog) == ("mine", 50)
    with pytest.raises(SourceError, match="unknown source 'mine'"):
        parse_source("mine")  # without the catalog
    bad = {
        "missing keys": ({"x": {k: v for k, v in good.items() if k != "hate"}}, r"'x'.*missing keys \['hate'\]"),
        "unknown key": ({"x": {**good, "colour": "red"}}, r"unknown keys \['colour'\]"),
        "built-in name": ({"davidson": good}, "'davidson': the name is a built-in source"),
        "partial splits": ({"x": {**good, "splits": {"train": "train"}}}, "splits must map each of"),
    }
    for case, (entries, message) in bad.items():
        with pytest.raises(SourceError, match=message):
            read_hub_catalog(Path(write_catalog(tmp_path / f"{case.replace(' ', '_')}.yaml", **entries)))
    (tmp_path / "broken.yaml").write_text("x: [unclosed\n")
    with pytest.raises(SourceError, match="broken.yaml: not valid YAML"):
        read_hub_catalog(tmp_path / "broken.yaml")
    with pytest.raises(SourceError, match="absent.yaml"):
        read_hub_catalog(tmp_path / "absent.yaml")


def test_hub_source_maps_labels_by_value_or_class_name_and_drops_rows(monkeypatch):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"tweet": Value("string"), "class": ClassLabel(names=["hate speech", "offensive", "neither"])})
    train = Dataset.from_dict({"tweet": [f"t{i}" for i in range(12)], "class": [i % 3 for i in range(12)]}, features)
    test = Dataset.from_dict({"tweet": ["u0", "u1", "u2"], "class": [0, 1, 2]}, features)
    monkeypatch.setattr("datasets.load_dataset", lambda *a, **k: DatasetDict({"train": train, "test": test}))
    # By ClassLabel name, offensive dropped; no splits declared: every row of both splits is split by seed.
    source = HubSource("org/x", "tweet", "class", hate=frozenset({"hate speech"}), drop=frozenset({"1"}))
    rows = list(read_hub_source(source))
    assert len(rows) == 10 and {r.split for r in rows} == {None}
    assert {r.text for r in rows if r.label == 1} == {"t0", "t3", "t6", "t9", "u0"}
    by_split = load_source(Path("unused"), "x", 0, {"x": source})
    assert sum(map(len, by_split.values())) == 10 and by_split == load_source(Path("unused"), "x", 0, {"x": source})
    # Declared splits keep the data set's own; a split it does not have is named.
    official = HubSource("org/x", "tweet", "class", frozenset({"0"}), splits={"train": "train", "validation": "test",
                                                                              "test": "test"})  # fmt: skip
    assert {r.split for r in read_hub_source(official)} == {"train", "validation", "test"}
    missing = HubSource("org/x", "tweet", "class", frozenset({"0"}), splits={"train": "train", "validation": "dev",
                                                                             "test": "test"})  # fmt: skip
    with pytest.raises(SourceError, match="org/x has no split 'dev'; it has \\['test', 'train'\\]"):
        list(read_hub_source(missing))
    with pytest.raises(SourceError, match="has no column 'text'"):
        list(read_hub_source(HubSource("org/x", "text", "class", frozenset({"0"}))))
    numbers = Dataset.from_dict({"tweet": ["ok", None], "class": [0, 1]})
    monkeypatch.setattr("datasets.load_dataset", lambda *a, **k: DatasetDict({"train": numbers}))
    with pytest.raises(SourceError, match=r"org/x \(train, row 1\): 'tweet' is not text"):
        list(read_hub_source(source))
    # -1, a ClassLabel's "no label", is not read as the last name (here "hate").
    two_names = Features({"tweet": Value("string"), "class": ClassLabel(names=["no", "hate"])})
    unlabelled = Dataset.from_dict({"tweet": ["a", "b"], "class": [-1, 1]}, two_names)
    monkeypatch.setattr("datasets.load_dataset", lambda *a, **k: DatasetDict({"train": unlabelled}))
    by_name = HubSource("org/x", "tweet", "class", hate=frozenset({"hate"}))
    assert [(r.text, r.label) for r in read_hub_source(by_name)] == [("a", 0), ("b", 1)]
