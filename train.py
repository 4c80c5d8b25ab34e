"""Fine-tune a BERT-family encoder on TweetEval hate, optionally after an Optuna search.

Single process (CPU or one GPU):
    python train.py                                  # configs/train.yaml, embedded MiniLM
    python train.py --data_dir ../shared/tweeteval/hate --num_train_epochs 1
    accelerate launch train.py --config configs/train.yaml

Hyperparameter search (space in configs/search.yaml), then retrain with the best trial:
    python train.py --search --n_trials 20 --storage sqlite:///search.db --study_name hate

DDP on CPU (2 processes, gloo) and on GPUs:
    torchrun --nproc_per_node 2 train.py --use_cpu
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml train.py

Multi-node: the same accelerate/torchrun command on every machine with --num_machines,
--machine_rank and --main_process_ip.

A search shared by several machines (one PostgreSQL study; the coordinator retrains the best):
    python train.py --search --n_trials 40 --storage postgresql+psycopg://user:pw@db/optuna --study_name hate
    python train.py --search --search_only --n_trials 40 --storage <same URL> --study_name hate   # each extra machine
"""

import logging
import sys
import time
from dataclasses import fields

from transformers import set_seed

from hatespeech.card import write_card
from hatespeech.config import ConfigError, resolved_config
from hatespeech.data import DataError
from hatespeech.evaluation import write_report
from hatespeech.hardware import describe_hardware
from hatespeech.hub import HubError, push_folder
from hatespeech.inference import Classifier
from hatespeech.modeling import check_max_seq_length
from hatespeech.panel import evaluate_panel, write_panel
from hatespeech.run_folder import RunFolder, RunFolderError
from hatespeech.search import SearchError, continues_study
from hatespeech.training import (
    fit,
    leave_process_group,
    load_and_tokenize,
    parse_train_args,
    predict_splits,
    save_model,
    search_best_params,
    training_tokenizer,
    validation_reference,
)


def run(data_args, model_args, search_args, training_args) -> dict[str, dict] | None:
    """The recipe; returns each split's TweetEval scores (on the main process; None on a search-only worker)."""
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
    # Panel (with --sources or --panel): every source's validation and test split, and HateCheck.
    if data_args.sources or data_args.holdout_sources or data_args.panel:
        classifier = Classifier(training_args.output_dir)
        write_panel(run_folder, evaluate_panel(lambda texts: classifier.predict_proba(texts).numpy(), data_args))
    # Card: README.md rendered from hub_card.md with these scores.
    write_card(run_folder, training_args.hub_model_id)
    return scores


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        data_args, model_args, search_args, training_args = parse_train_args(argv, __doc__)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # The Trainer would push every checkpoint and pickle the token into training_args.bin:
    # publishing is done once, after training, and the token is kept out of every saved file.
    push_to_hub, hub_token = training_args.push_to_hub, training_args.hub_token
    training_args.push_to_hub, training_args.hub_token = False, None
    if push_to_hub and not training_args.hub_model_id:
        print("error: --push_to_hub needs --hub_model_id <org>/<name>", file=sys.stderr)
        return 2
    finished = False
    try:
        status = report(run(data_args, model_args, search_args, training_args), search_args, training_args,
                        push_to_hub, hub_token)  # fmt: skip
        finished = True
        return status
    except (ConfigError, DataError, SearchError, RunFolderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        leave_process_group(wait=finished)


def report(scores, search_args, training_args, push_to_hub: bool, hub_token: str | None) -> int:
    """Print the scores and publish (main process); the exit status."""
    if scores is None:
        print(f"Study {search_args.study_name!r} is full; the coordinator (the run without --search_only) retrains")
        return 0
    if not scores:  # not the main process
        return 0
    for split, metrics in scores.items():
        print(f"{split:>10} macro-F1 {metrics['macro_f1']:.4f}  accuracy {metrics['accuracy']:.4f}")
    print(f"Model and results saved to {training_args.output_dir}")
    if push_to_hub:  # Publish: model, tokenizer, results, plots and the card rendered for the repo.
        try:
            private = bool(training_args.hub_private_repo)
            push_folder(training_args.output_dir, training_args.hub_model_id, private=private, token=hub_token)
        except HubError as err:  # the trained model stays in output_dir; `python -m hatespeech.hub push` retries
            print(f"error: {err}; retry with: python -m hatespeech.hub push {training_args.output_dir} "
                  f"{training_args.hub_model_id}", file=sys.stderr)  # fmt: skip
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
