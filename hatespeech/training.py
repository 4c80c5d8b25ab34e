"""The Trainer run: tokenise, train with early stopping on validation macro-F1, save, score."""

import json
import logging
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import transformers
from datasets import DatasetDict
from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer, set_seed
from transformers.trainer_utils import get_last_checkpoint

from hatespeech.config import write_config
from hatespeech.data import DataArguments, load_splits
from hatespeech.metrics import compute_metrics
from hatespeech.modeling import ModelArguments, get_model, get_tokenizer
from hatespeech.search import SearchArguments, SearchSpace, apply_params, run_search

logger = logging.getLogger(__name__)

RUN_CONFIG = "run_config.yaml"


@dataclass
class TrainingArguments(transformers.TrainingArguments):
    """``transformers.TrainingArguments`` plus the options this project adds."""

    early_stopping_patience: int = field(
        default=2, metadata={"help": "Stop after this many evaluations without a better macro-F1 (0: never)."}
    )


def tokenize(splits: DatasetDict, tokenizer, max_length: int) -> DatasetDict:
    """Token ids without padding: the collator pads each batch to its own longest tweet."""
    return splits.map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length),
        batched=True,
        remove_columns=["text"],
        desc="Tokenizing",
    )


def make_trainer(training_args, model_args, tokenized: DatasetDict, tokenizer) -> Trainer:
    """A Trainer whose ``model_init`` applies a search trial's model-level parameters."""

    def model_init(trial=None):
        if trial is not None:
            apply_params(trial.params, model_args)
        return get_model(model_args)

    callbacks = []
    if training_args.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=training_args.early_stopping_patience))
    return Trainer(
        model_init=model_init,
        args=training_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=callbacks,
    )


def resume_checkpoint(training_args) -> str | None:
    """``--resume_from_checkpoint latest`` picks the newest checkpoint in the output folder."""
    requested = training_args.resume_from_checkpoint
    if requested not in ("latest", "last", "true", "True"):
        return requested
    checkpoint = get_last_checkpoint(training_args.output_dir) if Path(training_args.output_dir).is_dir() else None
    if checkpoint is None:
        raise FileNotFoundError(f"--resume_from_checkpoint latest: no checkpoint in {training_args.output_dir}")
    return checkpoint


def train(
    data_args: DataArguments,
    model_args: ModelArguments,
    search_args: SearchArguments,
    training_args: TrainingArguments,
) -> dict:
    """Train (after a search, if asked), save the model and return validation/test scores."""
    started = time.time()
    set_seed(training_args.seed)
    tokenizer = get_tokenizer(model_args)
    with training_args.main_process_first(desc="data loading"):
        splits = load_splits(data_args)
        tokenized = tokenize(splits, tokenizer, data_args.max_seq_length)
    logger.info("Data: %s", {name: len(ds) for name, ds in splits.items()})

    search_summary = None
    if search_args.search:
        space = SearchSpace.from_yaml(search_args.search_space, _option_names(training_args, model_args))
        search_trainer = make_trainer(training_args, model_args, tokenized, tokenizer)
        best_params = run_search(search_trainer, space, search_args, training_args.output_dir)
        logger.info("Best trial parameters: %s", best_params)
        apply_params(best_params, training_args, model_args)
        search_summary = {"best_params": best_params}

    trainer = make_trainer(training_args, model_args, tokenized, tokenizer)
    train_result = trainer.train(resume_from_checkpoint=resume_checkpoint(training_args))
    scores = {"validation": trainer.evaluate(metric_key_prefix="eval")}
    if "test" in tokenized:
        # predict(), not evaluate(): test scores must never reach early stopping or checkpoint choice
        scores["test"] = trainer.predict(tokenized["test"], metric_key_prefix="test").metrics
    scores = {split: _unprefixed(metrics) for split, metrics in scores.items()}

    if trainer.is_world_process_zero():
        output_dir = Path(training_args.output_dir)
        trainer.save_model()  # model + tokenizer, with id2label/label2id in config.json
        trainer.save_state()
        write_config(output_dir / RUN_CONFIG, data_args, model_args, search_args, training_args)
        train_metrics = dict(train_result.metrics)
        train_metrics.update(
            wall_time_s=round(time.time() - started, 1),
            world_size=training_args.world_size,
            best_checkpoint=trainer.state.best_model_checkpoint,
            best_val_macro_f1=trainer.state.best_metric,
            search=search_summary,
        )
        _write_json(output_dir / "train_results.json", train_metrics)
        _write_json(output_dir / "eval_results.json", scores)
    return scores


def _option_names(*instances) -> set[str]:
    return {f.name for instance in instances for f in fields(instance)}


def _unprefixed(metrics: dict) -> dict:
    return {key.split("_", 1)[1]: value for key, value in metrics.items() if key != "epoch"}


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
