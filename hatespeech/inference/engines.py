"""The engines that run the network for :class:`hatespeech.inference.classifier.Classifier`.

``fp32`` and ``bf16`` run the PyTorch weights; the others run the files that
``python -m hatespeech.inference.export onnx`` writes beside them: ``onnx`` and ``onnx-int8`` run
``onnx/model.onnx`` and its dynamically quantized ``onnx/model_quantized.onnx`` with ONNX Runtime,
``openvino`` compiles ``onnx/model.onnx`` with OpenVINO at its default precision for the CPU (bf16
where the CPU has native bf16, fp32 elsewhere). Every engine takes a padded batch of numpy arrays
and returns float32 logits, so the Classifier treats them alike.

``auto`` picks, on a CPU, the fastest engine that passed the export's parity check
(``onnx/parity.json``: labels equal to the fp32 weights' on at least :data:`MIN_AGREEMENT` of the
validation texts, macro-F1 within :data:`MAX_F1_DROP`), by the speed the export measured when it
ran on this CPU; without a measurement for this CPU it takes the first passing engine of
:data:`CPU_PREFERENCE`. On a GPU it keeps bf16 (fp32 where bf16 is missing).
"""

import json
import logging
from pathlib import Path

import numpy as np
import torch

from hatespeech.errors import first_line
from hatespeech.run_folder import ONNX_DIR, PARITY, run_file

logger = logging.getLogger(__name__)

TORCH_ENGINES = ("fp32", "bf16")
EXPORTED_ENGINES = ("onnx", "onnx-int8", "openvino")
ENGINES = TORCH_ENGINES + EXPORTED_ENGINES
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_quantized.onnx", "openvino": "model.onnx"}
MIN_AGREEMENT = 0.995
MAX_F1_DROP = 0.005
# Without a speed measured on this CPU, the order of bench/inference.py on a 2-core AMD EPYC (AVX512-BF16):
# int8 first (when it passed), OpenVINO (bf16 there), PyTorch bf16 where native, ONNX Runtime fp32, PyTorch fp32.
CPU_PREFERENCE = ("onnx-int8", "openvino", "bf16", "onnx", "fp32")


class EngineUnavailable(RuntimeError):
    """The engine cannot run this model here (no export, or the runtime is not installed); one line."""


class TorchEngine:
    """The PyTorch weights, in fp32 or as bf16 weights (not autocast: it re-casts every weight on every call)."""

    def __init__(self, network: torch.nn.Module, device: torch.device, dtype: torch.dtype, compile: bool = False):
        self.network = network.to(device=device, dtype=dtype).eval()
        if compile:  # about 30 s of warm-up, then ~15% faster: for long batch jobs
            self.network = torch.compile(self.network, dynamic=True)
        self.device = device

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            tensors = {name: torch.from_numpy(values).to(self.device) for name, values in inputs.items()}
            return self.network(**tensors).logits.float().cpu().numpy()


class OnnxEngine:
    """An exported graph in ONNX Runtime, fed only the inputs the graph declares."""

    def __init__(self, path: Path, num_threads: int | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise EngineUnavailable("onnxruntime is not installed (pip install onnxruntime)") from None
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime's own error types: a cut or foreign file
            raise EngineUnavailable(f"{path} cannot be loaded by ONNX Runtime ({first_line(err)})") from None
        self.input_names = [node.name for node in self.session.get_inputs()]

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: inputs[name].astype(np.int64) for name in self.input_names}
        return self.session.run(None, feed)[0].astype(np.float32)


class OpenVinoEngine:
    """The exported ONNX graph compiled by OpenVINO for the CPU (its default precision: bf16 on CPUs with native
    bf16), latency-tuned: one inference request at a time, as the server's one inference thread sends them."""

    def __init__(self, path: Path, num_threads: int | None = None):
        try:
            import openvino
        except ImportError:
            raise EngineUnavailable("openvino is not installed (pip install openvino)") from None
        config = {"PERFORMANCE_HINT": "LATENCY"} | ({"INFERENCE_NUM_THREADS": num_threads} if num_threads else {})
        try:
            self.compiled = openvino.Core().compile_model(str(path), "CPU", config)
        except Exception as err:  # OpenVINO's own error types: a cut or foreign file
            raise EngineUnavailable(f"{path} cannot be loaded by OpenVINO ({first_line(err)})") from None
        self.request = self.compiled.create_infer_request()
        self.input_names = [port.get_any_name() for port in self.compiled.inputs]

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: inputs[name].astype(np.int64) for name in self.input_names}
        return np.array(self.request.infer(feed)[self.compiled.output(0)], dtype=np.float32)


EXPORTED = {"onnx": OnnxEngine, "onnx-int8": OnnxEngine, "openvino": OpenVinoEngine}


def onnx_file(model: str, revision: str | None, engine: str) -> Path:
    """The engine's ONNX file, from the model folder or its Hub repo (:class:`EngineUnavailable` when absent)."""
    relative = f"{ONNX_DIR}/{ONNX_FILES[engine]}"
    path = run_file(model, revision, relative)
    if path is None:
        raise EngineUnavailable(
            f"{model} has no {relative}: run `python -m hatespeech.inference.export onnx <model folder>`"
        )
    return path


def read_parity(model: str, revision: str | None) -> dict:
    """The export's parity report (``{}`` when the model was not exported or the file cannot be read)."""
    path = run_file(model, revision, PARITY)
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):  # a damaged report: auto simply chooses among the PyTorch engines
        return {}


def passes_parity(entry: dict) -> bool:
    return entry.get("agreement", 0.0) >= MIN_AGREEMENT and entry.get("macro_f1_drop", 1.0) <= MAX_F1_DROP


def choose_cpu_engine(parity: dict, cpu: str, native_bf16: bool, runtimes: set[str]) -> str:
    """``auto`` on a CPU: the fastest engine that passed parity, by the export's timing on this CPU; ``runtimes``:
    the exported engines whose runtime is installed (:func:`installed_runtimes`)."""
    candidates = ["fp32"] + (["bf16"] if native_bf16 else [])
    candidates += [engine for engine in EXPORTED_ENGINES if engine in runtimes
                   and passes_parity(parity.get("engines", {}).get(engine, {}))]  # fmt: skip
    speeds = parity.get("speed", {}) if parity.get("cpu") == cpu else {}
    if all(engine in speeds for engine in candidates):
        return max(candidates, key=speeds.__getitem__)
    return next(engine for engine in CPU_PREFERENCE if engine in candidates)


def installed_runtimes() -> set[str]:
    """The exported engines whose runtime library is installed."""
    from importlib.util import find_spec

    return ({"onnx", "onnx-int8"} if find_spec("onnxruntime") else set()) | (
        {"openvino"} if find_spec("openvino") else set()
    )
