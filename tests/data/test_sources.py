"""Other public sources: loaders on small files in each original format, bad rows, seeded splits, the
leakage filter, the selection rule over sources, HateCheck refused for training, and the panel."""

import json
import re
from pathlib import Path

import evaluate  # the script: imported at collection, before any metric puts the `evaluate` library in its place
import numpy as np
import pytest
import yaml
from conftest import HATEMOJI_HEADER, write_sources

from hatespeech.data.loading import DataArguments, DataError, load_splits, resample, temperature_sizes
from hatespeech.data.sources import (
    HubSource,
    SourceError,
    load_source,
    parse_source,
    read_edos,
    read_hatemoji_build,
    read_hatexplain,
    read_hub_catalog,
    read_hub_source,
    read_intervention,
    read_redditbias,
    seeded_split,
)
from hatespeech.evaluation.metrics import source_macro_f1
from hatespeech.evaluation.panel import answering_from
from hatespeech.training.threshold import best_threshold


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


def test_implicit_hate_maps_both_hate_classes_and_gets_a_seeded_split(sources_dir):
    rows = [r for rows in load_source(sources_dir, "implicit_hate", seed=0).values() for r in rows]
    assert len(rows) == 20 and sum(r.label for r in rows) == 10  # implicit_hate and explicit_hate -> hate
    assert {r.text for r in rows if r.text.startswith(" post 1 ")} == {' post 1 " quoted "'}  # TSV quoting read
    assert {r.split for r in rows} == {"train", "validation", "test"}


def test_hatemoji_pairs_share_the_original_entrys_split(sources_dir):
    rows = list(read_hatemoji_build(sources_dir / "hatemoji_build"))
    by_text = {r.text: r for r in rows}
    # Entry 1 (the perturbation of entry 0) is in test.csv; it trains with its original.
    assert by_text["I would hug 0 🤗"].split == by_text["I would hurt 0 🔪"].split == "train"
    for pair in range(8):
        original, perturbed = by_text[f"I would hurt {pair} 🔪"], by_text[f"I would hug {pair} 🤗"]
        assert (original.label, perturbed.label) == (1, 0) and original.split == perturbed.split
        assert perturbed.targets == () and original.targets == (("bla",) if pair % 2 else ("wom", "mus"))
    by_split = load_source(sources_dir, "hatemoji_build", seed=0)
    assert [len(by_split[s]) for s in ("train", "validation", "test")] == [12, 2, 2]


def test_dynahate_keeps_the_authors_splits_and_labels(sources_dir):
    by_split = load_source(sources_dir, "dynahate", seed=0)
    assert [len(by_split[s]) for s in ("train", "validation", "test")] == [17, 4, 4]  # dev -> validation
    rows = [r for rows in by_split.values() for r in rows]
    assert all(r.label == (" not " not in r.text and "quoted" not in r.text) for r in rows)
    assert '"quoted, and\nbroken" they said' in {r.text for r in by_split["train"]}  # CSV quoting read


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("x,2,train", "label must be 0 or 1"),
        ("x,1,val", "split train, dev or test, got '1' / 'val'"),
        ("x,1", "fewer fields"),
    ],
)
def test_dynahate_stops_on_a_bad_row_with_file_and_line(sources_dir, row, why):
    path = sources_dir / "dynahate" / "dynahate_v0.2.3.csv"
    path.write_text("text,label,split\nfine,0,train\n" + row + "\n")
    with pytest.raises(SourceError, match=rf"dynahate_v0.2.3.csv:3: .*{re.escape(why)}"):
        load_source(sources_dir, "dynahate", seed=0)


def test_new_sources_stop_on_bad_rows_with_file_and_line(sources_dir):
    folder = sources_dir / "hatemoji_build"
    (folder / "validation.csv").write_text(
        HATEMOJI_HEADER + "12,text,none,['bla'],5,5a,original,validation,maybe,x,13\n"
    )
    with pytest.raises(SourceError, match=r"validation.csv:2: label_gold must be 0 or 1"):
        list(read_hatemoji_build(folder))
    (folder / "validation.csv").write_text(HATEMOJI_HEADER + "12,text,none,bla,5,5a,original,validation,1,x,13\n")
    with pytest.raises(SourceError, match=r"validation.csv:2: target must be a list"):
        list(read_hatemoji_build(folder))
    (folder / "validation.csv").write_text(
        HATEMOJI_HEADER + "12,text,none,['none'],5,5b,perturbation,validation,0,x,99\n"
    )
    with pytest.raises(SourceError, match=r"validation.csv:2: perturbation 12 has no original entry '99'"):
        list(read_hatemoji_build(folder))
    tsv = sources_dir / "implicit_hate" / "implicit_hate_v1_stg1_posts.tsv"
    tsv.write_text("post\tclass\nfine\tnot_hate\nodd\tsarcasm\n")
    with pytest.raises(SourceError, match=r"implicit_hate_v1_stg1_posts.tsv:3: class must be not_hate"):
        load_source(sources_dir, "implicit_hate", seed=0)


def test_redditbias_maps_stereotypes_per_group_and_reads_the_mac_roman_file(sources_dir):
    rows = list(read_redditbias(sources_dir / "redditbias"))
    # 10 + 10 rows in each of four groups, the female file's 10 not-stating rows, two more in the jews file; the
    # comment repeated in the muslims file (other case) is kept once; unannotated and free-text rows are not used.
    assert len(rows) == 92 and sum(r.label for r in rows) == 40
    assert not any("gender_female" in r.text and r.label for r in rows)  # clichés about women are not hate
    assert not any("not annotated" in r.text or "unsure" in r.text for r in rows)
    assert "thats a trope they’re using" in {r.text for r in rows}  # Mac Roman b"\xd5" read as ’
    assert {r.split for r in rows} == {"train", "validation", "test"}
    assert rows == list(read_redditbias(sources_dir / "redditbias"))  # fixed: no seed


def test_redditbias_stops_on_bad_bytes_outside_the_mac_roman_file_and_on_rows_without_text(sources_dir):
    path = sources_dir / "redditbias" / "reddit_comments_religion2_muslims_processed_phrase_annotated.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:3]) + b"x,TRUE,caf\xd5,x,0,0\n" + b"".join(lines[3:]))
    with pytest.raises(SourceError, match=r"muslims_processed_phrase_annotated.csv:4: not valid UTF-8"):
        list(read_redditbias(sources_dir / "redditbias"))
    path.write_bytes(b"".join(lines) + b"y,TRUE, ,x,1,0\n")
    with pytest.raises(SourceError, match=rf"annotated.csv:{len(lines) + 1}: an annotated row needs its comment"):
        list(read_redditbias(sources_dir / "redditbias"))


def test_intervention_keeps_threads_in_one_split_and_repeated_replies_once(sources_dir):
    rows = list(read_intervention(sources_dir / "intervention"))
    assert len(rows) == 12 + 6 + 1 and {r.label for r in rows} == {0}  # "the r-word" and "the r word": one
    splits = {r.text: r.split for r in rows}
    assert splits["Please do not insult gab people 0."] == splits["Use of the r-word is unacceptable."]
    assert set(splits.values()) == {"train", "validation", "test"}
    path = sources_dir / "intervention" / "reddit.csv"
    path.write_text(path.read_text() + '"1. x\n",[1],not a list\n')
    with pytest.raises(SourceError, match=r"reddit.csv:\d+: response must be a list of replies"):
        list(read_intervention(sources_dir / "intervention"))


def test_edos_keeps_the_task_splits_and_drops_hatecheck_cases(sources_dir):
    by_split = load_source(sources_dir, "edos", seed=0)
    assert [len(by_split[s]) for s in ("train", "validation", "test")] == [12, 4, 4]  # dev -> validation
    assert "I hate women 0." not in {r.text for rows in by_split.values() for r in rows}  # a HateCheck case
    assert sum(r.label for rows in by_split.values() for r in rows) == 10
    path = sources_dir / "edos" / "edos_labelled_aggregated.csv"
    path.write_text(path.read_text() + "bad,text,misogynist,x,x,train\n")
    with pytest.raises(SourceError, match=r"edos_labelled_aggregated.csv:23: label_sexist must be sexist"):
        list(read_edos(sources_dir / "edos"))


def test_damaged_source_files_are_one_line_with_the_file(sources_dir):
    """Findings of the reliability review: each used to end in a traceback, or read wrong data silently."""
    hatexplain = sources_dir / "hatexplain" / "092-HateXplain.csv"
    lines = hatexplain.read_bytes().splitlines(keepends=True)
    hatexplain.write_bytes(b"".join(lines[:5]) + b"9_twitter,caf\xe9 deport,0,1,9\n" + b"".join(lines[5:]))
    with pytest.raises(SourceError, match=r"092-HateXplain.csv:6: not valid UTF-8"):
        load_source(sources_dir, "hatexplain", seed=0)
    davidson = sources_dir / "davidson" / "labeled_data.csv"
    davidson.write_text(davidson.read_text() + f'99,3,0,0,3,0,"{"x" * 200_000}"\n')
    assert len(load_source(sources_dir, "davidson", seed=0)["train"]) > 0  # a long field is a long tweet
    stormfront = sources_dir / "stormfront" / "stormfront.csv"
    stormfront.write_text(stormfront.read_text() + "99_1,1,1,0,hate\n")  # no text field
    with pytest.raises(SourceError, match=r"stormfront.csv:42: fewer fields than the header's 6"):
        load_source(sources_dir, "stormfront", seed=0)
    divisions = sources_dir / "hatexplain" / "post_id_divisions.json"
    hatexplain.write_bytes(b"".join(lines))
    shape = "expected an object with lists"
    for content, message in (("{not json", "not valid JSON"), ('{"train": [], "test": []}', shape), ("[1, 2]", shape)):
        divisions.write_text(content)
        with pytest.raises(SourceError, match=f"post_id_divisions.json: {message}"):
            load_source(sources_dir, "hatexplain", seed=0)
    ethos = sources_dir / "ethos" / "Ethos_Dataset_Binary.csv"
    ethos.write_text("comment;isHate\nfine;0.0\nmissing;nan\n")
    with pytest.raises(SourceError, match=r"Ethos_Dataset_Binary.csv:3: isHate must be a share between 0 and 1"):
        load_source(sources_dir, "ethos", seed=0)
    ethos.write_text("text;isHate\nfine;0.0\n")  # a renamed column
    with pytest.raises(
        SourceError, match=r"Ethos_Dataset_Binary.csv: no column 'comment' \(found \['text', 'isHate'\]\)"
    ):
        load_source(sources_dir, "ethos", seed=0)
    for cap in ("²", "١٢", "-1", "1.5"):
        with pytest.raises(SourceError, match="the cap after ':' must be a whole number"):
            parse_source(f"davidson:{cap}")


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


def test_answering_from_known_rows_asks_the_model_only_for_the_others_once_each_in_input_order():
    asked = []

    def model(texts):
        asked.append(list(texts))
        return np.array([[0.0, float(len(text))] for text in texts]).reshape(len(texts), 2)

    known = {"seen": np.array([0.3, 0.7])}
    predict = answering_from(model, known, str.strip)  # the key: the text as the run held it
    answered = predict(["new one", " seen ", "two", "new one"])
    assert asked == [["new one", "two"]]  # " seen " is answered by its key; the repeated text is asked once
    assert answered.tolist() == [[0.0, 7.0], [0.3, 0.7], [0.0, 3.0], [0.0, 7.0]]
    assert predict([]).shape == (0, 2) and predict([" seen", "two"]).tolist() == [[0.3, 0.7], [0.0, 3.0]]
    assert len(asked) == 2 and known.keys() == {"seen"}  # answered before: asked nothing; the caller's dict as given


def test_a_training_runs_panel_reuses_its_predictions_and_matches_a_fresh_scoring(
    train_args, sources_dir, tweeteval_dir, tmp_path, monkeypatch
):
    """The panel beside the headline is the headline's: the run's validation and test rows are answered from the
    predictions it has just written, and re-scoring the saved model from the outside gives the same numbers."""
    import train
    from hatespeech.inference.classifier import Classifier

    asked, predict_proba = [], Classifier.predict_proba
    monkeypatch.setattr(Classifier, "predict_proba", lambda self, texts, *a: asked.extend(texts) or
                        predict_proba(self, texts, *a))  # fmt: skip
    out = tmp_path / "out"
    options = ["--sources", "davidson", "implicit_hate", "--sources_dir", str(sources_dir)]
    assert train.main([*train_args, "--max_steps", "2", "--auto_bf16", "false", *options]) == 0
    panel = json.loads((out / "panel.json").read_text())
    headline = json.loads((out / "eval_results.json").read_text())
    run_rows = set()  # as the panel reads them: TweetEval's lines, the sources' raw texts (' post 0 "quoted"')
    for split, prefix in (("validation", "val"), ("test", "test")):
        assert panel[split]["tweeteval"]["macro_f1"] == headline[split]["macro_f1"]
        run_rows |= set((tweeteval_dir / f"{prefix}_text.txt").read_text().splitlines())
        run_rows |= {
            row.text for name in ("davidson", "implicit_hate") for row in load_source(sources_dir, name, 0)[split]
        }
    assert not run_rows & set(asked)
    assert "I hate women 0." in asked and len(asked) == len(set(asked))  # other sources, disguised, HateCheck: once
    monkeypatch.setattr(Classifier, "predict_proba", predict_proba)
    report = tmp_path / "outside"
    assert evaluate.main(["--model", str(out), "--data_dir", str(tweeteval_dir), "--panel", *options,
                          "--backend", "fp32", "--output_dir", str(report)]) == 0  # fmt: skip
    fresh = json.loads((report / "panel.json").read_text())
    for kind in ("validation", "test", "validation_perturbed"):
        assert fresh[kind].keys() == panel[kind].keys()
        for name, scores in panel[kind].items():
            assert fresh[kind][name]["macro_f1"] == pytest.approx(scores["macro_f1"], abs=1e-9), (kind, name)
    assert fresh["hatecheck"] == panel["hatecheck"]


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
    assert set(panel["test"]) == {"tweeteval", "davidson", "hatexplain", "ethos", "mlma", "stormfront",
                                  "implicit_hate", "hatemoji_build", "dynahate", "redditbias", "intervention",
                                  "edos"}  # fmt: skip
    # A one-label source (the replies) has an accuracy on its non-hateful rows and no place in the F1 means.
    replies = panel["validation"]["intervention"]
    assert replies["true_hate_rate"] == 0 and replies["non_hateful_accuracy"] == 1 - replies["pred_hate_rate"]
    both = [s["macro_f1"] for s in panel["validation"].values() if 0 < s["true_hate_rate"] < 1]
    assert panel["validation_mean_macro_f1"] == pytest.approx(np.mean(both))
    assert panel["hatecheck"]["n"] == 13 and set(panel["hatecheck"]["functionalities"]) == {
        "derog_neg_emote_h", "ident_neutral_nh", "profanity_nh"}  # fmt: skip
    card = (tmp_path / "out" / "README.md").read_text()
    assert "### Evaluation panel" in card and "HateCheck (13 cases)" in card
    # The identity table: HateCheck's women (6 + 6 cases; the case without a target counts nowhere).
    women = next(row for row in panel["identities"] if row["identity"] == "women" and row["source"] == "hatecheck")
    assert (women["n_hateful"], women["n_non_hateful"]) == (6, 6)
    assert women["false_positive_rate"] == pytest.approx(1 - women["non_hateful_accuracy"])
    assert "| hatecheck | women |" in card and f"| {women['false_positive_rate']:.3f} |" in card
    assert "![false-positive rate per identity](plots/identity_false_positives.png)" in card
    assert (tmp_path / "out" / "plots" / "identity_false_positives.png").stat().st_size > 0
    # Disguised validation beside the clean one, for every source.
    assert set(panel["validation_perturbed"]) == set(panel["validation"])
    assert "| davidson | " in card and "disguised" in card
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


def test_held_out_sources_never_train_never_choose_and_are_scored(train_args, sources_dir, tweeteval_dir, tmp_path):
    import train

    base = DataArguments(data_dir=str(tweeteval_dir), sources=["davidson", "ethos"], sources_dir=str(sources_dir))
    splits = load_splits(DataArguments(**{**vars(base), "holdout_sources": ["ethos", "tweeteval"]}))
    assert set(splits["train"]["source"]) == {"davidson"}  # no row of a held-out source trains
    assert {"ethos", "tweeteval"} <= set(splits["validation"]["source"])  # ... but they are scored
    args = [*train_args, "--max_steps", "2", "--eval_strategy", "steps", "--eval_steps", "1", "--save_strategy",
            "no", "--load_best_model_at_end", "false", "--sources", "davidson", "ethos", "--holdout_sources", "ethos",
            "--sources_dir", str(sources_dir), "--panel_scope", "validation"]  # fmt: skip
    assert train.main(args) == 0
    out = tmp_path / "out"
    evaluations = [log for log in json.loads((out / "trainer_state.json").read_text())["log_history"]
                   if "eval_macro_f1" in log]  # fmt: skip
    assert evaluations and all("eval_ethos_macro_f1" not in log and "eval_davidson_macro_f1" in log
                               for log in evaluations)  # fmt: skip
    panel = json.loads((out / "panel.json").read_text())
    assert panel["test"] == {} and "hatecheck" not in panel  # --panel_scope validation: what a fold run needs
    assert panel["holdout"]["validation"] == {"ethos": panel["validation"]["ethos"]["macro_f1"]}
    assert panel["holdout"]["validation_perturbed"] == {"ethos": panel["validation_perturbed"]["ethos"]["macro_f1"]}
    trained = [panel["validation"][name]["macro_f1"] for name in ("tweeteval", "davidson")]
    assert panel["trained_sources_mean_macro_f1"] == pytest.approx(np.mean(trained))
    assert "| ethos (held out) |" in (out / "README.md").read_text()
    with pytest.raises(DataError, match=r"--holdout_sources \['mlma'\]: not a source of this run"):
        load_splits(DataArguments(**{**vars(base), "holdout_sources": ["mlma"]}))
    with pytest.raises(DataError, match="leaves no source to train on"):
        load_splits(DataArguments(**{**vars(base), "holdout_sources": ["tweeteval", "davidson", "ethos"]}))


def test_mixing_options_that_would_change_the_data_silently_are_refused(sources_dir, tweeteval_dir, tmp_path):
    base = DataArguments(data_dir=str(tweeteval_dir), sources=["davidson", "ethos"], sources_dir=str(sources_dir))
    refused = {
        "the same source twice": ({"sources": ["davidson:10", "ethos", "davidson:20"]}, r"names \['davidson'\] more"),
        "a zero cap": ({"sources": ["davidson:0"]}, "at least 1"),
        "NaN temperature": ({"source_temperature": float("nan")}, "must be a positive number"),
        "a temperature that empties sources": ({"source_temperature": 0.05}, r"leaves \['davidson', 'ethos'\]"),
        "a temperature without sources": ({"sources": [], "source_temperature": 2.0}, "give --sources too"),
    }
    for change, message in refused.values():
        with pytest.raises(DataError, match=message):
            load_splits(DataArguments(**{**vars(base), **change}))
    assert temperature_sizes({"big": 10**6, "small": 10}, 1e-3) == {"big": 10**6 + 10, "small": 0}  # no overflow
    entry = {"dataset": "org/hate", "text_column": "t", "label_column": "l", "hate": [1]}
    for case, (entries, message) in {
        "tweeteval": ({"tweeteval": entry}, "'tweeteval': the name is a built-in source"),
        "numeric name": ({123: entry}, "123: a source name must be text"),
        "mapping of hate values": ({"x": {**entry, "hate": {"a": 1}}}, "label values must be a list"),
    }.items():
        path = tmp_path / f"{case.replace(' ', '_')}.yaml"
        path.write_text(yaml.safe_dump(entries))
        with pytest.raises(SourceError, match=message):
            read_hub_catalog(path)


def test_a_hub_source_whose_hate_values_never_occur_is_refused(monkeypatch):
    from datasets import Dataset, DatasetDict

    rows = Dataset.from_dict({"tweet": ["a", "b"], "class": ["hateful", "normal"]})
    monkeypatch.setattr("datasets.load_dataset", lambda *a, **k: DatasetDict({"train": rows}))
    typo = HubSource("org/x", "tweet", "class", hate=frozenset({"hatefull"}))
    with pytest.raises(SourceError, match=r"org/x: no row has a hate value \['hatefull'\]; .* \['hateful', 'normal'\]"):
        list(read_hub_source(typo))
