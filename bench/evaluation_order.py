"""The Trainer's evaluation in input order (the baseline) against length order (what training runs now).

    python bench/evaluation_order.py --config configs/train_quick.yaml --model outputs/model --samples 3000

Both predict the same validation rows of the configuration's sources (a seeded sample of --samples rows, in
input order) with the same model, batch size and precision, in the same run; the table gives the padded tokens
each order feeds the model, the median time of --repeats passes, the speed-up, and how many predicted labels
differ between the two orders (padding changes rounding, not the model). Writes
bench/results/evaluation_order-<time>.json.
"""

import argparse
import dataclasses
import tempfile

import numpy as np
from common import describe, machine, markdown_table, median_seconds, save


def padded_tokens(lengths: np.ndarray, order: np.ndarray, batch_size: int) -> int:
    """Tokens the model reads when each batch of ``order`` is padded to its longest row."""
    return int(sum(lengths[order[i : i + batch_size]].max() * len(order[i : i + batch_size])
                   for i in range(0, len(order), batch_size)))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/train_quick.yaml")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--model", default=None, help="A trained model folder (default: the config's base model).")
    parser.add_argument("--samples", type=int, default=3000, help="Validation rows (0: all).")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from transformers import Trainer

    from hatespeech.training.steps import (
        length_order,
        load_and_tokenize,
        make_trainer,
        parse_train_args,
        training_tokenizer,
    )

    with tempfile.TemporaryDirectory() as output_dir:
        flags = ["--config", args.config, "--data_dir", args.data_dir, "--output_dir", output_dir,
                 "--report_to", "none", "--disable_tqdm", "true"]  # fmt: skip
        flags += ["--model_name_or_path", args.model] if args.model else []
        data_args, model_args, _, training_args = parse_train_args(flags)
        tokenizer = training_tokenizer(model_args, data_args)
        _, tokenized = load_and_tokenize(data_args, tokenizer, training_args)
        rows = tokenized["validation"]
        if 0 < args.samples < len(rows):
            rows = rows.shuffle(seed=0).select(range(args.samples))
        tokenized["validation"] = rows
        length_ordered = make_trainer(training_args, model_args, tokenized, tokenizer, data_args=data_args)
        # The baseline: the same model and arguments, transformers' sequential evaluation sampler (which it
        # uses unless the training sampler groups by length).
        input_ordered = Trainer(
            model=length_ordered.model, args=dataclasses.replace(training_args, train_sampling_strategy="random"),
            eval_dataset=rows, processing_class=tokenizer, data_collator=length_ordered.data_collator,
        )  # fmt: skip
        length_ordered.compute_metrics = None
        lengths = np.array([len(ids) for ids in rows["input_ids"]])
        batch = training_args.per_device_eval_batch_size
        orders = {"input order (baseline)": np.arange(len(rows)),
                  "length order, input order restored": length_order(rows)}  # fmt: skip
        labels, results = {}, []
        for (name, order), trainer in zip(orders.items(), (input_ordered, length_ordered), strict=True):
            outputs = []  # the timed passes' predictions: no extra pass for the labels
            median, times = median_seconds(lambda t=trainer, kept=outputs: kept.append(t.predict(rows)), args.repeats)
            labels[name] = outputs[-1].predictions.argmax(-1)
            results.append({"order": name, "padded_tokens": padded_tokens(lengths, order, batch),
                            "median_s": round(median, 2), "times_s": [round(t, 2) for t in times]})  # fmt: skip
    baseline = results[0]
    flips = int((labels[results[0]["order"]] != labels[results[1]["order"]]).sum())
    table = [[r["order"], f"{r['padded_tokens']:,}", r["median_s"], f"{baseline['median_s'] / r['median_s']:.2f}x"]
             for r in results]  # fmt: skip
    print(f"Machine: {describe(machine())}")
    print(f"{len(rows)} validation rows ({lengths.sum():,} real tokens), batch {batch}, "
          f"{'bf16' if training_args.bf16 else 'fp32'}, median of {args.repeats}\n")  # fmt: skip
    print(markdown_table(["order", "padded tokens", "median s", "vs baseline"], table))
    print(f"\nPredicted labels that differ between the two orders: {flips} of {len(rows)}")
    saved = save("evaluation_order", {"config": args.config, "model": args.model, "rows": len(rows),
                                      "batch_size": batch, "bf16": training_args.bf16, "label_flips": flips,
                                      "results": results})  # fmt: skip
    print(f"\nResults: {saved}")


if __name__ == "__main__":
    main()
