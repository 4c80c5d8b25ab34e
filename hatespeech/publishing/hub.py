"""Publishing a trained model folder to the Hugging Face Hub.

    python -m hatespeech.publishing.hub push outputs/model <org>/<name> [--private] [--revision BRANCH]

The token comes from ``HF_TOKEN`` or the login cache (``hf auth login``). The card is rendered
for the target repo id into a staging folder, so the local output folder is never modified and
a failed push can simply be retried. Checkpoints, optimizer states and logs are not uploaded.

huggingface_hub waits forever for an answer by default; here every request gives up after
``HATESPEECH_HUB_TIMEOUT`` seconds without progress (60) and a push is tried
``HATESPEECH_HUB_ATTEMPTS`` times (3) before it ends with one line.
"""

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from huggingface_hub import CommitInfo, HfApi, constants, set_client_factory
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils._http import default_client_factory

from hatespeech.errors import first_line
from hatespeech.evaluation.card import render_card
from hatespeech.run_folder import CARD, RunFolder
from hatespeech.settings import HubSettings, SettingsError, load

try:  # the HTTP client of huggingface_hub 2.x
    from httpx2 import TimeoutException, TransportError
except ImportError:  # huggingface_hub 1.x
    from httpx import TimeoutException, TransportError

logger = logging.getLogger(__name__)

# Files a model repo does not need: training state, search storage, TensorBoard logs.
EXCLUDED = ("checkpoint-*", "run-*", "runs", "optuna.db", "training_args.bin", "optimizer.pt", "scheduler.pt")


class HubError(RuntimeError):
    """The Hub could not be reached or refused the request; the message is one line, token-free."""


def use_hub_timeout(seconds: float) -> None:
    """Make every huggingface_hub request give up after ``seconds`` without progress."""

    def client_with_timeout():
        client = default_client_factory()
        client.timeout = seconds
        return client

    set_client_factory(client_with_timeout)


def with_retries(call: Callable, what: str, attempts: int | None = None):
    """``call()``, retried with backoff when the Hub does not answer or answers 5xx; then a :class:`HubError`."""
    try:
        settings = load(HubSettings)
    except SettingsError as err:
        raise HubError(str(err)) from None
    attempts = attempts or settings.hatespeech_hub_attempts
    use_hub_timeout(settings.hatespeech_hub_timeout)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else None
            if status is None or status < 500 or attempt == attempts:
                raise HubError(describe_http_error(err, what)) from None
            problem = f"HTTP {status}"
        except TransportError as err:
            if attempt == attempts:
                problem = "no answer from" if isinstance(err, TimeoutException) else "cannot reach"
                raise HubError(
                    f"{problem} the Hub at {constants.ENDPOINT} for {what} after {attempts} attempt(s) "
                    f"({type(err).__name__}, {settings.hatespeech_hub_timeout:g} s timeout); retry later"
                ) from None
            problem = type(err).__name__
        logger.warning("Hub request for %s failed (%s); attempt %d of %d", what, problem, attempt + 1, attempts)
        time.sleep(min(2**attempt, 30))


def publishable_files(folder: Path) -> list[Path]:
    """Files under ``folder`` that belong in the model repo (paths relative to it)."""
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(Path(relative.parts[0]).match(pattern) for pattern in EXCLUDED):
            files.append(relative)
    return files


def commit_message(folder: Path) -> str:
    """'Upload model (test macro-F1 0.4518)', from the folder's own results."""
    test_f1 = RunFolder(folder).scores().get("test", {}).get("macro_f1")
    score = f"test macro-F1 {test_f1:.4f}" if test_f1 is not None else "no test score"
    return f"Upload hate-speech model ({score})"


def stage(folder: Path, staging: Path, repo_id: str) -> None:
    """Link the publishable files into ``staging`` and render the card there for ``repo_id``."""
    for relative in publishable_files(folder):
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to((folder / relative).resolve())
    (staging / CARD).unlink(missing_ok=True)
    try:
        card = render_card(RunFolder(folder), repo_id)
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # a damaged results file: a null score, cut short
        raise HubError(f"{folder}: the card cannot be written from the run's files ({type(err).__name__}: "
                       f"{first_line(err)}); re-run evaluate.py on the model, or fix the file") from None  # fmt: skip
    card.save(staging / CARD)


def push_folder(
    folder: str | Path,
    repo_id: str,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
) -> CommitInfo:
    """Create the repo if needed and upload the model, tokenizer, results, plots and card."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise HubError(f"{folder} holds no trained model (config.json is missing)")
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="hatespeech-push-") as staging:
        stage(folder, Path(staging), repo_id)  # the card first: a damaged run fails before any Hub call

        def push() -> CommitInfo:
            api.create_repo(repo_id, private=private, exist_ok=True)
            if revision:
                api.create_branch(repo_id, branch=revision, exist_ok=True)
            return api.upload_folder(
                folder_path=staging, repo_id=repo_id, revision=revision, commit_message=commit_message(folder)
            )

        info = with_retries(push, repo_id)
    logger.info("Pushed %s to %s (%s)", folder, repo_id, info.oid)
    return info


def describe_http_error(err: HfHubHTTPError, repo_id: str) -> str:
    status = err.response.status_code if err.response is not None else None
    if status in (401, 403):
        return (
            f"the Hub refused the token for {repo_id} (HTTP {status}): set HF_TOKEN to a token with write "
            "access, or run `hf auth login`"
        )
    return f"the Hub rejected the upload to {repo_id} (HTTP {status}): {first_line(err)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hatespeech.publishing.hub", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    push = commands.add_parser("push", help="Upload a trained model folder with its card.")
    push.add_argument("folder", type=Path, help="Output folder of train.py, e.g. outputs/model")
    push.add_argument("repo_id", help="Target model repo, <org>/<name>")
    push.add_argument("--private", action="store_true", help="Create the repo as private.")
    push.add_argument("--revision", help="Branch to push to (created if missing); default main.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        info = push_folder(args.folder, args.repo_id, private=args.private, revision=args.revision)
    except HubError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Pushed {args.folder} to {info.commit_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
