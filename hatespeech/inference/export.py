"""Export a trained model to ONNX (fp32 and int8) beside its weights, with a parity and speed report.

    python -m hatespeech.inference.export onnx outputs/model [--data_dir ../shared/tweeteval/hate]

Writes ``<model>/onnx/model.onnx`` (the fp32 graph, dynamic batch and length), ``model_quantized.onnx``
(ONNX Runtime's dynamic int8: per-channel int8 weights, activations quantized per batch; no
calibration data), ``config.json`` (ORTModelForSequenceClassification reads it from the subfolder)
and ``parity.json``: for every engine, label agreement with the fp32 weights and the macro-F1
change on the TweetEval validation split, and its speed on this CPU. ``Classifier(backend="auto")``
reads that report; an engine that misses :data:`hatespeech.inference.engines.MIN_AGREEMENT` is never chosen
by ``auto`` (it still runs when asked for by name). The push uploads the folder with the model.
"""

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

from hatespeech.errors import first_line
from hatespeech.hardware import cpu_info
from hatespeech.inference.classifier import Classifier
from hatespeech.inference.engines import ENGINES, MAX_F1_DROP, MIN_AGREEMENT, ONNX_FILES, passes_parity
from hatespeech.inference.loading import ModelError, load_model_and_tokenizer
from hatespeech.run_folder import ONNX_DIR, PARITY

logger = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
# Validation texts scored per engine: the whole TweetEval validation split is 1,000.
PARITY_TEXTS = 1000


class ExportError(RuntimeError):
    """The model cannot be exported; one line."""


def export(model_dir: Path, texts: list[str], labels: list[int]) -> dict:
    """The one export path (the CLI and the benchmarks): the graphs, then their parity report on ``texts`` written
    beside them. An earlier report is removed first, so a report always describes the graphs next to it."""
    if not texts:
        raise ExportError("the parity check needs at least one validation text")
    (model_dir / PARITY).unlink(missing_ok=True)
    export_onnx(model_dir)
    report = parity_report(model_dir, texts, labels)
    (model_dir / PARITY).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def export_onnx(model_dir: Path) -> Path:
    """Write the fp32 graph and its int8 form into ``<model_dir>/onnx``; returns that folder."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ExportError("the export needs onnx and onnxruntime: pip install onnx onnxruntime") from None
    tokenizer, network = load_model_and_tokenizer(str(model_dir))
    network.eval()
    names = [name for name in INPUTS if name in tokenizer.model_input_names]
    example = tokenizer(["an example tweet", "and a second, longer example tweet"], padding=True, return_tensors="pt")
    target = model_dir / ONNX_DIR
    target.mkdir(exist_ok=True)
    fp32_path = target / ONNX_FILES["onnx"]
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
    with torch.inference_mode():
        # The TorchScript exporter: the dynamo one needs onnxscript, which this project does not install.
        torch.onnx.export(network, tuple(example[name] for name in names), str(fp32_path), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)  # fmt: skip
    # Matrix products with constant weights in int8, one scale per output channel (bench/int8.py: per tensor kept
    # 92.6% of the labels, per channel 97.4%); ONNX Runtime computes the activations' scale per batch.
    quantize_dynamic(fp32_path, target / ONNX_FILES["onnx-int8"], weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])  # fmt: skip
    shutil.copy(model_dir / "config.json", target / "config.json")
    return target


def parity_report(model_dir: Path, texts: list[str], labels: list[int], repeats: int = 3) -> dict:
    """Each engine's agreement with the fp32 weights, macro-F1 change and speed (median tweets/s) on ``texts``."""
    report: dict = {"cpu": cpu_info()[0], "texts": len(texts), "min_agreement": MIN_AGREEMENT,
                    "max_macro_f1_drop": MAX_F1_DROP, "engines": {}, "speed": {}}  # fmt: skip
    reference, reference_f1 = None, None
    for engine in ENGINES:
        classifier = Classifier(str(model_dir), backend=engine, device="cpu")
        classifier.predict_proba(texts[:64])  # warm-up: first calls allocate
        times, predicted = [], None
        for _ in range(repeats):
            started = time.perf_counter()
            predicted = classifier.decide(classifier.predict_proba(texts)).numpy()
            times.append(time.perf_counter() - started)
        macro_f1 = float(f1_score(labels, predicted, average="macro"))
        if reference is None:
            reference, reference_f1 = predicted, macro_f1
        entry = {"agreement": round(float(np.mean(predicted == reference)), 4), "macro_f1": round(macro_f1, 4),
                 "macro_f1_drop": round(reference_f1 - macro_f1, 4)}  # fmt: skip
        entry["passes"] = passes_parity(entry)
        report["engines"][engine] = entry
        report["speed"][engine] = round(len(texts) / float(np.median(times)), 1)
        logger.info("%s: %s, %.1f tweets/s", engine, entry, report["speed"][engine])
    return report


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"needs at least 1 text, got {number}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hatespeech.inference.export", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="format", required=True)
    onnx = commands.add_parser("onnx", help="ONNX fp32 and int8, with the parity report auto reads.")
    onnx.add_argument("model", type=Path, help="A trained model folder, e.g. outputs/model")
    onnx.add_argument("--data_dir", default="../shared/tweeteval/hate",
                      help="TweetEval layout folder whose validation split the parity check uses.")  # fmt: skip
    onnx.add_argument("--parity_texts", type=_at_least_one, default=PARITY_TEXTS,
                      help="Validation tweets to compare on (at least 1).")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from hatespeech.data.loading import DataArguments, load_split

    try:
        if not (args.model / "config.json").is_file():
            raise ExportError(f"{args.model} holds no trained model (config.json is missing)")
        validation = load_split(DataArguments(data_dir=args.data_dir), "validation")
        count = min(args.parity_texts, len(validation))
        report = export(args.model, validation["text"][:count], validation["label"][:count])
    except (ExportError, ModelError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a read-only or full disk
        print(f"error: cannot write the export into {args.model / ONNX_DIR}: {first_line(err)}", file=sys.stderr)
        return 1
    for engine, entry in report["engines"].items():
        verdict = "passes" if entry["passes"] else "FAILS parity (auto will not choose it)"
        print(f"{engine:10s} labels = fp32 {entry['agreement']:.4f}  macro-F1 {entry['macro_f1']:.4f}  "
              f"{report['speed'][engine]:8.1f} tweets/s  {verdict}")  # fmt: skip
    print(f"Wrote {args.model / ONNX_DIR} (parity on {report['texts']} validation tweets, {report['cpu']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
