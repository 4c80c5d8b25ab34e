"""Every server and Hub-client setting is validated at start: the table of docs/input_limits.md, row by row."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hatespeech.settings import HubSettings, ServerSettings, SettingsError, load, table

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC = REPO_ROOT / "docs" / "input_limits.md"


def settings_rows() -> list[tuple[list[str], list[str], str]]:
    """(variables, bad values, verdict) of each row that names variables and values."""
    text = DOC.read_text(encoding="utf-8").split("| setting or file | bad values |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in text.splitlines()[2:]:
        what, bad, verdict = (cell.strip() for cell in line.strip("|").split("|", 2))
        names = re.findall(r"`([A-Z_]+)`", what)
        values = re.findall(r"`([^`]*)`", bad)
        if names and values:
            rows.append((names, values, verdict))
    return rows


ROWS = [(name, value, verdict) for names, values, verdict in settings_rows() for name in names for value in values]


def test_the_table_covers_the_validated_settings():
    named = {name for name, _, _ in ROWS}
    assert {"PORT", "DRIFT_WINDOW", "INFERENCE_BACKEND", "HEADER_TIMEOUT_S", "HATESPEECH_HUB_TIMEOUT"} <= named
    assert len(ROWS) >= 30


@pytest.mark.parametrize(("name", "value", "verdict"), ROWS)
def test_each_bad_value_is_refused_in_one_line_naming_the_variable(monkeypatch, name, value, verdict):
    """Findings 10, 11, 15: DRIFT_WINDOW=0 or 10**12, PORT=99999, INFERENCE_BACKEND=bogus were accepted or
    ended in a traceback."""
    monkeypatch.setenv(name, value)
    kind = HubSettings if name.startswith("HATESPEECH_HUB_") else ServerSettings
    with pytest.raises(SettingsError) as refused:
        load(kind)
    message = str(refused.value)
    assert message.startswith(f"{name}={value!r}: ") and "\n" not in message
    assert ("exit 1" if kind is HubSettings else "exit 2") in verdict


def test_empty_variables_are_unset_and_defaults_hold(monkeypatch):
    for name in ("PORT", "DRIFT_WINDOW", "TRUSTED_PROXIES"):
        monkeypatch.setenv(name, "")
    settings = load(ServerSettings)
    assert (settings.port, settings.drift_window, settings.trusted_proxies) == (7860, 1000, "")
    assert "| `DRIFT_WINDOW` | `1000` |" in table()


@pytest.mark.parametrize("env", [{"PORT": "99999"}, {"DRIFT_WINDOW": "abc", "PORT": "7956.0"}])
def test_app_py_stops_before_serving_with_one_line(tmp_path, env):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "app.py")], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)})  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert all(f"{name}={value!r}" in line for name, value in env.items())


def test_the_settings_page_shows_the_table_the_code_prints():
    page = (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert table() in page


def test_the_backend_setting_names_exactly_the_registered_engines():
    from typing import get_args

    from hatespeech.inference.classifier import BACKENDS
    from hatespeech.settings import Backend

    assert set(get_args(Backend)) == set(BACKENDS)
