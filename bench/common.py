"""Shared benchmark helpers: machine description, repeated timing, markdown tables, JSON results."""

import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results"


def machine() -> dict:
    """CPU model, the matrix-unit flags that matter here, core and thread counts, library versions."""
    import torch
    import transformers

    from hatespeech.hardware import cpu_info

    cpu, flags = cpu_info()
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")
    return {
        "cpu": cpu,
        "flags": [f for f in wanted if f in flags],
        "cores": len(__import__("os").sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def median_seconds(run, repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeats`` calls (after one untimed warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def save(name: str, payload: dict) -> Path:
    """Write ``bench/results/<name>-<UTC timestamp>.json`` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path


def describe(info: dict) -> str:
    return (f"{info['cpu']} ({', '.join(info['flags']) or 'no AVX-512/AMX'}), {info['cores']} cores, "
            f"torch {info['torch']} with {info['torch_threads']} threads, transformers {info['transformers']}"
            + (f", GPU {info['gpu']}" if info["gpu"] else ""))  # fmt: skip
