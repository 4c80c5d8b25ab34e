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

from hatespeech.config import ConfigError
from hatespeech.data.readers import DataError
from hatespeech.publishing.hub import HubError, push_folder
from hatespeech.run_folder import RunFolderError
from hatespeech.training.recipe import run
from hatespeech.training.search import SearchError
from hatespeech.training.steps import leave_process_group, parse_train_args


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
        except (
            HubError
        ) as err:  # the trained model stays in output_dir; `python -m hatespeech.publishing.hub push` retries
            print(f"error: {err}; retry with: python -m hatespeech.publishing.hub push {training_args.output_dir} "
                  f"{training_args.hub_model_id}", file=sys.stderr)  # fmt: skip
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
