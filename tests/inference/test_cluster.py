"""predict.py --cluster on a real two-node Ray cluster on loopback (tests/helpers/ray_cluster.py): the same labels
as the one-process path, a folder of files in every format, bad rows reported by file and line, and a killed
model actor that costs no row and doubles none. The plan of pieces is checked without a cluster."""

import csv
import json
import random
import sys
from pathlib import Path

import pytest
from conftest import COMMON_WORDS, HATE_WORDS, NEUTRAL_WORDS

import predict
from hatespeech.inference.cluster import Piece, output_paths, plan_pieces, read_piece, total_rows

pytest.importorskip("ray", reason="the cluster extra is not installed (pip install -e .[cluster])")
from helpers.ray_cluster import available, run_on_cluster  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
needs_cluster = pytest.mark.skipif(available() is not None, reason=str(available()))


def tweets(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = HATE_WORDS + NEUTRAL_WORDS + COMMON_WORDS
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 20))) for _ in range(n)]


def test_pieces_cover_every_line_once_in_order_with_its_number(tmp_path):
    source = tmp_path / "t.txt"
    texts = tweets(1003)
    texts[500] = ""  # a bad line keeps its number
    source.write_bytes("\ufeff".encode() + "\n".join(texts).encode() + b"\n")  # a byte-order mark, as Excel writes
    pieces = plan_pieces(source, lines_per_piece=100)
    assert len(pieces) == 11 and [p.first_line for p in pieces] == list(range(1, 1002, 100))
    records = [record for piece in pieces for record in read_piece(piece, "text")]
    assert [r.line for r in records] == list(range(1, 1004))
    assert [r.text for r in records if r.line != 501] == [t for i, t in enumerate(texts) if i != 500]
    assert records[500].error == "is empty"
    assert total_rows(pieces) == 1003  # from the plan and the last piece, without reading the file again
    csv_file = tmp_path / "t.csv"
    csv_file.write_text('text\n"a quoted\nline break"\nplain\n')
    assert plan_pieces(csv_file, 1) == [Piece(str(csv_file), 0, -1, 1)]  # quoted fields may span lines: whole
    assert [r.line for r in read_piece(plan_pieces(csv_file)[0], "text")] == [2, 4]


def test_one_output_per_input(tmp_path):
    files = [tmp_path / "a.txt", tmp_path / "b.parquet"]
    assert output_paths(files, tmp_path / "out", "csv") == {
        str(files[0]): tmp_path / "out" / "a.txt.predictions.csv",
        str(files[1]): tmp_path / "out" / "b.parquet.predictions.csv",
    }
    assert output_paths(files[:1], tmp_path / "p.parquet", "parquet") == {str(files[0]): tmp_path / "p.parquet"}


def test_the_driver_writes_each_input_in_order_in_every_format_and_an_empty_input_too(tmp_path, capsys):
    import pyarrow.parquet as pq

    from hatespeech.inference.cluster import write_outputs

    def row(file: str, line: int, error: str = "") -> dict:
        good = not error
        return {"file": file, "line": line, "text": "" if error else f"tweet {line}", "error": error,
                "label": "hate" if good else None, "score": 0.8 if good else None,
                "p_not_hate": 0.2 if good else None, "p_hate": 0.8 if good else None}  # fmt: skip

    rows = [row("a.txt", 1), row("a.txt", 2, "is empty"), row("a.txt", 3), row("b.txt", 1)]
    for output_format in ("csv", "parquet"):
        paths = {name: tmp_path / output_format / f"{name}.out" for name in ("a.txt", "b.txt", "empty.txt")}
        assert write_outputs(iter(rows), paths, output_format) == (3, 1)
        if output_format == "parquet":
            written = pq.read_table(paths["a.txt"]).to_pylist()
            assert [(r["line"], r["label"], r["error"]) for r in written] == [
                (1, "hate", None), (2, None, "line 2 is empty"), (3, "hate", None)]  # fmt: skip
            assert pq.read_table(paths["empty.txt"]).num_rows == 0
        else:
            assert [r["line"] for r in csv.DictReader(paths["a.txt"].open())] == ["1", "2", "3"]
            assert paths["empty.txt"].read_text().startswith("line,text,label")  # the header alone
    assert "a.txt: line 2 is empty" in capsys.readouterr().err


@needs_cluster
@pytest.mark.slow
def test_the_cluster_gives_the_one_process_labels_on_a_folder_of_every_format(trained_model_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = tweets(10_000)
    (corpus / "big.txt").write_text("\n".join(texts) + "\n")
    with (corpus / "small.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["id", "text"], [1, "go back invaders"], [2, "a\nline break"], [3], [4, "ok"]])
    (corpus / "rows.jsonl").write_text('{"text": "nice day"}\nnot json\n{"text": "deport them"}\n')
    pq.write_table(pa.table({"text": texts[:300]}), corpus / "rows.parquet", row_group_size=100)
    for name in ("big.txt", "small.csv", "rows.jsonl"):  # the one-process path on the same files
        assert predict.main(["--model", str(trained_model_dir), "--input", str(corpus / name),
                             "--output", str(tmp_path / "single" / f"{name}.csv")]) in (0, 1)  # fmt: skip
    command = [
        sys.executable,
        str(REPO_ROOT / "predict.py"),
        "--cluster",
        "auto",
        "--actors",
        "2",
        "--model",
        str(trained_model_dir),
        "--input",
        str(corpus),
        "--output",
        str(tmp_path / "out"),
    ]
    result = run_on_cluster(command, tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "10305 tweet(s) classified" in result.stdout and "2 bad line(s)" in result.stdout
    assert "small.csv: line 5 has 1 fields; the header has 2" in result.stderr  # by file and line
    assert "rows.jsonl: line 2 is not valid JSON" in result.stderr
    for name in ("big.txt", "small.csv", "rows.jsonl"):
        cluster = list(csv.DictReader((tmp_path / "out" / f"{name}.predictions.csv").open()))
        single = list(csv.DictReader((tmp_path / "single" / f"{name}.csv").open()))
        assert [(r["line"], r["label"], r["error"]) for r in cluster] == [
            (r["line"], r["label"], r["error"]) for r in single], name  # fmt: skip
        assert all(abs(float(a["p_hate"]) - float(b["p_hate"])) < 1e-4 for a, b in zip(cluster, single, strict=True)
                   if a["p_hate"])  # fmt: skip
    parquet = list(csv.DictReader((tmp_path / "out" / "rows.parquet.predictions.csv").open()))
    big = list(csv.DictReader((tmp_path / "single" / "big.txt.csv").open()))
    assert [(r["line"], r["label"]) for r in parquet] == [(r["line"], r["label"]) for r in big[:300]]


@needs_cluster
@pytest.mark.slow
def test_a_killed_model_actor_costs_no_row_and_doubles_none(trained_model_dir, tmp_path):
    source = tmp_path / "t.txt"
    source.write_text("\n".join(tweets(6_000, seed=1)) + "\n")
    out = tmp_path / "got.json"
    driver = REPO_ROOT / "tests" / "helpers" / "cluster_driver.py"
    result = run_on_cluster([sys.executable, str(driver), str(trained_model_dir), str(source), str(out)], tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["killed"], "no actor was killed"
    assert [line for line, _ in got["rows"]] == list(range(1, 6001))  # every row exactly once, in order
    assert all(label in ("hate", "not-hate") for _, label in got["rows"])
