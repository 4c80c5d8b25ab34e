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

import fcntl
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
from hatespeech.errors import first_line
from hatespeech.text import normalize_tweet

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


class FeedbackStoreError(RuntimeError):
    """A ``FEEDBACK_DIR`` the store cannot use (not a folder, not writable, held by another process); one line."""


class FeedbackStore:
    """JSON-lines files under ``folder``, bounded in size and count; duplicates folded by what the model reads.

    One writer per folder: the store holds an exclusive lock on ``folder/.lock`` while it lives, and a second
    process (another app on the same ``FEEDBACK_DIR``) is refused at start rather than storing every text twice.
    Files are opened without following links, so a link planted in the folder is never written through.
    """

    def __init__(self, folder: str | Path, max_file_bytes: int = MAX_FILE_BYTES, max_files: int = MAX_FILES,
                 lock=None):  # fmt: skip
        self.folder = Path(folder)
        self.max_file_bytes, self.max_files = max_file_bytes, max_files
        self.writer_lock = _claim(self.folder)
        self.lock = lock or threading.Lock()  # the CommitScheduler's, when it uploads this folder
        self.seen = _stored_keys(self.folder)
        self.scheduler = None  # set by open_feedback

    def close(self) -> None:
        """Push what is left (the scheduler uploads once more), stop uploading and let the folder go."""
        if self.scheduler is not None:
            self.scheduler.trigger().result()
            self.scheduler.stop()
        os.close(self.writer_lock)

    def add(self, record: FeedbackRecord) -> bool:
        """Append ``record``; False when the same text (as the model reads it) with the same label is stored."""
        line = json.dumps(asdict(record), ensure_ascii=False) + "\n"
        key = _key(record.text, record.label)
        with self.lock:
            if key in self.seen:
                return False
            path = self._current_file(len(line.encode()) + 1)
            try:
                descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as err:  # a link, a folder under a feedback file's name, a read-only disk
                logger.error("feedback cannot be written to %s: %s", path, first_line(err))
                raise FeedbackRefused("feedback cannot be stored on this server right now", 503) from None
            with os.fdopen(descriptor, "a+b") as handle:
                # A line cut short by a crash has no newline: end it, so this record stays a line of its own.
                if handle.seek(0, os.SEEK_END) and (handle.seek(-1, os.SEEK_END), handle.read(1))[1] != b"\n":
                    line = "\n" + line
                handle.write(line.encode("utf-8"))
            self.seen.add(key)
        return True

    def _current_file(self, size: int) -> Path:
        files = _feedback_files(self.folder)
        if files and files[-1].stat().st_size + size <= self.max_file_bytes:
            return files[-1]
        if len(files) >= self.max_files:
            raise FeedbackRefused("the feedback store is full; thank you, try again later", 507)
        # After the highest number in use: counting files would land on a full one once older files are removed.
        number = max((_number(path) for path in files), default=-1) + 1
        return self.folder / f"{FILE_PREFIX}{number:05d}.jsonl"


def _feedback_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.glob(f"{FILE_PREFIX}*.jsonl") if _number(p) >= 0), key=_number)


def _number(path: Path) -> int:
    digits = path.stem.removeprefix(FILE_PREFIX)
    return int(digits) if digits.isascii() and digits.isdigit() else -1


def _claim(folder: Path) -> int:
    """Make ``folder`` and hold its writer lock (the descriptor); :class:`FeedbackStoreError` when it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise FeedbackStoreError(f"FEEDBACK_DIR={str(folder)!r}: cannot be used as the feedback folder "
                                 f"({first_line(err)}); give a writable folder") from None  # fmt: skip
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        raise FeedbackStoreError(f"FEEDBACK_DIR={str(folder)!r} is in use by another app process: one writer "
                                 "per folder; give each process a folder of its own") from None  # fmt: skip
    return descriptor


def _stored_keys(folder: Path) -> set[str]:
    """Keys of the stored records. A damaged line (a write cut short by a crash) is logged and skipped, so the
    server still starts; training on the folder still refuses it, naming the file and line. Lines end at "\\n"
    alone: a text may hold U+2028 or U+0085, which ``str.splitlines`` would take for line ends."""
    keys = set()
    for path in _feedback_files(folder):
        if path.is_symlink() or not path.is_file():
            raise FeedbackStoreError(f"FEEDBACK_DIR: {path} is not a plain file; move it out of the folder")
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise FeedbackStoreError(f"FEEDBACK_DIR: {path} cannot be read ({first_line(err)})") from None
        for number, line in enumerate(raw.decode("utf-8", errors="replace").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                keys.add(_key(row["text"], row["label"]))
            except (ValueError, KeyError, TypeError):
                logger.warning("%s:%d: a damaged feedback line is skipped", path, number)
    return keys


def _key(text: str, label: str) -> str:
    """What the model will read (links, handles and spacing normalised) with the label: ``go home @bob`` and
    ``go home @alice`` are one text to the model, so they are one record."""
    return hashlib.sha256(f"{label}\x00{normalize_tweet(text)}".encode()).hexdigest()


def record(text: str, label: str, prediction, model_id: str, revision: str | None) -> FeedbackRecord:
    """A record of the user's ``label`` for ``text`` and what the model (``prediction``) said."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return FeedbackRecord(text=text, label=label, predicted_label=prediction.label,
                          predicted_probability=round(float(prediction.score), 6), model_id=model_id,
                          model_revision=revision, time_utc=now)  # fmt: skip


def open_feedback(folder: str | Path, settings=None) -> FeedbackStore:
    """The store under ``folder`` (``FEEDBACK_DIR``), uploaded by a ``CommitScheduler`` to ``FEEDBACK_REPO``
    when that and a token (``HF_TOKEN``) are set (``settings``: a ``ServerSettings``); its lock keeps uploads
    from reading a half-written line."""
    store = FeedbackStore(folder)
    repo = settings.feedback_repo if settings else None
    token = settings.hf_token.get_secret_value() if settings and settings.hf_token else None
    if repo and token:
        from huggingface_hub import CommitScheduler

        minutes = settings.feedback_every_minutes
        logger.info("Feedback is pushed to the dataset %s every %s minutes", repo, minutes)
        store.scheduler = CommitScheduler(
            repo_id=repo, repo_type="dataset", folder_path=folder, every=minutes, token=token,
            allow_patterns=[f"{FILE_PREFIX}*.jsonl"], private=True,
        )  # fmt: skip
        store.lock = store.scheduler.lock
    return store
