"""Users' feedback read back as a training source: ``--sources feedback:<folder or dataset id[@revision]>``.

Every record of the store's JSON-lines files (written by :mod:`hatespeech.serving.feedback_store`, pushed to a
Hub dataset) is read; one label per distinct text is kept (the majority; ties dropped), and the usual seeded
split and leakage filter apply; the counts go to ``train_results.json`` and the card.
"""

from collections import Counter
from pathlib import Path

from hatespeech import FEEDBACK_FILE_PREFIX as FILE_PREFIX
from hatespeech.data.readers import jsonl_rows
from hatespeech.text import normalize_tweet


def read_records(folder: Path) -> list[dict]:
    """Every record of the JSON-lines files in ``folder`` (a bad line names its file and line)."""
    records = []
    for path in sorted(folder.glob(f"{FILE_PREFIX}*.jsonl")):
        for number, row in jsonl_rows(path):
            if not isinstance(row.get("text"), str) or row.get("label") not in ("hate", "not-hate"):
                raise ValueError(f"{path}:{number}: a feedback record needs a text and a label hate or not-hate")
            records.append(row)
    return records


def majority_labels(records: list[dict]) -> tuple[dict[str, int], dict[str, int]]:
    """One label per distinct text as the model reads it (handles, links and spacing normalised; 1 = hate), the
    majority of its records; ties dropped. Also the counts."""
    votes: dict[str, Counter] = {}
    for row in records:
        votes.setdefault(normalize_tweet(row["text"]), Counter())[row["label"]] += 1
    labels = {}
    for text, counter in votes.items():
        (top, n), *rest = counter.most_common()
        if rest and rest[0][1] == n:
            continue
        labels[text] = int(top == "hate")
    counts = {
        "records": len(records),
        "texts": len(votes),
        "kept": len(labels),
        "ties_dropped": len(votes) - len(labels),
    }
    return labels, counts


def locate(spec: str) -> tuple[Path, str | None]:
    """``<folder>`` or ``<dataset id>[@revision]``: the local folder to read and the dataset revision read."""
    if Path(spec).is_dir():
        return Path(spec), None
    from huggingface_hub import snapshot_download

    repo_id, _, revision = spec.partition("@")
    folder = snapshot_download(repo_id, repo_type="dataset", revision=revision or None,
                               allow_patterns=[f"{FILE_PREFIX}*.jsonl"])  # fmt: skip
    return Path(folder), Path(folder).name  # the snapshot folder is named by the commit hash
