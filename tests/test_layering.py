"""The package's layering holds, and breaking it fails ``make lint``: import-linter's contracts in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})  # fmt: skip


@pytest.fixture()
def package_copy(tmp_path):
    """The package and its contracts, copied where a test may break them."""
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (requirements-dev.txt)")
    shutil.copytree(REPO_ROOT / "hatespeech", tmp_path / "hatespeech", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_contracts_hold(package_copy):
    result = lint_imports(package_copy)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("serving/ui.py", "hatespeech.data.sources", "The server loads no training or tracking code"),
        ("serving/service.py", "hatespeech.inference.cluster", "The server loads no training or tracking code"),
        ("inference/classifier.py", "hatespeech.training.steps", "Stages import downwards"),
        ("text.py", "hatespeech.evaluation.metrics", "What every stage uses imports no stage"),
        ("data/readers.py", "hatespeech.data.loading", "No import cycles"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(package_copy, module, forbidden, contract):
    path = package_copy / "hatespeech" / module
    path.write_text(path.read_text() + f"\n\ndef _late():\n    import {forbidden}  # noqa\n")
    result = lint_imports(package_copy)
    assert result.returncode == 1
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout


def test_the_server_starts_without_transformers_modelling_stack():
    """Cold start: the app and the exported engines' path import no PyTorch model code of transformers (its
    modelling stack took ~2 s of the server's start); the PyTorch engines load it when they load a model."""
    code = ("import sys, app\nimport hatespeech.inference.classifier, hatespeech.serving.api, hatespeech.serving.ui\n"
            "print(sorted(name for name in sys.modules if name == 'transformers.modeling_utils'))")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
