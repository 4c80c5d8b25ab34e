"""Classify a file of tweets in batch, streaming it so memory stays flat on any size.

    python predict.py --model outputs/model --input tweets.txt --output outputs/predictions/tweets.csv
    python predict.py --model <org>/<name> --input data.csv --text_column tweet --output preds.csv
    python predict.py --model outputs/model --input test_text.txt --output preds.txt --format tweeteval

Input: .txt (one tweet per line), .csv (a text column) or .jsonl (a text field). Output keeps the
input order: CSV rows with label, score and both probabilities, or TweetEval's format (one label
id per line). Lines that cannot be classified are reported by number and left empty in the
output; the run goes on.
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
    parser.add_argument("--format", default="csv", choices=("csv", "tweeteval"), help="Output format.")
    parser.add_argument("--text_column", default="text", help="Text column (.csv) or field (.jsonl).")
    parser.add_argument("--batch_size", type=int, default=128, help="Most tweets per forward pass.")
    parser.add_argument("--max_batch_tokens", type=int, default=4096, help="Most padded tokens per forward pass.")
    parser.add_argument("--chunk_size", type=int, default=4096, help="Tweets read and classified at a time.")
    parser.add_argument("--backend", default="auto", choices=("auto", "fp32", "bf16"), help="Inference precision.")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (~30 s warm-up; big files).")
    parser.add_argument("--num_threads", type=int, help="torch CPU threads (default: torch's choice).")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.input.is_file():
        print(f"error: {args.input}: no such file", file=sys.stderr)
        return 2
    from hatespeech.inference import Classifier
    from hatespeech.tweet_files import PredictionWriter, count_lines, read_records

    classifier = Classifier(
        args.model,
        revision=args.revision,
        batch_size=args.batch_size,
        max_batch_tokens=args.max_batch_tokens,
        num_threads=args.num_threads,
        backend=args.backend,
        compile=args.compile,
    )
    writer = PredictionWriter(args.output, args.format)
    bad = 0
    try:
        with tqdm(total=count_lines(args.input), unit="tweet", desc="Predicting") as progress:
            chunk = []
            for record in read_records(args.input, args.text_column):
                chunk.append(record)
                if len(chunk) == args.chunk_size:
                    bad += write_chunk(classifier, writer, chunk)
                    progress.update(len(chunk))
                    chunk = []
            bad += write_chunk(classifier, writer, chunk)
            progress.update(len(chunk))
    except ValueError as err:  # unusable file as a whole (wrong type, no text column)
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        writer.close()
    print(f"Predictions written to {args.output}" + (f"; {bad} bad line(s) left empty" if bad else ""))
    return 0


def write_chunk(classifier, writer, records) -> int:
    """Classify the good records of a chunk, write every record in order, report the bad ones."""
    good = [r for r in records if r.error is None]
    predictions = dict(zip((r.line for r in good), classifier.classify([r.text for r in good]), strict=True))
    for record in records:
        if record.error:
            print(f"line {record.line}: {record.error}", file=sys.stderr)
        writer.write(record, predictions.get(record.line))
    return len(records) - len(good)


if __name__ == "__main__":
    sys.exit(main())
