"""The search under DDP: transformers runs the study on rank 0 and broadcasts each trial's parameters; it
returns nothing on the other ranks, and Optuna's pruning is not DDP-safe (only rank 0 would stop). So
pruning is off when ``world_size > 1``, and the best parameters are broadcast here."""

import logging

import optuna
import torch

from hatespeech.run_folder import RunFolder
from hatespeech.training.search_report import write_search_report
from hatespeech.training.study import finished_trials, remove_trial_folders, storage_url

logger = logging.getLogger(__name__)


def broadcast_from_main(value, process_index: int):
    """Every rank gets rank 0's ``value`` (no-op outside distributed runs)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return value
    box = [value if process_index == 0 else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def run_search_ddp(trainer, space, args, output_dir: str, objective) -> dict:
    """Under DDP, rank 0 runs the study and broadcasts; this process group is one worker of the study."""
    training_args = trainer.args
    storage = storage_url(args, output_dir) if training_args.process_index == 0 else None
    done = finished_trials(args.study_name, storage) if training_args.process_index == 0 else None
    remaining = broadcast_from_main(max(0, args.n_trials - (done or 0)), training_args.process_index)
    if training_args.process_index == 0:
        logger.info("Study %r: %d trials finished, %d to run", args.study_name, done, remaining)
    if remaining:
        trainer.hyperparameter_search(
            hp_space=space.suggest,
            compute_objective=objective,
            n_trials=remaining,
            direction="maximize",
            backend="optuna",
            study_name=args.study_name,
            storage=storage,
            load_if_exists=True,
            sampler=space.make_sampler(training_args.seed),
            pruner=space.make_pruner(training_args.world_size),
        )
    best = None
    if training_args.process_index == 0:
        study = optuna.load_study(study_name=args.study_name, storage=storage)
        best = study.best_trial.params
        write_search_report(study, RunFolder(output_dir))
        remove_trial_folders(output_dir)
    return broadcast_from_main(best, training_args.process_index)
