"""Other public sources: loaders on small files in each original format, bad rows, seeded splits, the
leakage filter, the selection rule over sources, HateCheck refused for training, and the panel."""

import json

import numpy as np
import pytest

from hatespeech.data import DataArguments, DataError, load_splits, resample, temperature_sizes
from hatespeech.metrics import source_macro_f1
from hatespeech.sources import SourceError, load_source, parse_source, read_hatexplain, seeded_split
from hatespeech.threshold import best_threshold


def write_sources(root, leak: str) -> None:
    """One small file per source, in its original layout; ``leak`` is a TweetEval test text copied into
    Davidson's rows (it must not reach training)."""
    (root / "davidson").mkdir(parents=True)
    rows = [f'{i},3,0,0,3,{i % 3},"tweet number {i} you are vermin"' for i in range(30)]
    rows.append(f'30,3,0,0,3,0,"{leak}"')
    (root / "davidson" / "labeled_data.csv").write_text(
        ",count,hate_speech,offensive_language,neither,class,tweet\n" + "\n".join(rows) + "\n"
    )
    (root / "hatexplain").mkdir()
    posts = [(f"{i}_twitter", f"post {i} deport them", i % 4) for i in range(12)]
    (root / "hatexplain" / "092-HateXplain.csv").write_text(
        ",text,label,category,id\n" + "".join(f"{p},{t},0,{c},{i}\n" for i, (p, t, c) in enumerate(posts))
    )
    divisions = {"train": [p for p, _, _ in posts[:8]], "val": [p for p, _, _ in posts[8:10]],
                 "test": [p for p, _, _ in posts[10:]]}  # fmt: skip
    (root / "hatexplain" / "post_id_divisions.json").write_text(json.dumps(divisions))
    (root / "ethos").mkdir()
    (root / "ethos" / "Ethos_Dataset_Binary.csv").write_text(
        "comment;isHate\n" + "".join(f"comment {i} about people;{i / 20:.2f}\n" for i in range(20))
    )
    (root / "mlma").mkdir()
    (root / "mlma" / "en_dataset_with_stop_words.csv").write_text(
        "HITId,tweet,sentiment,directness,annotator_sentiment,target,group\n"
        + "".join(
            f"{i},mlma tweet {i},{'hateful_normal' if i % 2 else 'normal'},direct,x,origin,other\n" for i in range(20)
        )  # fmt: skip
    )
    (root / "stormfront").mkdir()
    labels = ["hate", "noHate", "relation", "idk/skip"]
    (root / "stormfront" / "stormfront.csv").write_text(
        "file_id,user_id,subforum_id,num_contexts,label,text\n"
        + "".join(f"{i}_1,1,1,0,{labels[i % 4]},sentence {i}\n" for i in range(40))
    )
    (root / "hatecheck").mkdir()
    (root / "hatecheck" / "test_suite_cases.csv").write_text(
        ",functionality,case_id,test_case,label_gold\n0,derog_neg_emote_h,1,I hate women.,hateful\n"
        "1,ident_neutral_nh,2,I am a woman.,non-hateful\n"
    )


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
