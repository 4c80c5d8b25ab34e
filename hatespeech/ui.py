"""The Gradio demo: one tweet, a batch file, and the model's scores and plots."""

import csv
import json
import logging
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from hatespeech.api import MAX_FILE_LINES, ModelService
from hatespeech.evaluation import SHOWN_SPLITS, plot_paths
from hatespeech.text import MAX_TWEET_CHARS

logger = logging.getLogger(__name__)

EXAMPLES = [
    "Have a lovely weekend everyone, see you at the match!",
    "@user they should all be sent back where they came from",
    "Refugees welcome here, we are stronger together",
    "مرحبا بالجميع 😊 #peace",
]


def read_batch_file(path: str) -> list[str]:
    """Tweets from a .txt (one per line) or .csv (a 'text' column, else the first column) upload."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise gr.Error(f"The file is not valid UTF-8 (byte {err.start}).") from None
    if path.lower().endswith(".csv"):
        rows = list(csv.DictReader(text.splitlines()))
        if not rows:
            raise gr.Error("The CSV file has no rows.")
        column = "text" if "text" in rows[0] else next(iter(rows[0]))
        tweets = [row[column] or "" for row in rows]
    else:
        tweets = text.splitlines()
    tweets = [t for t in tweets if t.strip()]
    if not tweets:
        raise gr.Error("The file holds no tweets.")
    if len(tweets) > MAX_FILE_LINES:
        raise gr.Error(f"The file holds {len(tweets)} tweets; the limit is {MAX_FILE_LINES}.")
    return tweets


def model_report(model_id: str, revision: str | None) -> tuple[str, list[str]]:
    """Markdown of the model's recorded scores and its plot files, local or from the Hub."""
    folder = Path(model_id)
    if folder.is_dir():
        fetch = lambda name: folder / name if (folder / name).is_file() else None  # noqa: E731
    else:
        from huggingface_hub import hf_hub_download

        def fetch(name):
            try:
                return Path(hf_hub_download(model_id, name, revision=revision))
            except Exception:  # a model without this file still serves
                return None

    results_path = fetch("eval_results.json")
    lines = [f"**Model:** `{model_id}`" + (f" (revision `{revision}`)" if revision else "")]
    if results_path:
        lines += ["", "| split | macro-F1 | accuracy | predicted hate rate | true hate rate |", "|---|---|---|---|---|"]
        for split, s in json.loads(results_path.read_text()).items():
            lines.append(
                f"| {split} | {s['macro_f1']:.4f} | {s['accuracy']:.4f} | "
                f"{s['pred_hate_rate']:.3f} | {s['true_hate_rate']:.3f} |"
            )
    else:
        lines.append("\nNo evaluation results were published with this model.")
    for split in SHOWN_SPLITS:
        plots = [str(p) for path in plot_paths(split).values() if (p := fetch(path))]
        if plots:
            return "\n".join(lines), plots
    return "\n".join(lines), []


def build_demo(service: ModelService) -> gr.Blocks:
    """The Blocks UI; the classify event is the public API endpoint ``/predict``."""

    def predict(text: str) -> dict[str, float]:
        if not text or not text.strip():
            raise gr.Error("Type a tweet first.")
        if len(text) > MAX_TWEET_CHARS:
            raise gr.Error(f"A tweet is at most {MAX_TWEET_CHARS} characters.")
        return service.classify([text])[0].probabilities

    def predict_file(path: str | None):
        if not path:
            raise gr.Error("Upload a .txt or .csv file first.")
        tweets = read_batch_file(path)
        predictions = service.classify(tweets)
        table = pd.DataFrame(
            {
                "tweet": tweets,
                "label": [p.label for p in predictions],
                "score": [round(p.score, 4) for p in predictions],
                "p_hate": [round(p.probabilities["hate"], 4) for p in predictions],
            }
        )
        out = Path(tempfile.mkdtemp(prefix="hatespeech-")) / "predictions.csv"
        table.to_csv(out, index=False)
        return table, str(out)

    report, plots = model_report(service.model_id, service.revision)
    with gr.Blocks(title="Tweet hate-speech classifier") as demo:
        gr.Markdown(
            "# Tweet hate-speech classifier\nLabels English tweets as **hate** or **not-hate** "
            "(TweetEval hate: hate against immigrants and women). A research demo, not a moderation decision."
        )
        with gr.Tab("Classify"):
            tweet = gr.Textbox(label="Tweet", lines=3, max_length=MAX_TWEET_CHARS, elem_id="tweet")
            button = gr.Button("Classify", variant="primary", elem_id="classify")
            label = gr.Label(label="Prediction", num_top_classes=2, elem_id="prediction")
            gr.Examples(EXAMPLES, inputs=tweet)
            button.click(predict, inputs=tweet, outputs=label, api_name="predict")
            tweet.submit(predict, inputs=tweet, outputs=label, api_visibility="private")
        with gr.Tab("Batch"):
            upload = gr.File(label="Tweets (.txt, one per line, or .csv)", file_types=[".txt", ".csv"])
            run = gr.Button("Classify file", elem_id="classify-file")
            table = gr.Dataframe(label="Predictions", elem_id="batch-table")
            download = gr.File(label="Download CSV")
            run.click(predict_file, inputs=upload, outputs=[table, download], api_name="predict_file")
        with gr.Tab("Model"):
            gr.Markdown(report)
            if plots:
                gr.Gallery(plots, label="Evaluation plots", columns=3)
    return demo
