"""Each row of docs/input_limits.md, run through the REST upload, the Gradio batch tab and predict.py."""

from pathlib import Path

import httpx
import pytest
from helpers.serving_fixtures import serve

import app as app_module
import predict

DOC = Path(__file__).resolve().parents[2] / "docs" / "input_limits.md"
# The file behind each row of the verdict table.
INPUTS = {
    "a NUL byte on line 2": ("t.txt", b"nice day\nbad\x00line\n"),
    "a 1,001-character tweet on line 2": ("t.txt", b"nice day\n" + b"y" * 1001 + b"\n"),
    "bytes that are not UTF-8 on line 2": ("t.txt", b"nice day\n\xff\xfe bad\n"),
    "zero-width characters only on line 2": ("t.txt", "nice day\n\u200b\u200d\ngo back\n".encode()),
    "a .jsonl line that is not JSON": ("t.jsonl", b'{"text": "nice day"}\nnot json\n'),
    "a .jsonl line without a string text field": ("t.jsonl", b'{"text": "nice day"}\n{"text": 5}\n'),
    "a .csv row with a missing field": ("t.csv", b"id,text\n1,nice day\n2\n"),
    "a .csv without the text column": ("t.csv", b"id,body\n1,hi\n"),
    "a .csv with a quoted newline": ("t.csv", b'id,text\n1,"nice\nday"\n2,go back\n'),
    "a file with no tweets": ("t.txt", b"\n \n"),
}


def verdict_rows() -> list[dict]:
    lines = DOC.read_text(encoding="utf-8").split("| input | message |", 1)[1].splitlines()
    header = ["input", "message", "REST", "UI", "predict.py"]
    rows = [dict(zip(header, [c.strip() for c in line.strip("|").split("|")], strict=True)) for line in lines[2:]
            if line.startswith("|")]  # fmt: skip
    assert {row["input"] for row in rows} == set(INPUTS), "every documented row has its input here"
    return rows


ROWS = verdict_rows()


@pytest.fixture(scope="module")
def base_url(trained_model_dir):
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        yield url


def _row_id(row):
    return row["input"]


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_rest(base_url, row):
    name, content = INPUTS[row["input"]]
    response = httpx.post(f"{base_url}/predict_labels_tweets_file", files={"file": (name, content)}, timeout=60)
    if row["REST"] == "refused":
        assert response.status_code == 422 and response.json()["detail"] == row["message"]
    else:
        assert response.status_code == 200, response.text
        assert row["REST"] in ("classified", "skipped")
        assert all(p["label"] in {"hate", "not-hate"} for p in response.json())


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_ui(base_url, row, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    name, content = INPUTS[row["input"]]
    (tmp_path / name).write_bytes(content)
    client = Client(base_url, verbose=False)
    if row["UI"] == "refused":
        with pytest.raises(AppError, match=row["message"].replace("[", r"\[").replace("]", r"\]")):
            client.predict(handle_file(str(tmp_path / name)), "text", api_name="/predict_file")
        return
    table, _ = client.predict(handle_file(str(tmp_path / name)), "text", api_name="/predict_file")
    errors = [line[-1] for line in table["data"] if line[-1]]
    assert errors == ([row["message"]] if row["UI"] == "error row" else [])


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_predict_py(trained_model_dir, row, tmp_path, capsys):
    name, content = INPUTS[row["input"]]
    (tmp_path / name).write_bytes(content)
    status = predict.main(["--model", str(trained_model_dir), "--input", str(tmp_path / name),
                           "--output", str(tmp_path / "out.csv")])  # fmt: skip
    err = capsys.readouterr().err
    expected = {"refused": 2, "nothing classified": 1, "error row": 0, "classified": 0}[row["predict.py"]]
    assert status == expected, err
    if row["predict.py"] == "refused":
        assert err.strip().endswith(row["message"])
    elif row["predict.py"] == "error row":
        assert row["message"] in err.splitlines()
    elif row["predict.py"] == "nothing classified":
        assert "no tweet could be classified" in err


def limits_rows() -> dict[str, str]:
    """The limits table (the first one of the document): what -> limit."""
    table = DOC.read_text(encoding="utf-8").split("| what | limit |", 1)[1].split("\n\n", 1)[0]
    cells = [line.strip("|").split("|") for line in table.splitlines()[2:] if line.startswith("|")]
    return {cell[0].strip(): cell[1].strip() for cell in cells}


def test_training_data_and_run_folder_rows_hold(train_args, tmp_path, capsys):
    """The documented training-data and run-folder limits, each answered by train.py in one line (exit 2)."""
    from conftest import write_sources

    import train

    rows = limits_rows()
    data_row = next(limit for what, limit in rows.items() if what.startswith("training data"))
    folder_row = next(limit for what, limit in rows.items() if what.startswith("run folder"))
    assert "names each source once" in data_row and "--overwrite_output_dir true" in folder_row
    sources = tmp_path / "sources"
    write_sources(sources, "no leak")
    quick = [*train_args, "--max_steps", "1", "--save_strategy", "no", "--load_best_model_at_end", "false",
             "--sources_dir", str(sources)]  # fmt: skip
    refused = {
        ("--sources", "davidson", "davidson:5"): "names ['davidson'] more than once",
        ("--sources", "davidson:0"): "at least 1",
        ("--source_temperature", "2"): "give --sources too",
        ("--sources", "davidson", "--holdout_sources", "mlma"): "not a source of this run",
    }
    for extra, message in refused.items():
        assert train.main([*quick, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1]
    assert train.main(quick) == 0
    assert train.main(quick) == 2 and "holds an earlier run" in capsys.readouterr().err
    assert train.main([*quick, "--overwrite_output_dir", "true"]) == 0
