"""What the machine can do: the CPU's model and matrix-unit flags, read once from /proc/cpuinfo."""

import platform
from functools import cache
from pathlib import Path

import torch


@cache
def cpu_info() -> tuple[str, frozenset[str]]:
    """(model name, feature flags) of the first CPU; the flags are empty where /proc is absent."""
    fields: dict[str, str] = {}
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())  # the first CPU's values
    model = fields.get("model name") or platform.processor() or platform.machine()
    return model, frozenset(fields.get("flags", "").split())


def cpu_has_bf16_matmul() -> bool:
    """True on CPUs with AMX or AVX-512 BF16, where bf16 is fast rather than emulated."""
    flags = cpu_info()[1]
    return "amx_bf16" in flags or "avx512_bf16" in flags


def describe_hardware() -> str:
    """A one-line description of the machine that trained the model."""
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"CPU: {cpu_info()[0]}, {torch.get_num_threads()} threads"
