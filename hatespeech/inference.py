"""The inference core: every front end classifies through :class:`Classifier`.

It loads a model from a local folder or a Hub id (+ revision), normalises tweets exactly as
training did, groups texts of similar token length so each batch pads little (and caps the padded
tokens per batch, so a long tweet does not pad a whole batch of short ones), and labels by argmax
(a threshold tuned in training is already folded into the head, see ``hatespeech.threshold``).
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hatespeech import LABEL2ID
from hatespeech.hardware import cpu_has_bf16_matmul
from hatespeech.text import normalize_tweet

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "fp32", "bf16")


def resolve_backend(backend: str, device: torch.device) -> str:
    """``auto``: bf16 where the hardware runs it natively, fp32 elsewhere."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
    if backend != "auto":
        return backend
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16_matmul() else "fp32"


def length_batches(lengths: list[int], max_size: int, max_tokens: int) -> list[list[int]]:
    """Indices in length order, cut so a batch has at most ``max_size`` texts and ``max_tokens`` padded tokens."""
    batches: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        # Ascending lengths: this text sets the batch's padded length if it joins.
        if not batches or len(batches[-1]) == max_size or (len(batches[-1]) + 1) * lengths[index] > max_tokens:
            batches.append([])
        batches[-1].append(index)
    return batches


@dataclass(frozen=True)
class Prediction:
    """One tweet's result: the label, its probability, and both class probabilities."""

    label: str
    score: float
    probabilities: dict[str, float]

    @property
    def label_id(self) -> int:
        return LABEL2ID[self.label]


class Classifier:
    """A sequence-classification model ready to label tweets."""

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        batch_size: int = 128,
        max_batch_tokens: int = 4096,
        max_length: int = 128,
        num_threads: int | None = None,
        device: str | None = None,
        backend: str = "auto",
        compile: bool = False,
    ):
        if num_threads:
            torch.set_num_threads(num_threads)
        self.model_id, self.revision = model, revision
        self.batch_size, self.max_batch_tokens, self.max_length = batch_size, max_batch_tokens, max_length
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.backend = resolve_backend(backend, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
        self.model = AutoModelForSequenceClassification.from_pretrained(model, revision=revision)
        self.model.to(self.device).eval()
        if self.backend == "bf16":
            # bf16 weights rather than autocast: autocast re-casts every weight on every call
            # (17% of CPU time in a profile), and the labels agree as well.
            self.model.to(torch.bfloat16)
        if compile:  # about 30 s of warm-up, then ~15% faster: for long batch jobs
            self.model = torch.compile(self.model, dynamic=True)
        self.id2label = {int(i): name for i, name in self.model.config.id2label.items()}

    def predict_proba(self, texts: list[str], progress: bool = False) -> torch.Tensor:
        """Class probabilities, shape (len(texts), 2), in input order."""
        if not texts:
            return torch.empty((0, len(self.id2label)))
        encoded = self.tokenizer([normalize_tweet(text) for text in texts], truncation=True, max_length=self.max_length)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        batches = length_batches(lengths, self.batch_size, self.max_batch_tokens)
        probabilities = torch.empty((len(texts), len(self.id2label)))
        with torch.inference_mode():
            for batch in tqdm(batches, desc="Predicting", unit="batch", disable=not progress):
                features = {name: [values[i] for i in batch] for name, values in encoded.items()}
                inputs = self.tokenizer.pad(features, return_tensors="pt").to(self.device)
                logits = self.model(**inputs).logits.float()
                probabilities[batch] = logits.softmax(dim=-1).cpu()
        return probabilities

    def decide(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Label ids: argmax, as ``pipeline()`` decides."""
        return probabilities.argmax(dim=-1)

    def classify(self, texts: list[str], progress: bool = False) -> list[Prediction]:
        """Label, score and probabilities for each text, in input order."""
        probabilities = self.predict_proba(texts, progress=progress)
        label_ids = self.decide(probabilities)
        return [self._prediction(row, int(label_id)) for row, label_id in zip(probabilities, label_ids, strict=True)]

    def classify_stream(self, texts: Iterable[str], chunk_size: int = 4096) -> Iterator[Prediction]:
        """Classify an iterable of any length in chunks, so memory stays flat."""
        chunk: list[str] = []
        for text in texts:
            chunk.append(text)
            if len(chunk) == chunk_size:
                yield from self.classify(chunk)
                chunk = []
        if chunk:
            yield from self.classify(chunk)

    def _prediction(self, row: torch.Tensor, label_id: int) -> Prediction:
        probabilities = {self.id2label[i]: float(p) for i, p in enumerate(row)}
        label = self.id2label[label_id]
        return Prediction(label=label, score=probabilities[label], probabilities=probabilities)
