"""Users' corrections of served predictions, stored as JSON lines and pushed to a Hub dataset.

A record holds the text, the model id and revision, the predicted label and its probability, the
user's label and the UTC time: never an IP address, a header or a cookie. The server classifies the
text itself, so a client cannot claim what the model said. Records go to ``FEEDBACK_DIR`` in files of
at most :data:`MAX_FILE_BYTES`, at most :data:`MAX_FILES` of them (then feedback is refused, so the
disk cannot fill); the same (text, label) is stored once; each client may send
:data:`RATE_PER_MINUTE` a minute (counted in memory, keyed by address, never written). With
``FEEDBACK_REPO`` and a token (``HF_TOKEN``), ``huggingface_hub.CommitScheduler`` uploads the folder
to that dataset repo every ``FEEDBACK_EVERY_MINUTES`` (default 5) in a background thread: a request
never waits for the Hub.

Feedback trains nothing unless a run names it (``--sources feedback:<location>``): reading it back is the
data stage's (:mod:`hatespeech.data.feedback`), so the server never loads training code.
"""

import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from hatespeech import FEEDBACK_FILE_PREFIX as FILE_PREFIX

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 1024 * 1024
MAX_FILES = 100
RATE_PER_MINUTE = 20


class FeedbackRefused(Exception):
    """Feedback that is not stored: the client sent too much, or the store is full. ``status`` is the HTTP code."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FeedbackRecord:
    text: str
    label: str  # the user's
    predicted_label: str
    predicted_probability: float
    model_id: str
    model_revision: str | None
    time_utc: str


class RateLimiter:
    """At most ``per_minute`` events per key in any 60 s; keys live in memory only."""

    def __init__(self, per_minute: int = RATE_PER_MINUTE, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self.events: dict[str, deque] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self.lock:
            recent = self.events.setdefault(key, deque())
            while recent and now - recent[0] >= 60:
                recent.popleft()
            if len(recent) >= self.per_minute:
                return False
            recent.append(now)
            # Forget idle clients so the table cannot grow without bound.
            for idle in [k for k, v in self.events.items() if not v or now - v[-1] >= 60]:
                del self.events[idle]
            return True


class FeedbackStore:
    """JSON-lines files under ``folder``, bounded in size and count; duplicates folded."""

    def __init__(self, folder: str | Path, max_file_bytes: int = MAX_FILE_BYTES, max_files: int = MAX_FILES,
                 lock=None):  # fmt: skip
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes, self.max_files = max_file_bytes, max_files
        self.lock = lock or threading.Lock()  # the CommitScheduler's, when it uploads this folder
        self.seen = _stored_keys(self.folder)
        self.scheduler = None  # set by open_feedback

    def close(self) -> None:
        """Push what is left (the scheduler uploads once more) and stop uploading."""
        if self.scheduler is not None:
            self.scheduler.trigger().result()
            self.scheduler.stop()

    def add(self, record: FeedbackRecord) -> bool:
        """Append ``record``; False when the same text with the same label is stored already."""
        line = json.dumps(asdict(record), ensure_ascii=False) + "\n"
        key = _key(record.text, record.label)
        with self.lock:
            if key in self.seen:
                return False
            path = self._current_file(len(line.encode()) + 1)
            with path.open("a+b") as handle:
                # A line cut short by a crash has no newline: end it, so this record stays a line of its own.
                if handle.tell() and (handle.seek(-1, os.SEEK_END), handle.read(1))[1] != b"\n":
                    line = "\n" + line
                handle.write(line.encode("utf-8"))
            self.seen.add(key)
        return True

    def _current_file(self, size: int) -> Path:
        files = sorted(self.folder.glob(f"{FILE_PREFIX}*.jsonl"))
        if files and files[-1].stat().st_size + size <= self.max_file_bytes:
            return files[-1]
        if len(files) >= self.max_files:
            raise FeedbackRefused("the feedback store is full; thank you, try again later", 507)
        return self.folder / f"{FILE_PREFIX}{len(files):05d}.jsonl"


def _stored_keys(folder: Path) -> set[str]:
    """Keys of the stored records. A damaged line (a write cut short by a crash) is logged and skipped, so the
    server still starts; training on the folder still refuses it, naming the file and line."""
    keys = set()
    for path in sorted(folder.glob(f"{FILE_PREFIX}*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            try:
                row = json.loads(line)
                keys.add(_key(row["text"], row["label"]))
            except (ValueError, KeyError, TypeError):
                logger.warning("%s:%d: a damaged feedback line is skipped", path, number)
    return keys


def _key(text: str, label: str) -> str:
    return hashlib.sha256(f"{label}\x00{text}".encode()).hexdigest()


def record(text: str, label: str, prediction, model_id: str, revision: str | None) -> FeedbackRecord:
    """A record of the user's ``label`` for ``text`` and what the model (``prediction``) said."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return FeedbackRecord(text=text, label=label, predicted_label=prediction.label,
                          predicted_probability=round(float(prediction.score), 6), model_id=model_id,
                          model_revision=revision, time_utc=now)  # fmt: skip


def open_feedback(folder: str | Path) -> FeedbackStore:
    """The store under ``folder`` (``FEEDBACK_DIR``), uploaded by a ``CommitScheduler`` to ``FEEDBACK_REPO``
    when that and a token (``HF_TOKEN``) are set; its lock keeps uploads from reading a half-written line."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    repo, token = os.environ.get("FEEDBACK_REPO"), os.environ.get("HF_TOKEN")
    scheduler = None
    if repo and token:
        from huggingface_hub import CommitScheduler

        minutes = float(os.environ.get("FEEDBACK_EVERY_MINUTES", "5"))
        logger.info("Feedback is pushed to the dataset %s every %s minutes", repo, minutes)
        scheduler = CommitScheduler(repo_id=repo, repo_type="dataset", folder_path=folder, every=minutes, token=token,
                                    allow_patterns=[f"{FILE_PREFIX}*.jsonl"], private=True)  # fmt: skip
    store = FeedbackStore(folder, lock=scheduler.lock if scheduler else None)
    store.scheduler = scheduler
    return store
