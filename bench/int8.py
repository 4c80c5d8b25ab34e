"""Int8 paths compared: speed and label agreement with the fp32 weights, on TweetEval validation.

    python bench/int8.py --model outputs/model --data_dir ../shared/tweeteval/hate

Rows: PyTorch dynamic int8 (``torch.ao`` on every Linear), ONNX Runtime dynamic int8 (per-tensor,
per-channel = the export's ``model_quantized.onnx``, per-channel with the feed-forward output
layers kept in fp32), and OpenVINO static int8 from NNCF (``model_type=TRANSFORMER``, calibrated
on 1024 TweetEval training tweets; skipped without nncf). The exported engines' agreement decides
whether ``auto`` may use them (:data:`hatespeech.inference.engines.MIN_AGREEMENT`); this benchmark shows how
far each int8 path is from it. Validation only: test tweets never steer the choice.
Writes bench/results/int8-<time>.json.
"""

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from common import describe, machine, markdown_table, save

CALIBRATION_TWEETS = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/model")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    args = parser.parse_args()

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from hatespeech.data.loading import DataArguments, load_split
    from hatespeech.inference.classifier import Classifier
    from hatespeech.inference.engines import ONNX_FILES, OnnxEngine
    from hatespeech.inference.export import PARITY_TEXTS, export
    from hatespeech.run_folder import ONNX_DIR

    data = DataArguments(data_dir=args.data_dir)
    validation = load_split(data, "validation")
    texts, train = validation["text"], load_split(data, "train")["text"]
    fp32 = Classifier(args.model, backend="fp32")
    reference = fp32.decide(fp32.predict_proba(texts)).numpy()
    graph = Path(args.model) / ONNX_DIR / ONNX_FILES["onnx"]
    if not graph.is_file():  # the CLI's export, its parity report included
        export(Path(args.model), texts[:PARITY_TEXTS], validation["label"][:PARITY_TEXTS])
    rows, results = [], []

    def measure(name: str, engine) -> None:
        fp32.engine = engine  # the same tokenisation and length batches for every path
        fp32.predict_proba(texts[:64])
        started = time.perf_counter()
        labels = fp32.decide(fp32.predict_proba(texts)).numpy()
        rate = len(texts) / (time.perf_counter() - started)
        agreement = float(np.mean(labels == reference))
        results.append({"path": name, "tweets_per_s": round(rate, 1), "agreement_with_fp32": round(agreement, 4)})
        rows.append([name, f"{rate:.0f}", f"{agreement:.4f}"])

    measure("PyTorch fp32 (reference)", fp32.engine)
    from hatespeech.inference.engines import TorchEngine

    network = torch.ao.quantization.quantize_dynamic(fp32.engine.network, {torch.nn.Linear}, dtype=torch.qint8)
    measure("PyTorch dynamic int8 (torch.ao, every Linear)", TorchEngine(network, torch.device("cpu"), torch.float32))
    ffn_out = [n.name for n in onnx.load(graph).graph.node if re.search(r"layer\.\d+/output/dense/MatMul", n.name)]
    with tempfile.TemporaryDirectory() as scratch:
        for name, options in [
            ("ONNX Runtime dynamic int8, per tensor", {}),
            ("ONNX Runtime dynamic int8, per channel (the export's)", {"per_channel": True}),
            ("ONNX Runtime dynamic int8, per channel, feed-forward outputs fp32",
             {"per_channel": True, "nodes_to_exclude": ffn_out}),
        ]:  # fmt: skip
            path = Path(scratch) / "int8.onnx"
            quantize_dynamic(graph, path, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], **options)
            measure(name, OnnxEngine(path))
        try:
            import nncf
            import openvino
        except ImportError:
            print("nncf or openvino is not installed: no OpenVINO int8 row")
        else:
            encoded = fp32._encode(train[:CALIBRATION_TWEETS])
            calibration = [
                {k: v.astype(np.int64) for k, v in fp32.tokenizer.pad(
                    {name: values[i : i + 16] for name, values in encoded.items()}, return_tensors="np").items()}
                for i in range(0, CALIBRATION_TWEETS, 16)
            ]  # fmt: skip
            core = openvino.Core()
            quantized = nncf.quantize(core.read_model(graph), nncf.Dataset(calibration), subset_size=len(calibration),
                                      model_type=nncf.ModelType.TRANSFORMER)  # fmt: skip
            path = Path(scratch) / "int8.xml"
            openvino.save_model(quantized, path, compress_to_fp16=False)
            from hatespeech.inference.engines import OpenVinoEngine

            measure("OpenVINO static int8 (NNCF, 1024 training tweets)", OpenVinoEngine(path))
    print(f"Machine: {describe(machine())}; model {args.model}; {len(texts)} TweetEval validation tweets\n")
    print(markdown_table(["path", "tweets/s", "labels = fp32"], rows))
    print(f"\nResults: {save('int8', {'model': args.model, 'rows': results})}")


if __name__ == "__main__":
    main()
