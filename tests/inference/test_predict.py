"""predict.py: order, formats, bad lines reported by number, and a large generated file."""

import csv
import json

import predict


def _rows(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_bad_lines_are_reported_and_left_empty(trained_model_dir, tmp_path, capsys):
    source = tmp_path / "tweets.txt"
    lines = [b"nice sunny day", b"", b"\xff broken", b"hi\x00there", b"x" * 1001, "@user deport the vermin 😎".encode()]
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out" / "preds.csv"
    assert predict.main(["--model", str(trained_model_dir), "--input", str(source), "--output", str(out)]) == 0
    rows = _rows(out)
    assert [r["line"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert [bool(r["label"]) for r in rows] == [True, False, False, False, False, True]
    assert rows[5]["text"] == "@user deport the vermin 😎"
    assert abs(float(rows[0]["p_hate"]) + float(rows[0]["p_not_hate"]) - 1) < 1e-5
    err = capsys.readouterr().err
    for expected in ("line 2 is empty", "line 3 is not valid UTF-8", "line 4 contains a NUL byte",
                     "line 5 is 1001 characters long; the limit is 1000"):  # fmt: skip
        assert expected in err


def test_csv_and_jsonl_inputs_with_tweeteval_output(trained_model_dir, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('id,tweet\n1,"hello, world"\n2,go back invaders\n3\n')
    out = tmp_path / "preds.txt"
    args = ["--model", str(trained_model_dir), "--input", str(source), "--output", str(out), "--text_column", "tweet"]
    assert predict.main([*args, "--format", "tweeteval"]) == 0
    labels = out.read_text().split("\n")
    assert labels[:3] == [labels[0], labels[1], ""] and labels[0] in {"0", "1"}  # line 3 has no tweet field

    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(json.dumps({"text": "nice day"}) + "\n{oops\n" + json.dumps({"txt": "x"}) + "\n"
                     + json.dumps({"text": "ab\ud800cd"}) + "\n")  # fmt: skip
    out_csv = tmp_path / "preds.csv"
    assert predict.main(["--model", str(trained_model_dir), "--input", str(jsonl), "--output", str(out_csv)]) == 0
    assert [r["error"] for r in _rows(out_csv)] == [
        "", "line 2 is not valid JSON (Expecting property name enclosed in double quotes)",
        "line 3 has no string 'text' field", "line 4 is not valid UTF-8"]  # fmt: skip


def test_large_file_streams_in_chunks_and_keeps_order(trained_model_dir, tmp_path):
    source = tmp_path / "big.txt"
    with source.open("w") as handle:
        for i in range(20_000):
            handle.write(f"tweet {i} {'love nice day' if i % 2 else 'go back invaders'}\n")
    out = tmp_path / "big.csv"
    args = ["--model", str(trained_model_dir), "--input", str(source), "--output", str(out), "--chunk_size", "3000"]
    assert predict.main([*args, "--batch_size", "256"]) == 0
    rows = _rows(out)
    assert len(rows) == 20_000
    assert rows[12_345]["text"] == "tweet 12345 love nice day" and rows[12_345]["line"] == "12346"


def test_missing_input_and_missing_column(trained_model_dir, tmp_path, capsys):
    assert predict.main(["--model", str(trained_model_dir), "--input", "nope.txt", "--output", "x.csv"]) == 2
    source = tmp_path / "in.csv"
    source.write_text("id,body\n1,hi\n")
    assert (
        predict.main(["--model", str(trained_model_dir), "--input", str(source), "--output", str(tmp_path / "o")]) == 2
    )
    assert "no 'text' column" in capsys.readouterr().err


def test_backend_options_reach_the_classifier(trained_model_dir, tmp_path):
    source = tmp_path / "tweets.txt"
    source.write_text("nice sunny day\ngo back invaders\n")
    common = ["--model", str(trained_model_dir), "--input", str(source)]
    p_hate = {}
    for backend in ("fp32", "bf16"):
        out = tmp_path / f"{backend}.csv"
        assert predict.main([*common, "--output", str(out), "--backend", backend, "--max_batch_tokens", "8"]) == 0
        p_hate[backend] = [float(row["p_hate"]) for row in _rows(out)]
    # bf16 rounds differently from fp32: identical probabilities would mean --backend was ignored.
    assert p_hate["fp32"] != p_hate["bf16"]
    assert all(abs(a - b) < 0.02 for a, b in zip(p_hate["fp32"], p_hate["bf16"], strict=True))
