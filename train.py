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
from pathlib import Path

from hatespeech.card import write_card
from hatespeech.config import ConfigError
from hatespeech.data import DataError
from hatespeech.hub import HubError, push_folder
from hatespeech.search import SearchError
from hatespeech.training import parse_train_args, train


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
    try:
        scores = train(data_args, model_args, search_args, training_args)
    except (DataError, SearchError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if search_args.search_only:
        print(f"Study {search_args.study_name!r} is full; the coordinator (the run without --search_only) retrains")
        return 0
    if training_args.process_index != 0:
        return 0
    output_dir = Path(training_args.output_dir)
    write_card(output_dir, training_args.hub_model_id)
    for split, metrics in scores.items():
        print(f"{split:>10} macro-F1 {metrics['macro_f1']:.4f}  accuracy {metrics['accuracy']:.4f}")
    print(f"Model and results saved to {output_dir}")
    if push_to_hub:
        try:
            private = bool(training_args.hub_private_repo)
            push_folder(output_dir, training_args.hub_model_id, private=private, token=hub_token)
        except HubError as err:  # the trained model stays in output_dir; `python -m hatespeech.hub push` retries
            print(f"error: {err}; retry with: python -m hatespeech.hub push {output_dir} {training_args.hub_model_id}",
                  file=sys.stderr)  # fmt: skip
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
