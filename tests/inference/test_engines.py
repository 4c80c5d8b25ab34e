"""Inference engines: each one's parity with the fp32 weights on a tiny model, the export, and auto's choice."""

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import make_tweets

from hatespeech.inference.classifier import Classifier, ModelError
from hatespeech.inference.engines import ENGINES, choose_cpu_engine, installed_runtimes, read_parity
from hatespeech.run_folder import ONNX_DIR, PARITY

pytest.importorskip("onnxruntime", reason="the ONNX engines need onnxruntime (requirements.txt)")
PARITY_FILE = PARITY.removeprefix(f"{ONNX_DIR}/")
TEXTS = make_tweets(40, seed=7)[0] + ["@Bob_99 go back invaders https://t.co/x1", "", "nice " * 40]


@pytest.fixture(scope="module")
def exported_model_dir(trained_model_dir, tmp_path_factory):
    """A copy of the trained tiny model with ``python -m hatespeech.inference.export onnx`` run on it."""
    from hatespeech.inference import export

    folder = tmp_path_factory.mktemp("exported") / "model"
    shutil.copytree(trained_model_dir, folder)
    data_dir = trained_model_dir.parent / "data"
    assert export.main(["onnx", str(folder), "--data_dir", str(data_dir), "--parity_texts", "16"]) == 0
    return folder


def test_export_writes_both_graphs_config_and_a_parity_report(exported_model_dir):
    onnx_dir = exported_model_dir / ONNX_DIR
    assert {"model.onnx", "model_quantized.onnx", "config.json", PARITY_FILE} <= {p.name for p in onnx_dir.iterdir()}
    assert (onnx_dir / "model_quantized.onnx").stat().st_size < (onnx_dir / "model.onnx").stat().st_size
    report = json.loads((onnx_dir / PARITY_FILE).read_text())
    assert set(report["engines"]) == set(ENGINES) and report["texts"] == 16
    assert report["engines"]["fp32"] == {"agreement": 1.0, "macro_f1": report["engines"]["fp32"]["macro_f1"],
                                         "macro_f1_drop": 0.0, "passes": True}  # fmt: skip
    assert all(report["speed"][engine] > 0 for engine in ENGINES)


# openvino: bf16 on CPUs with native bf16 (fp32 elsewhere), so the bf16 tolerance.
ENGINE_TOLERANCES = [("bf16", 0.02), ("onnx", 1e-3), ("onnx-int8", 0.03), ("openvino", 0.02)]


@pytest.mark.parametrize(("engine", "tolerance"), ENGINE_TOLERANCES)
def test_every_engine_answers_like_the_fp32_weights(exported_model_dir, engine, tolerance):
    if engine == "openvino":
        pytest.importorskip("openvino", reason="the openvino engine needs openvino (requirements.txt)")
    reference = Classifier(str(exported_model_dir), backend="fp32").predict_proba(TEXTS)
    classifier = Classifier(str(exported_model_dir), backend=engine)
    probabilities = classifier.predict_proba(TEXTS)
    assert probabilities.shape == reference.shape and probabilities.dtype == torch.float32
    assert torch.allclose(probabilities, reference, atol=tolerance)
    # Labels equal wherever fp32 is not within the engine's tolerance of a tie.
    clear = (reference[:, 1] - 0.5).abs() > tolerance
    assert torch.equal(probabilities.argmax(-1)[clear], reference.argmax(-1)[clear])
    # The run's settings come from the saved model whatever runs it: its length and its normaliser.
    assert classifier.max_length == classifier.config.max_seq_length and not classifier.normalize
    assert [p.label for p in classifier.classify(TEXTS[:3])] == [classifier.id2label[int(i)] for i in
                                                                 probabilities[:3].argmax(-1)]  # fmt: skip


def test_onnx_engines_refuse_a_missing_export_and_a_foreign_tokenizer(trained_model_dir, exported_model_dir, tmp_path):
    with pytest.raises(ModelError, match="python -m hatespeech.inference.export onnx"):
        Classifier(str(trained_model_dir), backend="onnx")
    foreign = tmp_path / "foreign"
    shutil.copytree(exported_model_dir, foreign)
    from transformers import BertTokenizerFast

    # A tokenizer of another model: more tokens than this model embeds.
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"word{i}" for i in range(500)]
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(words)})
    tokenizer.save_pretrained(foreign)
    with pytest.raises(ModelError, match="do not belong together"):
        Classifier(str(foreign), backend="onnx-int8")
    (foreign / ONNX_DIR / "model.onnx").write_bytes(b"not a graph")
    shutil.copy(exported_model_dir / "tokenizer.json", foreign / "tokenizer.json")
    shutil.copy(exported_model_dir / "tokenizer_config.json", foreign / "tokenizer_config.json")
    with pytest.raises(ModelError, match="cannot be loaded by ONNX Runtime"):
        Classifier(str(foreign), backend="onnx")


def test_auto_takes_the_fastest_engine_that_passed_parity_on_this_cpu():
    passed, failed = {"agreement": 1.0, "macro_f1_drop": 0.0}, {"agreement": 0.97, "macro_f1_drop": 0.004}
    engines = {"fp32": passed, "bf16": passed, "onnx": passed, "onnx-int8": failed, "openvino": failed}
    speed = {"fp32": 100.0, "bf16": 300.0, "onnx": 200.0, "onnx-int8": 900.0, "openvino": 500.0}
    report = {"cpu": "Test CPU", "engines": engines, "speed": speed}
    every = {"onnx", "onnx-int8", "openvino"}
    # int8 and OpenVINO are faster but lost labels: never chosen.
    assert choose_cpu_engine(report, "Test CPU", native_bf16=True, runtimes=every) == "bf16"
    assert choose_cpu_engine(report, "Test CPU", native_bf16=False, runtimes=every) == "onnx"
    assert choose_cpu_engine(report, "Test CPU", native_bf16=False, runtimes=set()) == "fp32"
    report["engines"]["openvino"] = passed
    assert choose_cpu_engine(report, "Test CPU", native_bf16=True, runtimes=every) == "openvino"
    assert choose_cpu_engine(report, "Test CPU", native_bf16=True, runtimes={"onnx", "onnx-int8"}) == "bf16"
    report["engines"]["onnx-int8"] = passed
    assert choose_cpu_engine(report, "Test CPU", native_bf16=True, runtimes=every) == "onnx-int8"
    # Timed on another CPU: the fixed preference among the engines that passed.
    report["speed"]["onnx-int8"] = 1.0
    assert choose_cpu_engine(report, "Other CPU", native_bf16=True, runtimes=every) == "onnx-int8"
    assert choose_cpu_engine(report, "Test CPU", native_bf16=True, runtimes=every) == "openvino"
    # No export at all: bf16 where the CPU has it natively, else fp32.
    assert choose_cpu_engine({}, "Test CPU", native_bf16=True, runtimes=every) == "bf16"
    assert choose_cpu_engine({}, "Test CPU", native_bf16=False, runtimes=every) == "fp32"


def test_auto_reads_the_exported_report(exported_model_dir, monkeypatch):
    report_path = exported_model_dir / ONNX_DIR / PARITY_FILE
    report = json.loads(report_path.read_text())
    monkeypatch.setattr("hatespeech.inference.classifier.cpu_has_bf16_matmul", lambda: False)
    fastest = max((e for e, entry in report["engines"].items() if entry["passes"] and e != "bf16"
                   and (e != "openvino" or installed_runtimes() >= {"openvino"})),
                  key=report["speed"].__getitem__)  # fmt: skip
    assert Classifier(str(exported_model_dir)).backend == fastest
    probabilities = np.asarray(Classifier(str(exported_model_dir)).predict_proba(TEXTS[:4]))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


BAD_REPORTS = ['{"engines": {"onnx": "yes"}}', '{"engines": {"onnx": {"agreement": "high"}}}', "[1, 2]", "5",
               '{"engines": {}, "speed": {"onnx": "fast"}}', "not json"]  # fmt: skip


@pytest.mark.parametrize("report", BAD_REPORTS)
def test_a_parity_report_of_the_wrong_shape_is_ignored(exported_model_dir, tmp_path, report, monkeypatch):
    """Finding 18: wrong types in parity.json were an AttributeError or TypeError in every front end."""
    folder = tmp_path / "model"
    shutil.copytree(exported_model_dir, folder)
    (folder / PARITY).write_text(report)
    monkeypatch.setattr("hatespeech.inference.classifier.cpu_has_bf16_matmul", lambda: False)
    assert read_parity(str(folder), None) == {}
    assert Classifier(str(folder)).backend == "fp32"  # auto among the PyTorch engines


def test_the_export_refuses_no_parity_texts_and_never_leaves_a_stale_report(exported_model_dir, tmp_path, capsys):
    """Finding 8: --parity_texts -995 checked 5 texts and every engine passed; --parity_texts 0 after an export
    rewrote the graphs, failed and left the old report beside them."""
    from hatespeech.inference import export

    folder = tmp_path / "model"
    shutil.copytree(exported_model_dir, folder)
    for count in ("0", "-995"):
        with pytest.raises(SystemExit) as refused:
            export.main(["onnx", str(folder), "--parity_texts", count])
        assert refused.value.code == 2 and "needs at least 1 text" in capsys.readouterr().err
    with pytest.raises(export.ExportError, match="at least one validation text"):
        export.export(folder, [], [])
    assert (folder / PARITY).exists()  # nothing was exported: the report still describes the graphs beside it

    def fail(*args):
        raise RuntimeError("the parity check stopped")

    export.parity_report, original = fail, export.parity_report
    try:
        with pytest.raises(RuntimeError):
            export.export(folder, ["a tweet"], [0])
    finally:
        export.parity_report = original
    assert not (folder / PARITY).exists()  # new graphs, no report for them: auto never trusts an unchecked export


def test_a_read_only_model_folder_is_one_line(trained_model_dir, exported_model_dir, tmp_path, capsys, monkeypatch):
    from hatespeech.inference import export

    folder = tmp_path / "model"
    shutil.copytree(exported_model_dir, folder)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(export, "export_onnx", refuse)
    assert export.main(["onnx", str(folder), "--data_dir", str(trained_model_dir.parent / "data")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot write the export into")


def test_int8_asked_for_by_name_says_that_it_depends_on_the_batch(exported_model_dir, caplog):
    """Finding 9: dynamic int8's scales come from each batch, so a tweet's probability moves with its neighbours."""
    Classifier(str(exported_model_dir), backend="onnx-int8")
    assert any("quantises activations per batch" in record.message for record in caplog.records)


def test_openvino_compiles_once_and_reads_its_cache_after(exported_model_dir, tmp_path, monkeypatch):
    """The cold start: the compiled model is kept under $XDG_CACHE_HOME and read back by the next start."""
    pytest.importorskip("openvino", reason="the openvino engine needs openvino (requirements.txt)")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = tmp_path / "cache" / "hatespeech" / "openvino"
    first = Classifier(str(exported_model_dir), backend="openvino").predict_proba(TEXTS)
    cached = {path: path.stat().st_mtime_ns for path in cache.iterdir()}
    assert cached, "the first start wrote the compiled model"
    second = Classifier(str(exported_model_dir), backend="openvino").predict_proba(TEXTS)
    assert torch.equal(first, second)
    assert {path: path.stat().st_mtime_ns for path in cache.iterdir()} == cached  # read, not written again


def test_openvino_without_a_writable_cache_still_serves(exported_model_dir, tmp_path, monkeypatch, caplog):
    pytest.importorskip("openvino", reason="the openvino engine needs openvino (requirements.txt)")
    (tmp_path / "a file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a file"))
    with caplog.at_level("WARNING"):
        probabilities = Classifier(str(exported_model_dir), backend="openvino").predict_proba(TEXTS[:4])
    assert probabilities.shape == (4, 2)
    assert "OpenVINO compiles without a cache" in caplog.text
