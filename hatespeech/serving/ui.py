"""The Gradio demo: one tweet, a batch file, and the model's scores and plots.

Every classification goes through the server's :class:`ModelService` (the same inference thread
and metrics as the REST API), and the batch tab reads files with ``hatespeech.tweets`` under the
same limits and messages as the REST upload. Its policy: bad lines are listed, the rest classified.
"""

import json
import logging
import os
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd
from gradio.utils import get_upload_folder

from hatespeech import HATE, LABEL_NAMES
from hatespeech.evaluation.panel_result import PanelResult
from hatespeech.evaluation.panel_view import comparison_markdown, glance_markdown, panel_markdown
from hatespeech.inference.prediction_files import spreadsheet_safe
from hatespeech.monitoring import LENGTH_EDGES, PROBABILITY_EDGES, drift
from hatespeech.run_folder import (
    COMPARED,
    COMPARED_PLOT,
    IDENTITY_PLOT,
    PANEL,
    RESULTS,
    SHOWN_SPLITS,
    plot_names,
    run_file,
)
from hatespeech.serving.feedback_store import FeedbackRefused
from hatespeech.serving.service import ModelService, public_model_name
from hatespeech.tweets import FILE_SUFFIXES, MAX_FILE_BYTES, MAX_TWEET_CHARS, TweetError, check_tweet, read_upload

logger = logging.getLogger(__name__)

EXAMPLES = [
    "Have a lovely weekend everyone, see you at the match!",
    "@user they should all be sent back where they came from",
    "Refugees welcome here, we are stronger together",
    "مرحبا بالجميع 😊 #peace",
]
# Uploads and written predictions leave Gradio's cache after this many seconds (checked as often).
CACHE_SECONDS = 600


def refuse(message: str) -> gr.Error:
    """A message for the visitor; nothing for the server log (the input was at fault, not the server)."""
    return gr.Error(message, print_exception=False)


def uploaded_content(path: str) -> bytes:
    """The bytes of a file uploaded through Gradio, which is then deleted; paths outside its upload
    folder are refused (a client can name any server path in the API's FileData)."""
    upload_folder = Path(get_upload_folder()).resolve()
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(upload_folder) or not resolved.is_file():
        raise refuse("Upload the file through this page or the Gradio API first.")
    if resolved.stat().st_size > MAX_FILE_BYTES:
        resolved.unlink(missing_ok=True)
        raise refuse(f"file is over the limit of {MAX_FILE_BYTES} bytes")
    content = resolved.read_bytes()
    resolved.unlink(missing_ok=True)  # nothing needs the upload any more
    return content


FEEDBACK_NOTE = (
    "Feedback stores the text you typed, the model's answer, your judgement and the time, to train "
    "later models; no address, header or cookie is stored."
)


def model_report(model_id: str, revision: str | None) -> tuple[str, list[str]]:
    """Markdown of the model's recorded scores and its plot files, local or from the Hub."""

    def fetch(name: str) -> Path | None:
        return run_file(model_id, revision, name)

    results_path = fetch(RESULTS)
    shown = public_model_name(model_id)
    lines = [f"**Model:** `{shown}`" + (f" (revision `{revision}`)" if revision else "")]
    if results_path:
        lines += _readable(RESULTS, lambda: _results_table(json.loads(results_path.read_text())))
    else:
        lines.append("\nNo evaluation results were published with this model.")
    panel_path = fetch(PANEL)
    panel = None
    if panel_path:

        def read_panel() -> list[str]:
            nonlocal panel
            panel = PanelResult.from_dict(json.loads(panel_path.read_text()))  # parsed once, shown twice
            return ["", "**Evaluation panel**", "", panel_markdown(panel)]

        lines += _readable(PANEL, read_panel)
        compared_path = fetch(COMPARED) if panel else None
        compared = None

        def read_compared() -> list[str]:  # the configuration this model replaced, measured alike
            nonlocal compared
            compared = json.loads(compared_path.read_text())
            return ["", "**Against the configuration it replaced**", "", comparison_markdown(compared, panel)]

        if compared_path:
            lines += _readable(COMPARED, read_compared)
        if panel and (glance := _readable(PANEL, lambda: glance_markdown(panel, compared).splitlines())):
            lines[1:1] = ["", "**At a glance**", "", *glance]  # first, under the model's name
    panel_plots = [str(p) for p in [fetch(IDENTITY_PLOT), fetch(COMPARED_PLOT)] if p]
    for split in SHOWN_SPLITS:
        plots = [str(p) for name in plot_names(split).values() if (p := fetch(name))]
        if plots:
            return "\n".join(lines), plots + panel_plots
    return "\n".join(lines), panel_plots


def _results_table(results: dict) -> list[str]:
    lines = ["", "| split | macro-F1 | accuracy | predicted hate rate | true hate rate |", "|---|---|---|---|---|"]
    for split, s in results.items():
        lines.append(f"| {split} | {s['macro_f1']:.4f} | {s['accuracy']:.4f} | {s['pred_hate_rate']:.3f} | "
                     f"{s['true_hate_rate']:.3f} |")  # fmt: skip
    return lines


def _readable(name: str, render) -> list[str]:
    """A section of the Model tab, or one line saying the file could not be read: the model is served anyway."""
    try:
        return render()
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # cut short, a null score, a wrong shape
        logger.warning("Model tab: %s cannot be read (%s)", name, err)
        return ["", f"*{name} could not be read ({type(err).__name__}); the model is served all the same.*"]


def build_demo(service: ModelService) -> gr.Blocks:
    """The Blocks UI; the classify event is the public API endpoint ``/predict``."""

    async def predict(text: str) -> dict[str, float]:
        try:
            tweet = check_tweet(text or "")
        except TweetError as err:
            raise refuse(str(err)) from None
        return (await service.classify_one(tweet)).probabilities

    async def explain(text: str) -> list[tuple[str, float | None]]:
        try:
            tweet = check_tweet(text or "")
        except TweetError as err:
            raise refuse(str(err)) from None
        _, words = await service.explain(tweet)
        # Colour by weight relative to the strongest word (small changes would be invisible otherwise);
        # the exact changes are what POST /v1/explain returns.
        strongest = max((abs(word.weight) for word in words), default=0.0) or 1.0
        highlighted: list[tuple[str, float | None]] = []
        for word in words:
            highlighted += [(word.word, round(word.weight / strongest, 3)), (" ", None)]
        return highlighted[:-1]

    async def give_feedback(text: str, correct: bool, request: gr.Request) -> str:
        try:
            tweet = check_tweet(text or "")
            client = request.client.host if request and request.client else ""
            stored = await service.record_feedback(tweet, client, correct=correct)
        except (TweetError, FeedbackRefused) as err:
            raise refuse(str(err)) from None
        return "Thank you: stored." if stored else "Thank you: this feedback was stored before."

    async def feedback_right(text: str, request: gr.Request) -> str:  # gr.Request: found by its annotation
        return await give_feedback(text, True, request)

    async def feedback_wrong(text: str, request: gr.Request) -> str:
        return await give_feedback(text, False, request)

    async def predict_file(path: str | None, column: str):
        if not path:
            raise refuse("Upload a .txt, .csv or .jsonl file first.")
        try:
            records = read_upload(uploaded_content(path), Path(path).name, (column or "text").strip())
        except TweetError as err:
            raise refuse(str(err)) from None
        good = [record for record in records if record.error is None]
        predictions = iter(await service.classify_many([record.text for record in good]))
        rows = []
        for record in records:
            prediction = next(predictions) if record.error is None else None
            rows.append(
                {
                    "line": record.line,
                    "tweet": record.text or "",
                    "label": prediction.label if prediction else "",
                    "score": round(prediction.score, 4) if prediction else None,
                    "p_hate": round(prediction.probabilities[LABEL_NAMES[HATE]], 4) if prediction else None,
                    "error": record.message if record.error else "",
                }
            )
        table = pd.DataFrame(rows)
        if len(good) < len(records):
            gr.Warning(f"{len(records) - len(good)} line(s) could not be classified; see the error column.")
        return table, write_download(table)

    report, plots = model_report(service.model_id, service.revision)
    with gr.Blocks(title="Tweet hate-speech classifier", delete_cache=(CACHE_SECONDS, CACHE_SECONDS)) as demo:
        gr.Markdown(
            "# Tweet hate-speech classifier\nLabels English tweets as **hate** or **not-hate**. What the model "
            "was trained on and how it scores is in the Model tab. A research demo, not a moderation decision."
        )
        with gr.Tab("Classify"):
            tweet = gr.Textbox(label="Tweet", lines=3, max_length=MAX_TWEET_CHARS, elem_id="tweet")
            button = gr.Button("Classify", variant="primary", elem_id="classify")
            label = gr.Label(label="Prediction", num_top_classes=2, elem_id="prediction")
            gr.Examples(EXAMPLES, inputs=tweet)
            button.click(predict, inputs=tweet, outputs=label, api_name="predict")
            tweet.submit(predict, inputs=tweet, outputs=label, api_visibility="private")
            if service.feedback is not None:
                with gr.Row():
                    right = gr.Button("The label is right", elem_id="feedback-right", size="sm")
                    wrong = gr.Button("The label is wrong", elem_id="feedback-wrong", size="sm")
                gr.Markdown(FEEDBACK_NOTE, elem_id="feedback-note")
                thanks = gr.Markdown(elem_id="feedback-status")
                right.click(feedback_right, inputs=tweet, outputs=thanks, api_name="feedback_right")
                wrong.click(feedback_wrong, inputs=tweet, outputs=thanks, api_name="feedback_wrong")
            explain_button = gr.Button("Explain: which words moved the hate probability", elem_id="explain")
            words = gr.HighlightedText(
                label="Red: the word pushed towards hate, blue: away from it (relative to the strongest word)",
                combine_adjacent=False, show_legend=False, elem_id="explanation",
            )  # fmt: skip
            explain_button.click(explain, inputs=tweet, outputs=words, api_name="explain")
        with gr.Tab("Batch"):
            upload = gr.File(label="Tweets: .txt (one per line), .csv or .jsonl", file_types=list(FILE_SUFFIXES))
            column = gr.Textbox(value="text", label="Text column (.csv) or field (.jsonl)", max_lines=1)
            run = gr.Button("Classify file", elem_id="classify-file")
            table = gr.Dataframe(label="Predictions", elem_id="batch-table")
            download = gr.File(label="Download CSV")
            run.click(predict_file, inputs=[upload, column], outputs=[table, download], api_name="predict_file")
        with gr.Tab("Model"):
            gr.Markdown(report)
            if plots:
                gr.Gallery(plots, label="Evaluation plots", columns=3)
            gr.Markdown("**Drift**: the last served predictions (the window) against the model's validation splits.")
            drift_button = gr.Button("Show drift", elem_id="show-drift", size="sm")
            drift_text, drift_plot = gr.Markdown(elem_id="drift-text"), gr.Plot(elem_id="drift-plot")
            drift_button.click(lambda: drift_view(service), outputs=[drift_text, drift_plot], api_visibility="private")
    return demo


def drift_view(service: ModelService):
    """The window's statistics against the reference: a line of numbers and both histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reference, window = service.telemetry.drift.reference, service.telemetry.window.statistics()
    if reference is None:
        return "This model was published without reference statistics (`reference.json`): no drift to show.", None
    psi = drift(reference, window)
    text = (f"Window: {window['n']} predictions, predicted hate {window['pred_hate_rate']:.3f} (validation "
            f"{reference['pred_hate_rate']:.3f}), [UNK] share {window['unknown_share']:.3f} (validation "
            f"{reference['unknown_share']:.3f}); PSI probability {psi['probability']:.3f}, token length "
            f"{psi['length']:.3f} (above 0.25: a significant shift).")  # fmt: skip
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for ax, name in zip(axes, ("probability", "length"), strict=True):
        bins = range(len(reference[f"{name}_histogram"]))
        ax.bar([b - 0.2 for b in bins], reference[f"{name}_histogram"], width=0.4, label="validation")
        ax.bar([b + 0.2 for b in bins], window[f"{name}_histogram"], width=0.4, label="window")
        ax.set_title(f"{'hate probability' if name == 'probability' else 'token length'}: PSI {psi[name]:.2f}")
        ax.set_xticks(list(bins), _bin_labels(name), fontsize=7)
    axes[0].legend()
    fig.tight_layout()
    return text, fig


def _bin_labels(name: str) -> list[str]:
    edges = PROBABILITY_EDGES if name == "probability" else LENGTH_EDGES
    return [f"≤{edge:g}" for edge in edges] + [">" + f"{edges[-1]:g}"]


def write_download(table: pd.DataFrame) -> str:
    """The table as a CSV inside Gradio's cache, so its scheduled clean-up deletes it; tweets that a
    spreadsheet would run as formulas are written as text."""
    folder = tempfile.mkdtemp(prefix="predictions-", dir=get_upload_folder())
    path = os.path.join(folder, "predictions.csv")
    table.assign(tweet=table["tweet"].map(spreadsheet_safe)).to_csv(path, index=False)
    return path
