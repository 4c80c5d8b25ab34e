import pytest
from datasets import DatasetDict

from hatespeech import LABEL_NAMES
from hatespeech.data.loading import DataArguments, DataError, load_hub_dataset, load_splits


def test_tweeteval_folder_gives_three_labelled_splits(tweeteval_dir):
    splits = load_splits(DataArguments(data_dir=str(tweeteval_dir)))
    assert {name: len(ds) for name, ds in splits.items()} == {"train": 48, "validation": 16, "test": 16}
    assert splits["train"].features["label"].names == list(LABEL_NAMES)
    assert set(splits["train"]["label"]) == {0, 1}
    assert not splits["train"][0]["text"].endswith(" ")  # normalised


def test_environment_variable_selects_the_folder(tweeteval_dir, monkeypatch):
    monkeypatch.setenv("HATESPEECH_DATA_DIR", str(tweeteval_dir))
    assert len(load_splits(DataArguments())["validation"]) == 16


def test_csv_with_custom_columns_and_label_names(csv_files):
    args = DataArguments(
        train_file=str(csv_files["train"]),
        validation_file=str(csv_files["validation"]),
        text_column="tweet",
        label_column="class",
    )
    splits = load_splits(args)
    assert set(splits) == {"train", "validation"}
    assert splits["train"]["label"][:2] == [0, 1]


def test_jsonl_files_with_test_split(jsonl_files):
    args = DataArguments(
        train_file=str(jsonl_files["train"]),
        validation_file=str(jsonl_files["validation"]),
        test_file=str(jsonl_files["test"]),
    )
    assert len(load_splits(args)["test"]) == 24


def test_max_samples_truncate_splits(tweeteval_dir):
    splits = load_splits(DataArguments(data_dir=str(tweeteval_dir), max_train_samples=5, max_eval_samples=3))
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (5, 3, 3)


def test_hub_dataset_is_cast_to_the_project_labels(tweeteval_dir, monkeypatch):
    """The Hub path casts whatever `load_dataset` returns (a local stand-in here) to our features."""
    import datasets

    local = load_splits(DataArguments(data_dir=str(tweeteval_dir), normalize_text=False))
    plain = DatasetDict({name: ds.cast_column("label", datasets.Value("int64")) for name, ds in local.items()})
    calls = []

    def load_dataset(name, config, revision=None):
        calls.append((name, config))
        return plain

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    splits = load_hub_dataset("cardiffnlp/tweet_eval", "hate")
    assert calls == [("cardiffnlp/tweet_eval", "hate")]
    assert splits["test"].features["label"].names == list(LABEL_NAMES)


def test_offline_without_local_data_says_how_to_provide_it(monkeypatch, tmp_path):
    monkeypatch.delenv("HATESPEECH_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(DataError, match="--data_dir PATH"):
        load_splits(DataArguments(dataset_name="cardiffnlp/tweet_eval"))


# --- bad data: every error names the file and, where there is one, the line ---------------------


def test_line_count_mismatch(tweeteval_dir):
    labels = tweeteval_dir / "train_labels.txt"
    labels.write_text("".join(labels.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(DataError, match=r"train_text.txt has 48 lines but .*train_labels.txt has 47"):
        load_splits(DataArguments(data_dir=str(tweeteval_dir)))


def test_label_outside_mapping_names_its_line(tweeteval_dir):
    lines = (tweeteval_dir / "val_labels.txt").read_text().splitlines()
    lines[6] = "2"
    (tweeteval_dir / "val_labels.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"val_labels.txt:7: label '2' is not one of 0 \(not-hate\), 1 \(hate\)"):
        load_splits(DataArguments(data_dir=str(tweeteval_dir)))


def test_empty_split(tweeteval_dir):
    (tweeteval_dir / "test_text.txt").write_text("")
    with pytest.raises(DataError, match=r"test_text.txt: file is empty"):
        load_splits(DataArguments(data_dir=str(tweeteval_dir)))


def test_undecodable_bytes_name_their_line(tweeteval_dir):
    path = tweeteval_dir / "train_text.txt"
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"caf\xe9 latin-1 bytes"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=r"train_text.txt:3: not valid UTF-8"):
        load_splits(DataArguments(data_dir=str(tweeteval_dir)))


def test_missing_folder_and_wrong_mapping(tweeteval_dir, tmp_path):
    with pytest.raises(DataError, match="no such data folder"):
        load_splits(DataArguments(data_dir=str(tmp_path / "nope")))
    (tweeteval_dir / "mapping.txt").write_text("0\tnegative\n1\tneutral\n2\tpositive\n")
    with pytest.raises(DataError, match="is not the hate task's"):
        load_splits(DataArguments(data_dir=str(tweeteval_dir)))


def test_csv_missing_column_and_bad_label(csv_files):
    args = DataArguments(train_file=str(csv_files["train"]), validation_file=str(csv_files["validation"]))
    with pytest.raises(DataError, match=r"train.csv:2: no 'text' column"):
        load_splits(args)
    path = csv_files["train"]
    path.write_text(path.read_text().replace("not-hate", "maybe", 1))
    args.text_column, args.label_column = "tweet", "class"
    with pytest.raises(DataError, match=r"train.csv:2: label 'maybe'"):
        load_splits(args)


def test_jsonl_invalid_line(jsonl_files):
    path = jsonl_files["validation"]
    path.write_text(path.read_text() + "{not json\n")
    args = DataArguments(train_file=str(jsonl_files["train"]), validation_file=str(path))
    with pytest.raises(DataError, match=r"validation.jsonl:25: invalid JSON"):
        load_splits(args)


def test_csv_with_header_only_is_an_empty_split(csv_files):
    csv_files["validation"].write_text("id,tweet,class\n")
    args = DataArguments(
        train_file=str(csv_files["train"]),
        validation_file=str(csv_files["validation"]),
        text_column="tweet",
        label_column="class",
    )
    with pytest.raises(DataError, match="validation.csv: no rows"):
        load_splits(args)
