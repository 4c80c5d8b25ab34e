"""The inference core: every front end classifies through :class:`Classifier`.

It loads a model from a local folder or a Hub id (+ revision) and refuses one that cannot answer
correctly (no tokenizer, or one that does not fit the model). It prepares tweets exactly as training
did, from what the run saved with the model: the tweet normaliser inside the tokenizer (older models:
``normalize_tweet`` here, unless the run switched normalisation off) and the run's maximum length.
It groups texts of similar token length so each batch pads little (and caps the padded
tokens per batch, so a long tweet does not pad a whole batch of short ones), and labels by argmax
(a threshold tuned in training is already folded into the head, see ``hatespeech.training.threshold``).
The network itself runs on one of ``hatespeech.inference.engines``: the PyTorch weights (fp32, bf16) or the
exported graph (ONNX Runtime fp32 and int8, OpenVINO), all fed the same padded batches.
"""

import logging
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from hatespeech import LABEL2ID
from hatespeech.hardware import cpu_has_bf16_matmul, cpu_info
from hatespeech.inference.engines import REGISTRY, EngineUnavailable, choose_cpu_engine, installed_runtimes, read_parity
from hatespeech.inference.loading import ModelError
from hatespeech.modeling import position_limit
from hatespeech.text import carries_deobfuscation, carries_tweet_normalizer, deobfuscate, normalize_tweet

logger = logging.getLogger(__name__)

BACKENDS = ("auto", *REGISTRY)
# Models saved before the run's settings travelled with them were all trained at this length.
LEGACY_MAX_LENGTH = 128
# What one more model call costs, in padded tokens' worth of compute: a short text starts a batch of its own
# rather than join longer ones when padding it (and them) would cost more. From bench/serve.py's one-tweet and
# batch-of-32 times on the 2-core AMD EPYC: about 40 tokens for OpenVINO, 100 for PyTorch bf16.
CALL_OVERHEAD_TOKENS = 64
# Texts tokenised at once by predict_proba: big enough to sort by length, small enough for flat memory.
STREAM_CHUNK = 8192


def resolve_backend(backend: str, device: torch.device, parity: dict | None = None) -> str:
    """``auto``: on a GPU bf16 where it is native, else fp32; on a CPU the fastest engine that passed the
    export's parity check (``hatespeech.inference.engines``)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
    if backend != "auto":
        return backend
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return choose_cpu_engine(parity or {}, cpu_info()[0], cpu_has_bf16_matmul(), installed_runtimes())


def length_batches(lengths: list[int], max_size: int, max_tokens: int,
                   call_overhead: int = CALL_OVERHEAD_TOKENS) -> list[list[int]]:  # fmt: skip
    """Indices in length order, cut so a batch has at most ``max_size`` texts and ``max_tokens`` padded tokens,
    and wherever the padding a text would add to its batch costs more than a model call of its own."""
    batches: list[list[int]] = []
    longest = 0
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        # Ascending lengths: this text sets the batch's padded length if it joins, padding the others to it.
        length = lengths[index]
        if (not batches or len(batches[-1]) == max_size or (len(batches[-1]) + 1) * length > max_tokens
                or len(batches[-1]) * (length - longest) > call_overhead):  # fmt: skip
            batches.append([])
        batches[-1].append(index)
        longest = length
    return batches


@dataclass(frozen=True)
class Prediction:
    """One tweet's result: the label, its probability, and both class probabilities."""

    label: str
    score: float
    probabilities: dict[str, float]
    tokens: int = 0  # the tweet's length in tokens, and how many of them the tokenizer did not know (drift)
    unknown: int = 0

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
        max_length: int | None = None,
        num_threads: int | None = None,
        device: str | None = None,
        backend: str = "auto",
        compile: bool = False,
    ):
        if num_threads:
            torch.set_num_threads(num_threads)
        self.model_id, self.revision = model, revision
        self.batch_size, self.max_batch_tokens = batch_size, max_batch_tokens
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        parity = read_parity(model, revision) if backend == "auto" and self.device.type == "cpu" else {}
        self.backend = resolve_backend(backend, self.device, parity)
        if backend == "onnx-int8":  # asked for by name (auto takes it only where its parity held)
            logger.warning("onnx-int8 quantises activations per batch: a tweet's probability can change with the "
                           "tweets batched beside it; fp32, bf16, onnx and openvino do not")  # fmt: skip
        try:
            self.tokenizer, self.config, self.engine = REGISTRY[self.backend].open(
                model, revision, self.device, num_threads, compile
            )
        except EngineUnavailable as err:
            raise ModelError(str(err)) from None
        # What the run saved with the model: its maximum length (never more than the encoder has positions for)
        # and whether it normalised tweets.
        self.max_length = max_length or getattr(self.config, "max_seq_length", None) or LEGACY_MAX_LENGTH
        self.max_length = min(self.max_length, position_limit(self.config) or self.max_length)
        self.normalize = getattr(self.config, "normalize_text", True) and not carries_tweet_normalizer(self.tokenizer)
        self.deobfuscate = getattr(self.config, "deobfuscate", False) and not carries_deobfuscation(self.tokenizer)
        self.id2label = {int(i): name for i, name in self.config.id2label.items()}

    def predict_proba(self, texts: list[str], progress: bool = False) -> torch.Tensor:
        """Class probabilities, shape (len(texts), 2), in input order; tokenised :data:`STREAM_CHUNK` texts at a
        time, so memory stays flat however many texts come (only the probabilities grow)."""
        probabilities = torch.empty((len(texts), len(self.id2label)))
        with tqdm(total=len(texts), desc="Predicting", unit="tweet", disable=not progress) as bar:
            for start in range(0, len(texts), STREAM_CHUNK):
                part = texts[start : start + STREAM_CHUNK]
                probabilities[start : start + len(part)] = self._probabilities(self._encode(part))
                bar.update(len(part))
        return probabilities

    def _encode(self, texts: list[str]):
        texts = [normalize_tweet(text) for text in texts] if self.normalize else list(texts)
        texts = [deobfuscate(text) for text in texts] if self.deobfuscate else texts
        return self.tokenizer(texts, truncation=True, max_length=self.max_length)

    def _probabilities(self, encoded) -> torch.Tensor:
        lengths = [len(ids) for ids in encoded["input_ids"]]
        batches = length_batches(lengths, self.batch_size, self.max_batch_tokens)
        probabilities = torch.empty((len(lengths), len(self.id2label)))
        for batch in batches:
            features = {name: [values[i] for i in batch] for name, values in encoded.items()}
            logits = torch.from_numpy(self.engine(dict(self.tokenizer.pad(features, return_tensors="np"))))
            probabilities[batch] = logits.softmax(dim=-1)
        return probabilities

    def decide(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Label ids: argmax, as ``pipeline()`` decides."""
        return probabilities.argmax(dim=-1)

    def classify(self, texts: list[str], stages: dict[str, float] | None = None) -> list[Prediction]:
        """Label, score, probabilities and token counts for each text, in input order; ``stages``, when given,
        receives the seconds spent tokenising, in the network (padding included) and building the results."""
        if not texts:
            return []
        started = time.perf_counter()
        encoded = self._encode(texts)
        tokenized = time.perf_counter()
        probabilities = self._probabilities(encoded)
        forwarded = time.perf_counter()
        label_ids = self.decide(probabilities)
        unk = self.tokenizer.unk_token_id
        rows = zip(probabilities, label_ids, encoded["input_ids"], strict=True)
        predictions = [self._prediction(row, int(label_id), ids, unk) for row, label_id, ids in rows]
        if stages is not None:
            stages.update(tokenize=tokenized - started, forward=forwarded - tokenized,
                          results=time.perf_counter() - forwarded)  # fmt: skip
        return predictions

    def _prediction(self, row: torch.Tensor, label_id: int, ids: list[int], unk: int | None) -> Prediction:
        probabilities = {self.id2label[i]: float(p) for i, p in enumerate(row)}
        label = self.id2label[label_id]
        return Prediction(label=label, score=probabilities[label], probabilities=probabilities, tokens=len(ids),
                          unknown=sum(i == unk for i in ids) if unk is not None else 0)  # fmt: skip
