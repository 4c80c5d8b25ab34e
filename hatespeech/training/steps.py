"""The steps of a training run, called in order by ``train.py`` (and ``hatespeech.publishing.release``).

Each step is one function: the tokenizer that is saved with the model, data loading and
tokenising, the search, training with early stopping on validation macro-F1, predictions in input
order (with a tuned threshold folded in, if asked) and saving the model with the settings
inference reads back. Nothing here writes files beyond what the Trainer writes; the run folder
(``hatespeech.run_folder``) is written by the caller.
"""

import dataclasses
import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import transformers
from datasets import Dataset, DatasetDict
from torch.utils.data import SequentialSampler
from transformers import DataCollatorWithPadding, EarlyStoppingCallback, EvalPrediction, Trainer
from transformers.integrations import MLflowCallback
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, IntervalStrategy, has_length

from hatespeech import HATE
from hatespeech.config import REPO_ROOT, parse_config
from hatespeech.data.loading import DataArguments, load_splits, with_temperature
from hatespeech.evaluation.metrics import compute_metrics, metrics_for_sources, softmax
from hatespeech.hardware import cpu_has_bf16_matmul
from hatespeech.modeling import ModelArguments, get_model, get_tokenizer, tokenizer_fingerprint
from hatespeech.monitoring import statistics
from hatespeech.text import with_tweet_normalizer
from hatespeech.training import tracking
from hatespeech.training.linear_probe import check_supported, fit_probe, pooled_features, set_head
from hatespeech.training.search import SearchArguments, SearchError, SearchSpace, apply_params, run_search
from hatespeech.training.threshold import best_threshold, fold_into_head, shift_logits

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = REPO_ROOT / "configs" / "train.yaml"


@dataclass
class TrainingArguments(transformers.TrainingArguments):
    """``transformers.TrainingArguments`` plus the options this project adds."""

    early_stopping_patience: int = field(
        default=2, metadata={"help": "Stop after this many evaluations without a better macro-F1 (0: never)."}
    )
    linear_probe: bool = field(
        default=False,
        metadata={
            "help": "LP-FT: fit the head by logistic regression on the frozen encoder's features, then fine-tune "
            "everything (Kumar et al. 2022)."
        },
    )
    linear_probe_c: float = field(default=1.0, metadata={"help": "Inverse L2 strength of the linear probe."})
    tune_threshold: bool = field(
        default=False,
        metadata={
            "help": "After training, choose the hate-probability threshold with the best validation macro-F1 and "
            "fold it into the head's bias (so pipeline() applies it too)."
        },
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Replace an earlier run in --output_dir (its run files are removed first)."},
    )
    auto_bf16: bool = field(
        default=True,
        metadata={
            "help": "Train in bf16 mixed precision when the hardware runs it natively (AMX or AVX-512-BF16 CPUs, "
            "bf16 GPUs) and neither --bf16 nor --fp16 is given."
        },
    )


def parse_train_args(argv: list[str] | None, description: str = "") -> tuple:
    """(data, model, search, training) arguments from ``--config`` (default configs/train.yaml) and flags."""
    data_args, model_args, search_args, training_args, _ = parse_config(
        (DataArguments, ModelArguments, SearchArguments, TrainingArguments), argv, DEFAULT_CONFIG, description
    )
    return data_args, model_args, search_args, with_native_bf16(training_args)


def with_native_bf16(args: TrainingArguments) -> TrainingArguments:
    """Switch on bf16 where it is fast (``--auto_bf16``); ``replace`` re-runs the checks of __post_init__."""
    if not args.auto_bf16 or args.bf16 or args.fp16:
        return args
    device = args.device
    native = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_bf16_matmul()
    if device.type not in ("cpu", "cuda") or not native:
        return args
    logger.info("bf16 mixed precision: the %s runs it natively (--auto_bf16 false to train in fp32)", device.type)
    # Without a GPU, transformers accepts bf16 only together with use_cpu.
    return dataclasses.replace(args, bf16=True, use_cpu=args.use_cpu or device.type == "cpu")


def tokenize(splits: DatasetDict, tokenizer, max_length: int) -> DatasetDict:
    """Token ids without padding: the collator pads each batch to its own longest tweet."""
    return splits.map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length),
        batched=True,
        remove_columns=["text"],
        desc="Tokenizing",
    )


class InputOrderTrainer(Trainer):
    """A Trainer that evaluates in length order and hands back every prediction in input order.

    In input order a batch of 128 texts is padded to its longest: 3.3x the real tokens on the quick start's
    validation rows (1.28M vs 0.39M). Sorted by length, batches pad little, so evaluation runs from shortest to
    longest and the rows are put back before the metrics see them (per-source metrics read each row's source in
    input order) and before ``predict()`` returns them (a predictions file must re-score against the gold
    file). transformers' own ``group_by_length`` evaluation sampler shuffles and returns rows shuffled. Under DDP,
    accelerate shards in input order and ``gather_for_metrics`` restores it.
    """

    def _sorts_evaluation(self) -> bool:
        return self.args.world_size <= 1 and not self.args.batch_eval_metrics

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        if not self._sorts_evaluation():
            return None if self.args.world_size > 1 else SequentialSampler(eval_dataset)
        return length_order(eval_dataset).tolist()

    def evaluation_loop(self, dataloader, *args, **kwargs):
        if not self._sorts_evaluation() or not has_length(dataloader.dataset):
            return super().evaluation_loop(dataloader, *args, **kwargs)
        restore = np.argsort(length_order(dataloader.dataset))  # where each input row sits in length order
        hook = self.compute_metrics
        if hook is not None:
            self.compute_metrics = lambda seen: hook(
                EvalPrediction(*(_rows(part, restore) for part in (seen.predictions, seen.label_ids)),
                               inputs=_rows(seen.inputs, restore), losses=_rows(seen.losses, restore))
            )  # fmt: skip
        try:
            output = super().evaluation_loop(dataloader, *args, **kwargs)
        finally:
            self.compute_metrics = hook
        return output._replace(
            predictions=_rows(output.predictions, restore), label_ids=_rows(output.label_ids, restore)
        )


def length_order(dataset: Dataset) -> np.ndarray:
    """Row indices from the shortest input to the longest (stable: rows of one length keep their order)."""
    return np.argsort([len(ids) for ids in dataset["input_ids"]], kind="stable")


def _rows(values, order: np.ndarray):
    """``values`` (an array, a tuple of arrays or None) with its rows taken in ``order``."""
    if values is None:
        return None
    if isinstance(values, tuple):
        return tuple(_rows(value, order) for value in values)
    return values[order]


def inference_tokenizer(tokenizer, data_args: DataArguments):
    """The tokenizer saved with the model: the run's maximum length and, when it normalised tweets,
    the tweet normaliser inside it (so plain ``pipeline()`` prepares raw tweets as training did)."""
    if data_args.normalize_text:
        return with_tweet_normalizer(tokenizer, data_args.max_seq_length, data_args.deobfuscate)
    tokenizer.model_max_length = data_args.max_seq_length
    return tokenizer


def make_trainer(
    training_args, model_args, tokenized: DatasetDict, tokenizer, hp_space=None, build_model=get_model, data_args=None
) -> Trainer:
    """A Trainer whose ``model_init`` applies a search trial's model-level parameters (from ``hp_space``),
    and its source temperature to the training rows, and builds the model with ``build_model(model_args)``."""

    # The frozen encoder's features are the same for every trial, and the Trainer calls model_init
    # twice per run (at construction and in train()): compute the features and each probe once.
    probe_features, probes = {}, {}

    def model_init(trial=None):
        # The Trainer builds the model before it samples the trial's parameters, so they are asked
        # for here (Optuna returns the same value when asked twice; FixedTrial on other DDP ranks too).
        if trial is not None and hp_space is not None:
            params = hp_space(trial)
            apply_params(params, model_args)
            if "source_temperature" in params:  # a data option: this trial's mix, built before its dataloader
                trainer.train_dataset = with_temperature(
                    tokenized["train"], params["source_temperature"], data_args.source_split_seed
                )
        model = build_model(model_args)
        if training_args.linear_probe:
            check_supported(model)
            if "train" not in probe_features:
                probe_features["train"] = pooled_features(model, tokenized["train"], tokenizer)
            key = (training_args.linear_probe_c, training_args.seed)
            if key not in probes:
                labels = np.asarray(tokenized["train"]["label"])
                probes[key] = fit_probe(probe_features["train"], labels, *key)
            set_head(model, probes[key])
        return model

    callbacks = []
    if training_args.early_stopping_patience > 0 and training_args.eval_strategy == IntervalStrategy.NO:
        logger.warning("--eval_strategy no: early stopping is off (it needs validation scores)")
    elif training_args.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=training_args.early_stopping_patience))
    validation = selecting_rows(tokenized["validation"], data_args.holdout_sources if data_args else ())
    trainer = InputOrderTrainer(
        model_init=model_init,
        args=training_args,
        train_dataset=tokenized["train"],
        eval_dataset=validation,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        # Several sources: the mean of their validation macro-F1 selects (hatespeech.evaluation.metrics).
        compute_metrics=metrics_for_sources(validation["source"])
        if "source" in validation.column_names
        else compute_metrics,
        callbacks=callbacks,
    )
    return trainer


def selecting_rows(validation: Dataset, holdout) -> Dataset:
    """The validation rows that choose checkpoints and stop early: every source's but the held-out ones
    (``--holdout_sources``), which are only scored after training."""
    if not holdout:
        return validation
    return validation.filter(lambda source: source not in holdout, input_columns="source")


def resume_checkpoint(training_args) -> str | None:
    """``--resume_from_checkpoint latest``: the newest complete checkpoint in the output folder, or
    None (train from the start) when there is none; a path is used as given."""
    requested = training_args.resume_from_checkpoint
    if requested not in ("latest", "last", "true", "True"):
        return requested
    folder = Path(training_args.output_dir)
    candidates = sorted(folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*"), key=_checkpoint_step, reverse=True)
    for checkpoint in candidates:
        if is_complete_checkpoint(checkpoint):
            return str(checkpoint)
        logger.warning("Skipping %s: incomplete (the run stopped while writing it)", checkpoint.name)
    logger.warning("--resume_from_checkpoint latest: no complete checkpoint in %s; training from the start", folder)
    return None


def is_complete_checkpoint(folder: Path) -> bool:
    """The Trainer writes ``trainer_state.json`` last: a checkpoint without a readable one was cut short."""
    try:
        json.loads((folder / TRAINER_STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _checkpoint_step(folder: Path) -> int:
    suffix = folder.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1


def training_tokenizer(model_args: ModelArguments, data_args: DataArguments):
    """The base model's tokenizer as it will be saved with the model (see ``inference_tokenizer``)."""
    return inference_tokenizer(get_tokenizer(model_args), data_args)


def load_and_tokenize(data_args: DataArguments, tokenizer, training_args) -> tuple[DatasetDict, DatasetDict]:
    """The splits as text, and tokenised (the main process first, so the others reuse its cache)."""
    with training_args.main_process_first(desc="data loading"):
        splits = load_splits(data_args)
        tokenized = tokenize(splits, tokenizer, data_args.max_seq_length)
    logger.info("Data: %s", {name: len(ds) for name, ds in splits.items()})
    return splits, tokenized


def search_best_params(
    training_args, model_args, search_args: SearchArguments, tokenized, tokenizer, data_args: DataArguments
) -> dict | None:
    """Run the study and apply its best parameters to the arguments (and a searched source temperature to
    ``tokenized``'s training rows); None on a ``--search_only`` worker."""
    mixed = "source" in tokenized["train"].column_names
    options = _option_names(training_args, model_args) | ({"source_temperature"} if mixed else set())
    try:
        space = SearchSpace.from_yaml(search_args.search_space, options)
    except (OSError, ValueError) as err:
        raise SearchError(str(err)) from None
    if "source_temperature" in space.params and data_args.source_temperature not in (None, 1):
        raise SearchError("the search space samples source_temperature: leave --source_temperature unset")
    search_trainer = make_trainer(
        training_args, model_args, tokenized, tokenizer, hp_space=space.suggest, data_args=data_args
    )
    trial_log = None
    if tracking.wanted(training_args) and training_args.process_index == 0:
        # Each trial is one nested MLflow run (TrialLog), not epochs of every trial mixed into the run's curves.
        search_trainer.remove_callback(MLflowCallback)
        trial_log = tracking.TrialLog()
    best_params = run_search(search_trainer, space, search_args, training_args.output_dir, trial_log)
    if best_params is not None:
        logger.info("Best trial parameters: %s", best_params)
        apply_params(best_params, training_args, model_args, data_args)
        if "source_temperature" in best_params:  # the final run trains on the chosen mix, as run_config.yaml says
            tokenized["train"] = with_temperature(
                tokenized["train"], data_args.source_temperature, data_args.source_split_seed
            )
    return best_params


def fit(training_args, model_args, tokenized: DatasetDict, tokenizer, data_args=None) -> tuple[Trainer, dict]:
    """Train (resuming if asked) and keep the checkpoint with the best validation macro-F1."""
    trainer = make_trainer(training_args, model_args, tokenized, tokenizer, data_args=data_args)
    result = trainer.train(resume_from_checkpoint=resume_checkpoint(training_args))
    return trainer, dict(result.metrics)


@dataclass
class SplitPredictions:
    """Gold labels, class probabilities and (several sources) each row's source, in input order."""

    labels: np.ndarray
    probabilities: np.ndarray
    sources: np.ndarray | None = None

    def only(self, source: str) -> "SplitPredictions":
        """The rows of one source (all rows when the data has a single source)."""
        if self.sources is None:
            return self
        keep = self.sources == source
        return SplitPredictions(self.labels[keep], self.probabilities[keep], self.sources[keep])


def predict_splits(
    trainer: Trainer, tokenized: DatasetDict, tune_threshold: bool, holdout=()
) -> tuple[dict, float | None]:
    """Validation and test predictions; with ``tune_threshold`` the best validation threshold is folded
    into the head first (returned, else None)."""
    # predict(), not evaluate(): the final scores must never reach early stopping or checkpoint choice;
    # they are computed from the returned predictions, so the Trainer's metric hook is left out here.
    hook, trainer.compute_metrics = trainer.compute_metrics, None
    outputs = {split: trainer.predict(tokenized[split]) for split in ("validation", "test") if split in tokenized}
    trainer.compute_metrics = hook
    logits = {split: output.predictions for split, output in outputs.items()}
    sources = {
        split: np.asarray(tokenized[split]["source"]) if "source" in tokenized[split].column_names else None
        for split in outputs
    }
    threshold = None
    if tune_threshold and "validation" in outputs:
        validation_hate = softmax(logits["validation"])[:, HATE]
        labels, chosen_by = outputs["validation"].label_ids, sources["validation"]
        if holdout:  # held-out sources never choose anything
            keep = ~np.isin(chosen_by, list(holdout))
            labels, validation_hate, chosen_by = labels[keep], validation_hate[keep], chosen_by[keep]
        threshold = best_threshold(labels, validation_hate, chosen_by)
        fold_into_head(trainer.model, threshold)
        logits = {split: shift_logits(values, threshold) for split, values in logits.items()}
    predictions = {
        split: SplitPredictions(outputs[split].label_ids, softmax(values), sources[split])
        for split, values in logits.items()
    }
    return predictions, threshold


def validation_reference(predictions: SplitPredictions, validation: Dataset, tokenizer) -> dict:
    """What the server's drift metrics compare with: the validation splits' statistics (hatespeech.monitoring)."""
    ids, unk = validation["input_ids"], tokenizer.unk_token_id
    return statistics(predictions.probabilities[:, HATE].tolist(), [len(row) for row in ids],
                      [sum(token == unk for token in row) for row in ids])  # fmt: skip


def save_model(trainer: Trainer, data_args: DataArguments) -> None:
    """Model and tokenizer, with what inference reads back (``hatespeech.inference.classifier``) in config.json."""
    trainer.model.config.update(
        {
            "max_seq_length": data_args.max_seq_length,
            "normalize_text": data_args.normalize_text,
            "deobfuscate": data_args.deobfuscate,
            "tokenizer_fingerprint": tokenizer_fingerprint(trainer.processing_class),
        }
    )
    trainer.save_model()  # model + tokenizer, with id2label/label2id in config.json
    trainer.save_state()
    if trainer.is_world_process_zero():
        portable_tokenizer_config(Path(trainer.args.output_dir))


def portable_tokenizer_config(folder: Path) -> None:
    """Name the saved tokenizer's class ``PreTrainedTokenizerFast``: transformers 5 writes ``TokenizersBackend``,
    which transformers 4 cannot load (Optimum's ONNX Runtime classes still pin 4.x); both versions read
    ``PreTrainedTokenizerFast`` as the same tokenizer.json, normaliser included."""
    path = folder / "tokenizer_config.json"
    if path.is_file():
        config = json.loads(path.read_text(encoding="utf-8"))
        if config.get("tokenizer_class") == "TokenizersBackend":
            path.write_text(json.dumps(config | {"tokenizer_class": "PreTrainedTokenizerFast"}, indent=2) + "\n",
                            encoding="utf-8")  # fmt: skip


def leave_process_group(wait: bool) -> None:
    """Under DDP, close the process group, after waiting for every rank when ``wait`` (rank 0 writes the
    run after training): a rank that exits while others still use the group can abort at shutdown
    ("terminate called without an active exception", seen with gloo)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        if wait:
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _option_names(*instances) -> set[str]:
    return {f.name for instance in instances for f in fields(instance)}
