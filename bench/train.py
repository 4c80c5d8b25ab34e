"""Training throughput of the default model and hyperparameters: fp32 vs bf16, random vs length-grouped.

    python bench/train.py --data_dir ../shared/tweeteval/hate --samples 2048

Each variant trains on the same first --samples tweets (batch 32, dynamic padding, no evaluation or
checkpoints) in the same run; the table gives training samples/s, the projected time of one epoch
over the 9000 training tweets, and the ratio against fp32 with random batches (the baseline).
Writes bench/results/train-<time>.json.
"""

import argparse
import tempfile

from common import describe, machine, markdown_table, save

GROUPED = ["--train_sampling_strategy", "group_by_length"]
CUDA_ONLY = {"fp16-grouped"}
VARIANTS = {  # name: (description, train.py flags); flags, not setattr, so __post_init__ sees them
    "fp32": ("fp32, random batches (baseline)", []),
    "bf16": ("bf16 autocast, random batches", ["--bf16"]),
    "fp32-grouped": ("fp32, length-grouped batches", GROUPED),
    "bf16-grouped": ("bf16 autocast, length-grouped batches", ["--bf16", *GROUPED]),
    "fp16-grouped": ("fp16 autocast, length-grouped batches", ["--fp16", *GROUPED]),
}
EPOCH_TWEETS = 9000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--samples", type=int, default=2048, help="Training tweets per variant.")
    parser.add_argument("--variants", default=None, help=f"Comma-separated subset of {list(VARIANTS)}.")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="Train on the CPU or one GPU.")
    parser.add_argument("--warmup_steps", type=int, default=8, help="Untimed steps of each variant first (0: none).")
    args = parser.parse_args()
    names = (
        args.variants.split(",")
        if args.variants
        else [n for n in VARIANTS if args.device == "cuda" or n not in CUDA_ONLY]
    )

    from hatespeech.data.loading import load_splits
    from hatespeech.modeling import get_tokenizer
    from hatespeech.training.steps import make_trainer, parse_train_args, tokenize

    tokenized = tokenizer = None
    rows, results = [], []
    # Each variant once untimed for --warmup_steps first: the first steps of a process pay for kernel selection
    # and allocator growth (on an H200 the first variant of a run measured 0.3-0.8x of the same variant later).
    for name, warmup in [(n, True) for n in names if args.warmup_steps] + [(n, False) for n in names]:
        with tempfile.TemporaryDirectory() as output_dir:
            flags = ["--data_dir", args.data_dir, "--output_dir", output_dir, "--max_train_samples", str(args.samples),
                     "--num_train_epochs", "1", "--eval_strategy", "no", "--save_strategy", "no", "--report_to", "none",
                     "--load_best_model_at_end", "false", "--early_stopping_patience", "0",
                     "--disable_tqdm", "true", "--logging_strategy", "no", "--auto_bf16", "false"]  # fmt: skip
            description, extra_flags = VARIANTS[name]
            extra_flags = [*extra_flags, *(["--use_cpu"] if args.device == "cpu" else [])]
            extra_flags += ["--max_steps", str(args.warmup_steps)] if warmup else []
            data_args, model_args, _, training_args = parse_train_args([*flags, *extra_flags])
            if tokenized is None:  # the same tweets for every variant
                tokenizer = get_tokenizer(model_args)
                tokenized = tokenize(load_splits(data_args), tokenizer, data_args.max_seq_length)
            metrics = make_trainer(training_args, model_args, tokenized, tokenizer).train().metrics
        if warmup:
            continue
        rate = metrics["train_samples_per_second"]
        results.append({"variant": description, "samples": args.samples, "samples_per_s": rate,
                        "projected_epoch_s": round(EPOCH_TWEETS / rate, 1)})  # fmt: skip
    baseline = results[0]["samples_per_s"]
    for entry in results:
        entry["speedup"] = round(entry["samples_per_s"] / baseline, 2)
        rows.append([entry["variant"], entry["samples_per_s"], entry["projected_epoch_s"], f"{entry['speedup']}x"])
    print(f"Machine: {describe(machine())}\n")
    print(markdown_table(["variant", "samples/s", "projected epoch (s)", "vs baseline"], rows))
    saved = save("train", {"samples": args.samples, "warmup_steps": args.warmup_steps, "rows": results})
    print(f"\nResults: {saved}")


if __name__ == "__main__":
    main()
