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
import os
from pathlib import Path

import numpy as np
import torch

from hatespeech.errors import first_line
from hatespeech.inference.loading import (
    ModelError,
    check_tokenizer,
    load_config,
    load_model_and_tokenizer,
    load_tokenizer,
)
from hatespeech.run_folder import ONNX_DIR, PARITY, run_file

logger = logging.getLogger(__name__)

MIN_AGREEMENT = 0.995
MAX_F1_DROP = 0.005


class EngineUnavailable(RuntimeError):
    """The engine cannot run this model here (no export, or the runtime is not installed); one line."""


class Engine:
    """One way to run the network. A subclass states its ``name``, the ``file`` of the export it runs (None: the
    PyTorch weights), the ``runtime`` library it needs, and its place in ``auto``'s order without a speed
    measured on this CPU (``preference``, lower first); :meth:`open` loads a model for it. Adding an engine is
    adding one subclass: the backends, the export's parity loop and ``auto`` read :data:`REGISTRY`."""

    name: str
    file: str | None = None
    runtime: str | None = None
    preference: int

    @classmethod
    def installed(cls) -> bool:
        from importlib.util import find_spec

        return cls.runtime is None or find_spec(cls.runtime) is not None

    @classmethod
    def open(cls, model: str, revision: str | None, device: torch.device, num_threads: int | None, compile: bool):
        """(tokenizer, config, engine) for ``model`` (:class:`ModelError` or :class:`EngineUnavailable`)."""
        raise NotImplementedError

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Float32 logits of a padded batch of numpy arrays."""
        raise NotImplementedError


class TorchEngine(Engine):
    """The PyTorch weights, in fp32 (bf16: see :class:`TorchBf16Engine`), on the CPU or a GPU."""

    name, preference, dtype = "fp32", 4, torch.float32

    def __init__(self, network: torch.nn.Module, device: torch.device, dtype: torch.dtype, compile: bool = False):
        self.network = network.to(device=device, dtype=dtype).eval()
        if compile:  # about 30 s of warm-up, then ~15% faster: for long batch jobs
            self.network = torch.compile(self.network, dynamic=True)
        self.device = device

    @classmethod
    def open(cls, model, revision, device, num_threads, compile):
        tokenizer, network = load_model_and_tokenizer(model, revision)
        return tokenizer, network.config, cls(network, device, cls.dtype, compile)

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            tensors = {name: torch.from_numpy(values).to(self.device) for name, values in inputs.items()}
            return self.network(**tensors).logits.float().cpu().numpy()


class TorchBf16Engine(TorchEngine):
    """The PyTorch weights cast to bf16 (not autocast: it re-casts every weight on every call)."""

    name, preference, dtype = "bf16", 2, torch.bfloat16


class ExportedEngine(Engine):
    """An engine of the exported ONNX graph (``<model>/onnx/``): on the CPU only, fed the inputs it declares."""

    runtime = "onnxruntime"

    @classmethod
    def open(cls, model, revision, device, num_threads, compile):
        if device.type != "cpu":
            raise ModelError(f"the {cls.name} engine runs on the CPU only; use fp32 or bf16 on {device}")
        tokenizer, config = load_tokenizer(model, revision), load_config(model, revision)
        check_tokenizer(tokenizer, config.vocab_size, model, config)
        return tokenizer, config, cls(onnx_file(model, revision, cls), num_threads)


class OnnxEngine(ExportedEngine):
    """An exported graph in ONNX Runtime (``onnx``: the fp32 graph)."""

    name, file, preference = "onnx", "model.onnx", 3

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


class OnnxInt8Engine(OnnxEngine):
    """The dynamically quantized graph in ONNX Runtime: int8 weights, activations quantized per batch. First in
    ``auto``'s order where it passed parity (bench/inference.py, 2-core AMD EPYC with AVX512-BF16)."""

    name, file, preference = "onnx-int8", "model_quantized.onnx", 0


class OpenVinoEngine(ExportedEngine):
    """The exported ONNX graph compiled by OpenVINO for the CPU (its default precision: bf16 on CPUs with native
    bf16), latency-tuned: one inference request at a time, as the server's one inference thread sends them.

    Compiled models are kept in :func:`openvino_cache_dir` (OpenVINO's ``CACHE_DIR``, keyed by the file, the CPU
    and the runtime's version): a start after the first reads the compiled model instead of converting and
    compiling the ONNX graph again. The export's parity check compiles it once, so even the first server start on
    the machine that exported finds it."""

    name, file, runtime, preference = "openvino", "model.onnx", "openvino", 1

    def __init__(self, path: Path, num_threads: int | None = None):
        try:
            import openvino
        except ImportError:
            raise EngineUnavailable("openvino is not installed (pip install openvino)") from None
        config = {"PERFORMANCE_HINT": "LATENCY"} | ({"INFERENCE_NUM_THREADS": num_threads} if num_threads else {})
        cache = openvino_cache_dir()
        if cache is not None:
            config["CACHE_DIR"] = str(cache)
        try:
            self.compiled = openvino.Core().compile_model(str(path), "CPU", config)
        except Exception as err:  # OpenVINO's own error types: a cut or foreign file
            raise EngineUnavailable(f"{path} cannot be loaded by OpenVINO ({first_line(err)})") from None
        self.request = self.compiled.create_infer_request()
        self.input_names = [port.get_any_name() for port in self.compiled.inputs]

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: inputs[name].astype(np.int64) for name in self.input_names}
        return np.array(self.request.infer(feed)[self.compiled.output(0)], dtype=np.float32)


def openvino_cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/hatespeech/openvino`` (``~/.cache/...`` by default); None (no cache, a warning) where the
    folder cannot be made, as on a read-only home."""
    try:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hatespeech" / "openvino"
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError) as err:  # RuntimeError: a user without a home folder
        logger.warning("OpenVINO compiles without a cache: no cache folder (%s)", first_line(err))
        return None
    return folder


# Every engine, by name; all else is derived from it.
REGISTRY: dict[str, type[Engine]] = {
    engine.name: engine for engine in (TorchEngine, TorchBf16Engine, OnnxEngine, OnnxInt8Engine, OpenVinoEngine)
}
ENGINES = tuple(REGISTRY)
EXPORTED_ENGINES = tuple(name for name, engine in REGISTRY.items() if engine.file)
ONNX_FILES = {name: engine.file for name, engine in REGISTRY.items() if engine.file}
# auto's order without a speed measured on this CPU (bench/inference.py on a 2-core AMD EPYC, AVX512-BF16).
CPU_PREFERENCE = tuple(sorted(REGISTRY, key=lambda name: REGISTRY[name].preference))


def onnx_file(model: str, revision: str | None, engine: type[Engine]) -> Path:
    """The engine's ONNX file, from the model folder or its Hub repo (:class:`EngineUnavailable` when absent)."""
    relative = f"{ONNX_DIR}/{engine.file}"
    path = run_file(model, revision, relative)
    if path is None:
        raise EngineUnavailable(
            f"{model} has no {relative}: run `python -m hatespeech.inference.export onnx <model folder>`"
        )
    return path


def read_parity(model: str, revision: str | None) -> dict:
    """The export's parity report; ``{}`` (auto then chooses among the PyTorch engines) when the model was not
    exported, or the file cannot be read or does not hold the report's shape (logged in one line)."""
    path = run_file(model, revision, PARITY)
    try:
        report = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError) as err:
        logger.warning("%s cannot be read (%s): auto ignores it", path, type(err).__name__)
        return {}
    if report != {} and not _parity_shaped(report):
        logger.warning("%s does not hold a parity report (engines with numeric agreement): auto ignores it", path)
        return {}
    return report


def _parity_shaped(report) -> bool:
    def number(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    if not isinstance(report, dict):
        return False
    engines, speed = report.get("engines"), report.get("speed", {})
    return (isinstance(engines, dict) and isinstance(speed, dict) and isinstance(report.get("cpu", ""), str)
            and all(isinstance(entry, dict) and number(entry.get("agreement")) and number(entry.get("macro_f1_drop"))
                    for entry in engines.values())
            and all(number(value) for value in speed.values()))  # fmt: skip


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
    return {name for name in EXPORTED_ENGINES if REGISTRY[name].installed()}
