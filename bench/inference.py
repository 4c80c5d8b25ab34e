"""Offline inference throughput on the TweetEval hate test split, against the naive pipeline().

    python bench/inference.py --model outputs/model --data_dir ../shared/tweeteval/hate

Every row is measured in the same run (median of --repeats, after a warm-up), with label
agreement against the fp32 Classifier and the test macro-F1 of each path. The per-tweet
pipeline() baseline runs on the first --naive_limit tweets (it is slow); its rate is per tweet.
The ONNX rows need `python -m hatespeech.inference.export onnx <model>` first (the benchmark runs it when the
model folder has no export).
Prints a markdown table and writes bench/results/inference-<time>.json.
"""

import argparse

import numpy as np
from common import describe, machine, markdown_table, median_seconds, save
from sklearn.metrics import f1_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/model", help="Local model folder or Hub id.")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate", help="TweetEval layout folder.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive_limit", type=int, default=400, help="Tweets for the per-tweet pipeline() rows.")
    parser.add_argument("--batch_sizes", default="64,128", help="Classifier batch sizes to compare.")
    parser.add_argument("--max_batch_tokens", type=int, default=4096, help="Padded-token cap per Classifier batch.")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (every path runs there).")
    parser.add_argument("--no-onnx", dest="onnx", action="store_false", help="Skip the exported engines' rows.")
    parser.add_argument("--compile", action="store_true", help="Add a bf16 + torch.compile row (~30 s warm-up).")
    args = parser.parse_args()

    import torch
    from transformers import pipeline

    from hatespeech.data.loading import DataArguments, load_split
    from hatespeech.inference.classifier import Classifier
    from hatespeech.text import normalize_tweet

    test = load_split(DataArguments(data_dir=args.data_dir), "test")
    texts, labels = test["text"], np.array(test["label"])
    rows, results = [], []

    def record(name, seconds, n, predicted=None, reference=None):
        rate = n / seconds
        entry = {"path": name, "tweets": n, "seconds": round(seconds, 3), "tweets_per_s": round(rate, 1)}
        if predicted is not None:
            entry["agreement_with_fp32"] = (
                round(float(np.mean(predicted == reference)), 4) if reference is not None else 1.0
            )
            entry["test_macro_f1"] = round(f1_score(labels[: len(predicted)], predicted, average="macro"), 4)
        results.append(entry)

    naive = pipeline("text-classification", model=args.model, device=args.device)
    subset = [normalize_tweet(t) for t in texts[: args.naive_limit]]
    seconds, _ = median_seconds(lambda: [naive(t) for t in subset], args.repeats)
    record("pipeline(), one call per tweet", seconds, len(subset))
    seconds, _ = median_seconds(lambda: naive(subset, batch_size=64), args.repeats)
    record("pipeline(list, batch_size=64)", seconds, len(subset))

    reference = None
    sizes = list(map(int, args.batch_sizes.split(",")))
    variants = [(engine, size, False) for engine in ("fp32", "bf16") for size in sizes]
    variants += [("bf16", 64, True)] if args.compile else []
    if args.onnx:
        from pathlib import Path

        from hatespeech.inference.engines import ONNX_FILES
        from hatespeech.inference.export import PARITY_TEXTS, export
        from hatespeech.run_folder import ONNX_DIR

        if not (Path(args.model) / ONNX_DIR / ONNX_FILES["onnx"]).is_file():  # the CLI's export, parity report too
            validation = load_split(DataArguments(data_dir=args.data_dir), "validation")
            export(Path(args.model), validation["text"][:PARITY_TEXTS], validation["label"][:PARITY_TEXTS])
        from hatespeech.inference.engines import installed_runtimes

        exported = [engine for engine in ("onnx", "onnx-int8", "openvino") if engine in installed_runtimes()]
        variants += [(engine, size, False) for engine in exported for size in sizes]
    for backend, batch_size, compiled in variants:
        classifier = Classifier(
            args.model,
            batch_size=batch_size,
            max_batch_tokens=args.max_batch_tokens,
            backend=backend,
            compile=compiled,
            device=args.device,
        )
        out: dict = {}

        def run(c=classifier, out=out):
            out["labels"] = c.decide(c.predict_proba(texts))

        seconds, _ = median_seconds(run, args.repeats)
        predicted = out["labels"].numpy()
        reference = predicted if reference is None else reference
        record(
            f"Classifier {backend}{' + torch.compile' if compiled else ''}, batches of <= {batch_size}",
            seconds,
            len(texts),
            predicted,
            reference,
        )

    baseline = results[0]["tweets_per_s"]
    for entry in results:
        entry["speedup_vs_naive"] = round(entry["tweets_per_s"] / baseline, 2)
        rows.append([entry["path"], entry["tweets"], entry["tweets_per_s"], f"{entry['speedup_vs_naive']}x",
                     entry.get("agreement_with_fp32", "-"), entry.get("test_macro_f1", "-")])  # fmt: skip
    info = machine()
    print(f"Machine: {describe(info)}; torch threads {torch.get_num_threads()}; model {args.model}\n")
    print(markdown_table(["path", "tweets", "tweets/s (median)", "vs naive", "labels = fp32", "test macro-F1"], rows))
    print(f"\nResults: {save('inference', {'model': args.model, 'repeats': args.repeats, 'rows': results})}")


if __name__ == "__main__":
    main()
