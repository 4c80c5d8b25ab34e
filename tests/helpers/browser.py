"""The real browser of the UI and docs tests: Debian's chromium, driven by playwright (it cannot download its own)."""

import os
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
# Screenshots the browser tests leave for a person to look at.
ARTIFACTS = Path(__file__).resolve().parents[2] / "outputs" / "test-artifacts"
