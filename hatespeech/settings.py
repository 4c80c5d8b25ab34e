"""Every environment variable of the server (``app.py``) and of the Hub client, in one place, validated at start.

A wrong value stops the program with one line that names each wrong variable, what it holds and what it needs
(:class:`SettingsError`); an empty variable counts as unset. docs/settings.md shows :func:`table`.
"""

import os
import re
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hatespeech.monitoring import DEFAULT_WINDOW, MAX_WINDOW

# The engines' names (hatespeech.inference.engines.REGISTRY, which this root module may not import; a test keeps
# the two alike).
Backend = Literal["auto", "fp32", "bf16", "onnx", "onnx-int8", "openvino"]


class SettingsError(ValueError):
    """Environment variables that cannot be used, all named in one line."""


class _Environment(BaseSettings):
    # Names are the variables' own (upper case); empty variables are unset; unknown ones are not ours.
    model_config = SettingsConfigDict(case_sensitive=False, env_ignore_empty=True, extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _whole_numbers_are_written_whole(cls, value, info):
        """pydantic reads "7956.0" as the whole number 7956; a setting that takes one must be written as one."""
        annotation = cls.model_fields[info.field_name].annotation
        if int in (annotation, *getattr(annotation, "__args__", ())) and isinstance(value, str):
            if not re.fullmatch(r"[+-]?[0-9]+", value.strip()):
                raise ValueError("must be a whole number")
        return value


class ServerSettings(_Environment):
    """``app.py``: the model, the HTTP server, batching, feedback and monitoring."""

    model_id: str | None = Field(None, description="Local model folder or Hub id (default: outputs/model)")
    model_revision: str | None = Field(None, description="Hub branch, tag or commit of MODEL_ID")
    host: str = Field("0.0.0.0", description="Address to listen on")
    port: int = Field(7860, ge=1, le=65535, description="Port to listen on")
    num_threads: int | None = Field(None, ge=1, description="torch threads (default: the cores)")
    inference_backend: Backend = Field("auto", description="Engine (hatespeech.inference.engines)")
    max_batch: int | None = Field(None, ge=1, le=1024, description="Micro-batch size for single tweets (32)")
    max_wait_ms: float | None = Field(None, ge=0, le=10_000, description="How long a micro-batch waits (0)")
    max_batch_tokens: int | None = Field(None, ge=1, description="Padded tokens per model call (4096)")
    bulk_chunk: int | None = Field(None, ge=0, le=4096, description="Tweets per model call for uploads (64; 0: all)")
    feedback_dir: Path | None = Field(None, description="Switches users' feedback on: JSON lines there")
    feedback_repo: str | None = Field(None, description="Hub dataset the feedback is pushed to (with HF_TOKEN)")
    feedback_every_minutes: float = Field(5.0, gt=0, description="Minutes between feedback pushes")
    hf_token: SecretStr | None = Field(None, description="Hub token (feedback pushes, private models)")
    drift_window: int = Field(DEFAULT_WINDOW, ge=10, le=MAX_WINDOW, description="Predictions drift covers")
    header_timeout_s: float = Field(10.0, gt=0, le=600, description="Deadline for a request's headers")
    trusted_proxies: str = Field(
        "", description="Proxy addresses whose X-Forwarded-For names the client (comma-separated, '*': any); none"
    )
    access_log: bool = Field(True, description="uvicorn's access log (it prints client addresses)")
    malloc_trim: bool = Field(True, description="Hand memory freed by bulk jobs back to the system")


class HubSettings(_Environment):
    """The Hub client of ``train.py --push_to_hub``, ``python -m hatespeech.publishing.hub`` and the release."""

    hatespeech_hub_timeout: float = Field(60.0, gt=0, description="Seconds one Hub request may take")
    hatespeech_hub_attempts: int = Field(3, ge=1, le=20, description="Tries of an upload that fails in transit")


Settings = TypeVar("Settings", bound=_Environment)


def load(kind: type[Settings]) -> Settings:
    """The settings of ``kind`` from the environment (:class:`SettingsError` naming each wrong variable)."""
    try:
        return kind()
    except ValidationError as err:
        lines = []
        for problem in err.errors():
            name = str(problem["loc"][0]).upper()
            lines.append(f"{name}={os.environ.get(name, '')!r}: {problem['msg'].lower()}")
        raise SettingsError("; ".join(lines)) from None


def table() -> str:
    """Markdown: every variable, its default and what it does (docs/operating.md shows it)."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for kind in (ServerSettings, HubSettings):
        for name, field in kind.model_fields.items():
            default = "-" if field.default is None else f"`{field.default}`" if field.default != "" else "none"
            rows.append(f"| `{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows)
