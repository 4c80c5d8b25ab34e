"""Classify a file of tweets in batch, streaming it so memory stays flat on any size.

    python predict.py --model outputs/model --input tweets.txt --output outputs/predictions/tweets.csv
    python predict.py --model <org>/<name> --input data.csv --text_column tweet --output preds.csv
    python predict.py --model outputs/model --input test_text.txt --output preds.txt --format tweeteval

On a running Ray cluster (pip install -e .[cluster]; docs/cluster.md), a file or a folder of many:
    python predict.py --cluster auto --actors 8 --model <org>/<name> --input corpus/ --output predictions/

Input: .txt (one tweet per line), .csv (a text column) or .jsonl (a text field); with --cluster also
.parquet. Output keeps the input order: CSV rows with label, score and both probabilities,
TweetEval's format (one label id per line) or Parquet; with --cluster one output per input file.
Lines that cannot be classified are reported by number and left empty in the output; the run goes
on. Exit status: 0 when tweets were classified, 1 when none could be, 2 when the input, the output
path or the model is unusable.
"""

import argparse
import logging
import sys
from pathlib import Path

from tqdm.auto import tqdm


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Local model folder or Hub id <org>/<name>.")
    parser.add_argument("--revision", help="Hub revision (branch, tag or commit).")
    parser.add_argument("--input", required=True, type=Path, help=".txt, .csv or .jsonl file of tweets.")
    parser.add_argument("--output", required=True, type=Path, help="Where to write the predictions.")
    parser.add_argument("--format", default="csv", choices=("csv", "tweeteval", "parquet"), help="Output format.")
    parser.add_argument("--text_column", default="text", help="Text column (.csv) or field (.jsonl).")
    parser.add_argument("--batch_size", type=int, default=128, help="Most tweets per forward pass.")
    parser.add_argument("--max_batch_tokens", type=int, default=4096, help="Most padded tokens per forward pass.")
    parser.add_argument("--chunk_size", type=int, default=4096, help="Tweets read and classified at a time.")
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "fp32", "bf16", "onnx", "onnx-int8", "openvino"),
        help="Inference engine; auto: the fastest that passed the export's parity check.",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (~30 s warm-up; big files).")
    parser.add_argument("--num_threads", type=int, help="torch CPU threads (default: torch's choice).")
    parser.add_argument("--cluster", metavar="ADDRESS", help="Classify on a running Ray cluster ('auto', or the "
                        "head's host:port); --input may then be a folder, and --output a folder for it.")  # fmt: skip
    parser.add_argument("--actors", type=int, default=2, help="With --cluster: model replicas, each holding "
                        "--num_threads cores (default 1).")  # fmt: skip
    parser.add_argument("--gpus_per_actor", type=float, default=0, help="With --cluster: GPUs each actor holds "
                        "(1: one GPU each; 0: CPU actors).")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.cluster:
        return predict_on_cluster(args)
    problem = unusable_paths(args.input, args.output)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from hatespeech.inference.classifier import Classifier, ModelError
    from hatespeech.inference.prediction_files import PredictionWriter
    from hatespeech.tweets import TweetError, count_lines, file_format, read_records

    try:
        file_format(args.input.name)
        classifier = Classifier(
            args.model,
            revision=args.revision,
            batch_size=args.batch_size,
            max_batch_tokens=args.max_batch_tokens,
            num_threads=args.num_threads,
            backend=args.backend,
            compile=args.compile,
        )
    except (TweetError, ModelError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    writer = PredictionWriter(args.output, args.format)
    classified = bad = 0
    try:
        with args.input.open("rb") as source, tqdm(total=count_lines(args.input), unit="line") as progress:
            for chunk in chunks(read_records(source, args.input.name, args.text_column), args.chunk_size):
                good = write_chunk(classifier, writer, chunk)
                classified, bad = classified + good, bad + len(chunk) - good
                progress.update(chunk[-1].line - progress.n)
    except TweetError as err:  # unusable file as a whole (no such CSV column)
        print(f"error: {args.input}: {err}", file=sys.stderr)
        return 2
    finally:
        writer.close()
    return summarise(args.output, classified, bad)


def predict_on_cluster(args) -> int:
    """``--cluster``: every input file classified by a pool of model actors on the Ray cluster."""
    from hatespeech.inference import cluster
    from hatespeech.tweets import TweetError

    try:
        import ray  # noqa: F401
    except ImportError:
        print("error: --cluster needs Ray: pip install -e .[cluster]", file=sys.stderr)
        return 2
    if args.format == "tweeteval" and args.input.is_dir():
        print("error: --format tweeteval writes one file of labels; give one input file", file=sys.stderr)
        return 2
    try:
        files = cluster.input_files(args.input)
        for file in files:
            cluster.check_readable(file, args.text_column)
    except TweetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = cluster.output_paths(files, args.output, args.format)
    job = cluster.ClusterJob(args.cluster, args.model, args.revision, args.backend, args.text_column, args.actors,
                             args.batch_size, args.num_threads, gpus_per_actor=args.gpus_per_actor)  # fmt: skip
    pieces = cluster.plan(files)
    with tqdm(total=cluster.total_rows(pieces), unit="row") as progress:
        classified, bad = cluster.write_outputs(cluster.classified_rows(job, pieces), paths, args.format, progress)
    return summarise(args.output, classified, bad)


def unusable_paths(source: Path, output: Path) -> str | None:
    """Why the input cannot be read or the output cannot be written, checked before the model loads."""
    if not source.is_file():
        return f"{source}: no such file"
    if output.is_dir():
        return f"{output} is a directory; give a file name, e.g. {output / 'predictions.csv'}"
    return None


def chunks(records, size: int):
    """Lists of up to ``size`` records, in order."""
    chunk = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_chunk(classifier, writer, records) -> int:
    """Classify the good records of a chunk, write every record in order, report the bad ones;
    returns how many were classified."""
    good = [r for r in records if r.error is None]
    predictions = dict(zip((r.line for r in good), classifier.classify([r.text for r in good]), strict=True))
    for record in records:
        if record.error:
            tqdm.write(record.message, file=sys.stderr)  # on its own line, above the progress bar
        writer.write(record, predictions.get(record.line))
    return len(good)


def summarise(output: Path, classified: int, bad: int) -> int:
    """The closing line, and the exit status: 1 when nothing could be classified."""
    if not classified:
        print(f"error: no tweet could be classified ({bad} bad line(s)); {output} lists them", file=sys.stderr)
        return 1
    print(f"{classified} tweet(s) classified; predictions written to {output}"
          + (f"; {bad} bad line(s) left empty" if bad else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
