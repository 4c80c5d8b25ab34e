"""Shared fixtures: a tiny random BERT with its tokenizer, and small synthetic tweet data."""

import csv
import json
import os
import random

import pytest

# Fixtures shared by several folders of tests (the Hub double: tests/helpers/hub_client.py).
pytest_plugins = ["helpers.hub_client"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HATE_WORDS = ["hate", "scum", "vermin", "go", "back", "invaders", "filthy", "deport"]
NEUTRAL_WORDS = ["love", "nice", "day", "coffee", "music", "friends", "happy", "sunny"]
COMMON_WORDS = ["@user", "http", "the", "you", "are", "so", "today", "!", "#", "tweet"]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Evaluate and save after every step, so runs of a few steps exercise checkpoints and early stopping.
EVERY_STEP = ["--eval_strategy", "steps", "--eval_steps", "1", "--save_strategy", "steps", "--save_steps", "1"]


def tweeteval_macro_f1(gold: list[int], predicted: list[int]) -> float:
    """TweetEval's hate score written out by hand: the mean over both classes of F1 (0 when undefined)."""
    scores = []
    for label in (0, 1):
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / 2


def trial_rows(output_dir) -> int:
    """Rows of a search report's trials.csv."""
    with (output_dir / "search" / "trials.csv").open() as handle:
        return sum(1 for _ in csv.DictReader(handle))


def make_tweets(n: int, seed: int) -> tuple[list[str], list[int]]:
    """Short tweets whose label follows their words, with both classes present."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = rng.sample(HATE_WORDS if label else NEUTRAL_WORDS, 3) + rng.sample(COMMON_WORDS, 3)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def write_tweeteval_dir(folder, sizes=None) -> None:
    """A folder in TweetEval's layout."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mapping.txt").write_text("0\tnot-hate\n1\thate")
    for seed, (prefix, n) in enumerate((sizes or {"train": 48, "val": 16, "test": 16}).items()):
        texts, labels = make_tweets(n, seed)
        (folder / f"{prefix}_text.txt").write_text("".join(f"{t} \n" for t in texts), encoding="utf-8")
        (folder / f"{prefix}_labels.txt").write_text("".join(f"{y}\n" for y in labels))


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
    (root / "implicit_hate").mkdir()
    classes = ["not_hate", "implicit_hate", "explicit_hate", "not_hate"]
    (root / "implicit_hate" / "implicit_hate_v1_stg1_posts.tsv").write_text(
        "post\tclass\n" + "".join(f'" post {i} "" quoted """\t{classes[i % 4]}\n' for i in range(20))
    )
    write_hatemoji(root / "hatemoji_build")
    write_dynahate(root / "dynahate")
    write_redditbias(root / "redditbias")
    write_intervention(root / "intervention")
    write_edos(root / "edos")
    (root / "hatecheck").mkdir()
    # 6 hateful and 6 non-hateful cases about women (enough for the identity table), one without a target.
    cases = [("derog_neg_emote_h", f"I hate women {i}.", "hateful") for i in range(6)]
    cases += [("ident_neutral_nh", f"I am a woman {i}.", "non-hateful") for i in range(6)]
    (root / "hatecheck" / "test_suite_cases.csv").write_text(
        ",functionality,case_id,test_case,label_gold,target_ident\n"
        + "".join(f"{i},{f},{i},{text},{label},women\n" for i, (f, text, label) in enumerate(cases))
        + "12,profanity_nh,12,Damn it.,non-hateful,\n"
    )


HATEMOJI_HEADER = "entry_id,text,type,target,round.base,round.set,set,split,label_gold,matched_text,matched_id\n"


def write_dynahate(folder) -> None:
    """DynaHate's CSV: contrast pairs (an attack and its negation, other label) in the authors' three splits;
    one text holds a quoted comma and a line break, as entries of the real file do."""
    folder.mkdir(parents=True)
    rows = []
    for i in range(12):
        split = "train" if i < 8 else "dev" if i < 10 else "test"
        rows += [f"group {i} are vermin,1,{split}", f"group {i} are not vermin,0,{split}"]
    rows.append('"""quoted, and\nbroken"" they said",0,train')
    (folder / "dynahate_v0.2.3.csv").write_text("text,label,split\n" + "".join(f"{row}\n" for row in rows))


REDDITBIAS_HEADER = "id,attribute_in_window,comment,phrase,bias_sent,bias_phrase\n"


def write_redditbias(folder) -> None:
    """RedditBias' five files: per group, comments stating a stereotype (1) and not (0), unannotated and
    free-text rows; the female file without ids (as the authors' is); the jews file in Mac Roman, one comment
    in it repeated from the muslims file."""
    folder.mkdir(parents=True)
    for group in ("race_black", "religion1_jews", "religion2_muslims", "orientation_lgbtq", "gender_female"):
        rows = [f"c{group}{i},TRUE,{group} comment {i} says {'they are lazy' if i % 2 else 'that is a trope'},x,"
                f"{i % 2},0" for i in range(20)]  # fmt: skip
        rows += [f"u{group},TRUE,{group} not annotated,x,,", f"q{group},TRUE,{group} unsure,x,biased?,"]
        if group == "religion1_jews":
            rows.append("shared,TRUE,jews and muslims share this comment,x,0,0")
            rows.append("mac,TRUE,thats a trope they’re using,x,0,0")
        if group == "religion2_muslims":
            rows.append("shared,TRUE,Jews and Muslims share this comment,x,0,0")
        header = REDDITBIAS_HEADER
        if group == "gender_female":  # no id column, a trailing empty one
            header, rows = "attribute_in_window,comment,phrase,bias_sent,bias_phrase,\n", [
                row.split(",", 1)[1] + "," for row in rows]  # fmt: skip
        encoding = "mac_roman" if group == "religion1_jews" else "utf-8"
        path = folder / f"reddit_comments_{group}_processed_phrase_annotated.csv"
        path.write_text(header + "".join(f"{row}\n" for row in rows), encoding=encoding)


def write_intervention(folder) -> None:
    """The intervention replies: threads (numbered comment ids over several lines) with a list of replies or n/a;
    one reply repeated in other threads with other case and punctuation."""
    folder.mkdir(parents=True)
    for name, threads in (("gab", 12), ("reddit", 6)):
        rows = []
        for i in range(threads):
            replies = [f"Please do not insult {name} people {i}.", "Use of the r-word is unacceptable."]
            if i % 3 == 2:
                replies[1] = "use of the r word is unacceptable"
            rows.append(f'"1. {name}{i}\n2. \t{name}{i}b\n",[1],"{replies!r}"')
        rows.append(f'"1. {name}-calm\n",n/a,n/a')
        (folder / f"{name}.csv").write_text("id,hate_speech_idx,response\n" + "".join(f"{row}\n" for row in rows))


def write_edos(folder) -> None:
    """EDOS' one file: sexist and not sexist posts in the task's three splits, and one that is a HateCheck case."""
    folder.mkdir(parents=True)
    rows = [f"e{i},post {i} about women,{'sexist' if i % 2 else 'not sexist'},x,x,"
            f"{'train' if i < 12 else 'dev' if i < 16 else 'test'}" for i in range(20)]  # fmt: skip
    rows.append("hc,I hate women 0.,sexist,x,x,dev")
    (folder / "edos_labelled_aggregated.csv").write_text(
        "rewire_id,text,label_sexist,label_category,label_vector,split\n" + "".join(f"{row}\n" for row in rows)
    )


def write_hatemoji(folder, cross_split_pair: bool = True) -> None:
    """HatemojiBuild's three files: pairs of an original and its perturbation (other label, target 'none');
    with ``cross_split_pair`` the perturbation of entry 0 sits in test.csv, as 982 pairs do in the real files."""
    folder.mkdir(parents=True)
    files = {split: [] for split in ("train", "validation", "test")}
    for pair in range(8):
        split = "train" if pair < 6 else "validation" if pair == 6 else "test"
        original, perturbed = 2 * pair, 2 * pair + 1
        target = "['bla']" if pair % 2 else "['wom', 'mus']"
        files[split].append(
            f'{original},I would hurt {pair} 🔪,threat,"{target}",5,5a,original,{split},1,x,{perturbed}'
        )
        moved = "test" if cross_split_pair and pair == 0 else split
        files[moved].append(f"{perturbed},I would hug {pair} 🤗,none,['none'],5,5b,perturbation,{moved},0,x,{original}")
    for split, rows in files.items():
        (folder / f"{split}.csv").write_text(HATEMOJI_HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")


@pytest.fixture()
def tweeteval_dir(tmp_path):
    folder = tmp_path / "tweeteval_hate"
    write_tweeteval_dir(folder)
    return folder


@pytest.fixture()
def csv_files(tmp_path):
    """train/validation CSVs with custom column names and label names instead of ids."""
    paths = {}
    for seed, split in enumerate(("train", "validation")):
        texts, labels = make_tweets(24, seed)
        path = tmp_path / f"{split}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "tweet", "class"])
            for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
                writer.writerow([i, text, ["not-hate", "hate"][label]])
        paths[split] = path
    return paths


@pytest.fixture()
def jsonl_files(tmp_path):
    paths = {}
    for seed, split in enumerate(("train", "validation", "test")):
        texts, labels = make_tweets(24, seed)
        path = tmp_path / f"{split}.jsonl"
        path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels, strict=True)))
        paths[split] = path
    return paths


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised 2-layer BERT encoder plus a WordPiece tokenizer over the test words."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = SPECIAL_TOKENS + sorted(set(HATE_WORDS + NEUTRAL_WORDS + COMMON_WORDS))
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(vocab)})
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,  # the default --max_seq_length fits
    )
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture()
def train_args(tiny_model_dir, tweeteval_dir, tmp_path):
    """CLI arguments for a fast training run on the tiny model and synthetic data."""
    return [
        "--model_name_or_path",
        str(tiny_model_dir),
        "--data_dir",
        str(tweeteval_dir),
        "--output_dir",
        str(tmp_path / "out"),
        "--num_train_epochs",
        "2",
        "--per_device_train_batch_size",
        "16",
        "--learning_rate",
        "1e-3",
        "--report_to",
        "none",
        "--use_cpu",
        "--disable_tqdm",
        "true",
        "--save_only_model",
        "false",
        "--dataloader_pin_memory",
        "false",
    ]


@pytest.fixture(scope="session")
def trained_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model after 4 training steps, saved as train.py saves it (card, plots, results)."""
    import train

    work = tmp_path_factory.mktemp("trained")
    write_tweeteval_dir(work / "data")
    args = ["--model_name_or_path", str(tiny_model_dir), "--data_dir", str(work / "data"),
            "--output_dir", str(work / "model"), "--max_steps", "4", "--learning_rate", "1e-3",
            "--report_to", "none", "--use_cpu", "--disable_tqdm", "true"]  # fmt: skip
    assert train.main(args) == 0
    return work / "model"
