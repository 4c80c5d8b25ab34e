"""Gradio UI and REST API on one port; the entry point of the Hub Space.

    MODEL_ID=<org>/<name> python app.py          # or a local folder; default outputs/model
    curl -X POST 'localhost:7860/predict_labels_one_tweet?tweet=hello'
    open http://localhost:7860/ (UI) and http://localhost:7860/docs (REST API)

Environment: MODEL_ID, MODEL_REVISION (Hub branch/tag/commit), PORT (7860), HOST (0.0.0.0),
NUM_THREADS (torch threads), MAX_BATCH (micro-batch size for single-tweet requests, 32),
MAX_WAIT_MS (how long a micro-batch waits for more requests, 0), MAX_BATCH_TOKENS (padded tokens
per model call, 4096; a batch over it is split into groups of similar length),
INFERENCE_BACKEND (auto, fp32, bf16, onnx, onnx-int8 or openvino: hatespeech.inference.engines), BULK_CHUNK
(tweets per model call for uploads and batches, 64; queued single tweets go between chunks),
FEEDBACK_DIR (switches users' feedback on: JSON lines there),
FEEDBACK_REPO with HF_TOKEN (a Hub dataset the feedback is pushed to), FEEDBACK_EVERY_MINUTES (5),
DRIFT_WINDOW (recent predictions the drift metrics on /metrics cover, 1000), HEADER_TIMEOUT_S (a
connection must complete each request's headers within it, 10).
Without MODEL_ID, a Space built by ``python -m hatespeech.publishing.release`` reads the model id and the
released revision from ``space_model.json`` beside this file.
"""

import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home from a Space or a laptop

DEFAULT_MODEL = "outputs/model"
SPACE_MODEL_FILE = Path(__file__).absolute().parent / "space_model.json"


def configured_model() -> tuple[str, str | None]:
    """MODEL_ID/MODEL_REVISION, else the Space's released model, else the local training output."""
    if os.environ.get("MODEL_ID"):
        return os.environ["MODEL_ID"], os.environ.get("MODEL_REVISION") or None
    if SPACE_MODEL_FILE.is_file():
        pinned = json.loads(SPACE_MODEL_FILE.read_text())
        return pinned["model_id"], pinned.get("revision")
    return DEFAULT_MODEL, None


def env_settings(**settings: tuple[str, type]) -> dict:
    """Keyword arguments from the variables that are set; unset ones keep the component's own default."""
    return {key: kind(os.environ[name]) for key, (name, kind) in settings.items() if os.environ.get(name)}


def create_app(model_id: str | None = None, revision: str | None = None):
    """FastAPI app with the REST endpoints and the Gradio UI mounted at /."""
    import gradio as gr

    from hatespeech.inference.classifier import Classifier
    from hatespeech.serving.api import create_api
    from hatespeech.serving.feedback_store import open_feedback
    from hatespeech.serving.service import ModelService
    from hatespeech.serving.ui import build_demo
    from hatespeech.tweets import MAX_FILE_BYTES

    if model_id is None:
        model_id, revision = configured_model()
    classifier_options = env_settings(
        num_threads=("NUM_THREADS", int), backend=("INFERENCE_BACKEND", str), max_batch_tokens=("MAX_BATCH_TOKENS", int)
    )
    service = ModelService(
        lambda: Classifier(model_id, revision=revision, **classifier_options),
        model_id,
        revision,
        **env_settings(
            max_batch=("MAX_BATCH", int),
            max_wait_ms=("MAX_WAIT_MS", float),
            bulk_chunk=("BULK_CHUNK", int),
            drift_window=("DRIFT_WINDOW", int),
        ),
        # Users' corrections, only where the operator switches them on (the page then says what is stored).
        feedback=open_feedback(os.environ["FEEDBACK_DIR"]) if os.environ.get("FEEDBACK_DIR") else None,
    )
    demo = build_demo(service)
    # show_error=False: unexpected exceptions reach visitors as a bare "Error", never with server details.
    app = gr.mount_gradio_app(create_api(service), demo, path="/", max_file_size=MAX_FILE_BYTES, show_error=False)
    # Gradio refuses file paths that were not uploaded through it only in apps it launched itself;
    # mounted, that check is skipped and any server file named in a request would be read.
    demo.has_launched = True
    app.state.service = service
    return app


def main() -> int:
    import uvicorn

    from hatespeech.inference.classifier import ModelError
    from hatespeech.serving.http_server import server_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    try:  # load before serving, so a broken model never answers and /health never says ready
        app.state.service.ensure_loaded()
    except ModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    config = server_config(app, os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "7860")))
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
