"""A release as one command: train, gate on the test score, publish model + card, update the Space.

    python -m hatespeech.publishing.release --model_id <org>/<name> --space_id <org>/<name>-demo --version v1.2.0 \\
        [--n_trials 20] [--seed 42] [--min_test_macro_f1 0.45] [any train.py flag, e.g. --data_dir DIR]

Steps: refuse a version that already exists; train (after an Optuna search when --n_trials > 0);
refuse to publish when the test macro-F1 is below the threshold; push model, card, results and
plots and tag that commit with the version; then upload the Space (app.py, the package, its
requirements, a README with Space front matter naming the model, and ``space_model.json`` pinning
the released revision) and tag it too. Earlier versions stay loadable by their tags. The token
comes from HF_TOKEN (or the login cache).
"""

import argparse
import json
import logging
import shutil
import sys
import tempfile
from importlib.metadata import version as installed_version
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from jinja2 import Template

from hatespeech.config import REPO_ROOT, ConfigError
from hatespeech.data.loading import DataError
from hatespeech.evaluation.card import write_card
from hatespeech.publishing.hub import HubError, TransportError, describe_http_error, push_folder
from hatespeech.run_folder import RunFolder, RunFolderError
from hatespeech.training.search import SearchError
from hatespeech.training.steps import parse_train_args

logger = logging.getLogger(__name__)

SPACE_TEMPLATE = Path(__file__).parents[1] / "templates" / "space_README.md.j2"
# The release ships the checkout's app and requirements beside the package (templates travel inside it).
SPACE_FILES = ("app.py", "requirements.txt")


class ReleaseError(RuntimeError):
    """A release that must not go ahead; nothing has been published when it is raised."""


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m hatespeech.publishing.release", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model_id", required=True, help="Model repo, <org>/<name>.")
    parser.add_argument("--space_id", required=True, help="Space repo, <org>/<name>.")
    parser.add_argument("--version", required=True, help="Release version; becomes the tag of both repos.")
    parser.add_argument("--n_trials", type=int, default=0, help="Optuna trials before the final training (0: none).")
    parser.add_argument("--seed", type=int, default=42, help="Training seed.")
    parser.add_argument("--min_test_macro_f1", type=float, default=0.0, help="Publish only at or above this score.")
    parser.add_argument("--output_dir", default="outputs/release", help="Runs are kept in <output_dir>/<version>.")
    return parser.parse_known_args(argv)


def check_version_is_new(api: HfApi, model_id: str, version: str) -> None:
    """A version is released once: re-running it must not move its tag."""
    try:
        api.model_info(model_id, revision=version)
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return
    raise ReleaseError(f"{model_id} already has a revision {version!r}; choose a new version")


def train_release(args: argparse.Namespace, train_argv: list[str]) -> tuple[Path, float]:
    """Train into <output_dir>/<version> with train.py's recipe; returns the folder and its test macro-F1."""
    from hatespeech.training.recipe import run

    data_args, model_args, search_args, training_args = parse_train_args(train_argv)
    output_dir = Path(args.output_dir) / args.version
    training_args.output_dir, training_args.seed = str(output_dir), args.seed
    search_args.search, search_args.n_trials = args.n_trials > 0, args.n_trials
    scores = run(data_args, model_args, search_args, training_args)
    write_card(RunFolder(output_dir), args.model_id)
    if "test" not in scores:
        raise ReleaseError("the data has no test split, so the release cannot be gated on its score")
    return output_dir, scores["test"]["macro_f1"]


def stage_space(staging: Path, model_id: str, space_id: str, version: str, test_f1: float) -> None:
    """The Space repo's files: the app, the package, requirements, README and the pinned model."""
    for name in SPACE_FILES:
        shutil.copy2(REPO_ROOT / name, staging / name)
    shutil.copytree(
        REPO_ROOT / "hatespeech", staging / "hatespeech", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    readme = Template(SPACE_TEMPLATE.read_text(encoding="utf-8")).render(
        model_id=model_id,
        space_id=space_id,
        revision=version,
        version=version,
        test_macro_f1=f"{test_f1:.4f}",
        gradio_version=installed_version("gradio"),
    )
    (staging / "README.md").write_text(readme, encoding="utf-8")
    pinned = {"model_id": model_id, "revision": version}
    (staging / "space_model.json").write_text(json.dumps(pinned, indent=2) + "\n", encoding="utf-8")


def publish(api: HfApi, args: argparse.Namespace, output_dir: Path, test_f1: float) -> dict:
    """Push and tag the model, then upload and tag the Space; returns the commit ids."""
    model_commit = push_folder(output_dir, args.model_id)
    api.create_tag(args.model_id, tag=args.version, revision=model_commit.oid, tag_message=f"Release {args.version}")
    api.create_repo(args.space_id, repo_type="space", space_sdk="gradio", exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hatespeech-space-") as staging:
        stage_space(Path(staging), args.model_id, args.space_id, args.version, test_f1)
        space_commit = api.upload_folder(
            folder_path=staging,
            repo_id=args.space_id,
            repo_type="space",
            commit_message=f"Serve {args.model_id}@{args.version} (test macro-F1 {test_f1:.4f})",
            delete_patterns=["hatespeech/**"],  # drop modules a newer release no longer has
        )
    api.create_tag(args.space_id, tag=args.version, repo_type="space", revision=space_commit.oid)
    return {"model_commit": model_commit.oid, "space_commit": space_commit.oid}


def main(argv: list[str] | None = None) -> int:
    args, train_argv = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api = HfApi()
    try:
        check_version_is_new(api, args.model_id, args.version)
        output_dir, test_f1 = train_release(args, train_argv)
        if test_f1 < args.min_test_macro_f1:
            raise ReleaseError(
                f"test macro-F1 {test_f1:.4f} is below the threshold {args.min_test_macro_f1:.4f}: nothing published"
            )
        commits = publish(api, args, output_dir, test_f1)
    except (ConfigError, DataError, SearchError, RunFolderError) as err:  # as train.py says them
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ReleaseError, HubError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except HfHubHTTPError as err:
        print(f"error: {describe_http_error(err, args.model_id)}", file=sys.stderr)
        return 1
    except TransportError as err:
        print(f"error: cannot reach the Hub ({type(err).__name__}); retry later", file=sys.stderr)
        return 1
    print(f"Released {args.version}: {args.model_id}@{commits['model_commit'][:8]} (test macro-F1 {test_f1:.4f}), "
          f"Space {args.space_id}@{commits['space_commit'][:8]}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
