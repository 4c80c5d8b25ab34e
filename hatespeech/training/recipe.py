"""The training recipe, one function: what ``train.py`` runs and ``hatespeech.publishing.release`` re-uses.

Claim the run folder, load and tokenise the data, search (optional), train with early stopping, predict in input
order, save the model and every result, score the panel and write the card. Publishing is the caller's.
"""

import time
from dataclasses import fields

from transformers import set_seed

from hatespeech.config import resolved_config
from hatespeech.evaluation.card import write_card
from hatespeech.evaluation.panel import answering_from, evaluate_panel, write_panel
from hatespeech.evaluation.report import write_report
from hatespeech.hardware import describe_hardware
from hatespeech.inference.classifier import Classifier
from hatespeech.modeling import check_max_seq_length
from hatespeech.run_folder import RunFolder
from hatespeech.text import normalize_tweet
from hatespeech.training.search import continues_study
from hatespeech.training.steps import (
    fit,
    load_and_tokenize,
    predict_splits,
    save_model,
    search_best_params,
    training_tokenizer,
    validation_reference,
)
from hatespeech.training.tracking import log_results, tracked_run


def run(data_args, model_args, search_args, training_args) -> dict[str, dict] | None:
    """The recipe; returns each split's TweetEval scores (on the main process; None on a search-only worker).
    With ``--report_to mlflow`` it runs inside an MLflow run, which gets the results and files at the end."""
    with tracked_run(training_args, data_args) as mlflow:
        scores = _recipe(data_args, model_args, search_args, training_args)
        if mlflow is not None and scores:
            log_results(mlflow, RunFolder(training_args.output_dir), scores)
    return scores


def _recipe(data_args, model_args, search_args, training_args) -> dict[str, dict] | None:
    started = time.time()
    set_seed(training_args.seed)
    check_max_seq_length(model_args, data_args.max_seq_length)  # before the run folder is claimed
    # The run folder is this run's alone (an earlier run is refused, replaced, or resumed with the same data).
    options = resolved_config(data_args, model_args, search_args, training_args)
    if training_args.process_index == 0:
        folder = RunFolder(training_args.output_dir)
        resuming = bool(training_args.resume_from_checkpoint) or continues_study(search_args, folder.config())
        folder.claim(options, {f.name for f in fields(data_args)}, resuming, training_args.overwrite_output_dir)
    # Data: the tokenizer saved with the model (tweet normaliser inside), the splits, their token ids.
    tokenizer = training_tokenizer(model_args, data_args)
    splits, tokenized = load_and_tokenize(data_args, tokenizer, training_args)
    # Search (optional): the study's best parameters become this run's.
    best_params = None
    if search_args.search:
        best_params = search_best_params(training_args, model_args, search_args, tokenized, tokenizer, data_args)
        if best_params is None:  # a --search_only worker: the coordinator retrains
            return None
    # Train with early stopping on validation macro-F1.
    trainer, train_metrics = fit(training_args, model_args, tokenized, tokenizer, data_args)
    # Predict validation and test in input order (a tuned threshold folded into the head first).
    predictions, threshold = predict_splits(trainer, tokenized, training_args.tune_threshold, data_args.holdout_sources)
    if not trainer.is_world_process_zero():
        return {}
    # Save the run: model + tokenizer, every option, how training went.
    run_folder = RunFolder(training_args.output_dir)
    save_model(trainer, data_args)
    run_folder.write_config(resolved_config(data_args, model_args, search_args, training_args))
    run_folder.write_train_results(
        {**train_metrics, "wall_time_s": round(time.time() - started, 1), "world_size": training_args.world_size,
         "hardware": describe_hardware(), "data_sizes": " / ".join(f"{len(ds)} {name}" for name, ds in splits.items()),
         "best_checkpoint": trainer.state.best_model_checkpoint, "best_val_macro_f1": trainer.state.best_metric,
         "decision_threshold": threshold, "search": {"best_params": best_params} if best_params else None,
         "dropped_copies": getattr(splits, "dropped_copies", None), "feedback": getattr(splits, "feedback", None)}
    )  # fmt: skip
    if "validation" in predictions:  # the drift reference the server compares its traffic with
        run_folder.write_reference(validation_reference(predictions["validation"], tokenized["validation"], tokenizer))
    # Report: scores, predictions files and plots of each split (scored once, here).
    # With several sources, validation and test here are TweetEval's: the headline, as TweetEval scores it.
    headline = {split: p.only("tweeteval") for split, p in predictions.items()}
    scores = {split: write_report(run_folder, split, p.labels, p.probabilities) for split, p in headline.items()}
    # Panel (with --sources or --panel): every source's validation and test split, and HateCheck; the rows just
    # predicted are answered from those predictions, the rest (other sources, disguised rows, HateCheck) by the model.
    if data_args.sources or data_args.holdout_sources or data_args.panel:
        classifier = Classifier(training_args.output_dir)
        predicted = {text: row for split, p in predictions.items()  # keyed as the splits hold texts: normalised
                     for text, row in zip(splits[split]["text"], p.probabilities, strict=True)}  # fmt: skip
        predict = answering_from(lambda texts: classifier.predict_proba(texts, not training_args.disable_tqdm).numpy(),
                                 predicted, normalize_tweet if data_args.normalize_text else str)  # fmt: skip
        write_panel(run_folder, evaluate_panel(predict, data_args))
    # Card: README.md rendered from hub_card.md with these scores.
    write_card(run_folder, training_args.hub_model_id)
    return scores
