"""Score a model on TweetEval hate with the official metric (macro-F1) and write a report.

    python evaluate.py --model outputs/model                       # TweetEval hate test split
    python evaluate.py --model <org>/<name> --revision v1.0 --data_dir ../shared/tweeteval/hate
    python evaluate.py --model outputs/model --split validation --test_file my.csv
    python evaluate.py --model outputs/model --data_dir ../shared/tweeteval/hate --panel   # + other sources, HateCheck

Writes ``eval_results.json``, ``predictions_<split>.txt`` (TweetEval's format: one label id per
line, input order) and plots (confusion matrix, precision-recall, reliability) to --output_dir,
and prints the model's place among the TweetEval leaderboard rows.
"""

import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hatespeech.config import ConfigError, parse_config
from hatespeech.data.loading import DataArguments, DataError, load_split


@dataclass
class EvaluationArguments:
    """What to score and where to write the report."""

    model: str = field(metadata={"help": "Local model folder or Hub id <org>/<name>."})
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit)."})
    split: str = field(default="test", metadata={"help": "Split to score.", "choices": ["train", "validation", "test"]})
    output_dir: str | None = field(
        default=None, metadata={"help": "Report folder; default <model>/eval, or outputs/eval/<org>__<name>."}
    )
    batch_size: int = field(default=128, metadata={"help": "Most tweets per forward pass."})
    backend: str = field(
        default="auto",
        metadata={
            "help": "auto (the fastest engine that passed the export's parity check; bf16 on GPUs), "
            "fp32, bf16, onnx, onnx-int8 or openvino (after python -m hatespeech.inference.export onnx)."
        },
    )


def default_output_dir(model: str) -> Path:
    """Beside a local model; under outputs/eval/ for a Hub id."""
    if Path(model).is_dir():
        return Path(model) / "eval"
    return Path("outputs") / "eval" / re.sub(r"[^\w.-]", "__", model)


def main(argv: list[str] | None = None) -> int:
    try:
        eval_args, data_args, _ = parse_config((EvaluationArguments, DataArguments), argv, None, __doc__)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    from hatespeech.evaluation.panel import answering_from, evaluate_panel, panel_sources, write_panel
    from hatespeech.evaluation.panel_view import panel_markdown
    from hatespeech.evaluation.report import leaderboard_table, write_report
    from hatespeech.inference.classifier import Classifier, ModelError
    from hatespeech.run_folder import RunFolder

    try:
        dataset = load_split(data_args, eval_args.split)
        # Every input is checked before anything is written: a bad --sources_dir must not leave a half report.
        panel_inputs = panel_sources(data_args) if data_args.panel else None
        classifier = Classifier(
            eval_args.model, revision=eval_args.revision, batch_size=eval_args.batch_size, backend=eval_args.backend
        )
    except (DataError, ModelError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    probabilities = classifier.predict_proba(dataset["text"], progress=True)
    output_dir = Path(eval_args.output_dir) if eval_args.output_dir else default_output_dir(eval_args.model)
    # Labels by argmax, as the Classifier and pipeline() decide.
    scores = write_report(RunFolder(output_dir), eval_args.split, dataset["label"], probabilities.numpy())
    print(f"{eval_args.model} on {eval_args.split} ({len(dataset)} tweets): macro-F1 {scores['macro_f1']:.4f}, "
          f"accuracy {scores['accuracy']:.4f}, predicted hate rate {scores['pred_hate_rate']:.3f} "
          f"(true {scores['true_hate_rate']:.3f}); backend {classifier.backend}")  # fmt: skip
    if eval_args.split == "test":
        print(leaderboard_table(eval_args.model, scores["macro_f1"]))
    if data_args.panel:  # every source's validation and test split, and HateCheck
        try:
            # The split just scored is answered from its predictions: the panel's row for it is the line above.
            predict = answering_from(
                lambda texts: classifier.predict_proba(texts, progress=True).numpy(),
                dict(zip(dataset["text"], probabilities.numpy(), strict=True)),
                str,
            )
            panel = evaluate_panel(predict, data_args, panel_inputs)
        except DataError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        write_panel(RunFolder(output_dir), panel)
        print(panel_markdown(panel))
    print(f"Report written to {output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
