"""Gradio UI and REST API on one port; the entry point of the Hub Space.

    MODEL_ID=<org>/<name> python app.py          # or a local folder; default outputs/model
    curl -X POST 'localhost:7860/predict_labels_one_tweet?tweet=hello'
    open http://localhost:7860/ (UI) and http://localhost:7860/docs (REST API)

Environment (``hatespeech.settings.ServerSettings``, validated at start; ``python -c "import hatespeech.settings
as s; print(s.table())"`` prints them): MODEL_ID, MODEL_REVISION, HOST, PORT, NUM_THREADS, INFERENCE_BACKEND,
MAX_BATCH, MAX_WAIT_MS, MAX_BATCH_TOKENS, BULK_CHUNK, FEEDBACK_DIR, FEEDBACK_REPO with HF_TOKEN,
FEEDBACK_EVERY_MINUTES, DRIFT_WINDOW, HEADER_TIMEOUT_S, TRUSTED_PROXIES, ACCESS_LOG, MALLOC_TRIM.
Without MODEL_ID, a Space built by ``python -m hatespeech.publishing.release`` reads the model id and the
released revision from ``space_model.json`` beside this file.
"""

import gc
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home from a Space or a laptop

DEFAULT_MODEL = "outputs/model"
SPACE_MODEL_FILE = Path(__file__).absolute().parent / "space_model.json"


def configured_model(settings) -> tuple[str, str | None]:
    """MODEL_ID/MODEL_REVISION, else the Space's released model, else the local training output."""
    if settings.model_id:
        return settings.model_id, settings.model_revision
    if SPACE_MODEL_FILE.is_file():
        pinned = json.loads(SPACE_MODEL_FILE.read_text())
        return pinned["model_id"], pinned.get("revision")
    return DEFAULT_MODEL, None


def given(**options):
    """The options that are set; unset ones keep the component's own default."""
    return {key: value for key, value in options.items() if value is not None}


def create_app(model_id: str | None = None, revision: str | None = None, settings=None):
    """FastAPI app with the REST endpoints and the Gradio UI mounted at /; ``settings`` (a ``ServerSettings``)
    default to the environment's (``SettingsError`` names a wrong variable)."""
    import gradio as gr

    from hatespeech.inference.classifier import Classifier
    from hatespeech.serving.api import create_api
    from hatespeech.serving.feedback_store import open_feedback
    from hatespeech.serving.service import ModelService
    from hatespeech.serving.ui import build_demo
    from hatespeech.settings import ServerSettings, load
    from hatespeech.tweets import MAX_FILE_BYTES

    settings = settings or load(ServerSettings)
    if model_id is None:
        model_id, revision = configured_model(settings)
    classifier_options = given(num_threads=settings.num_threads, backend=settings.inference_backend,
                               max_batch_tokens=settings.max_batch_tokens)  # fmt: skip
    service = ModelService(
        lambda: Classifier(model_id, revision=revision, **classifier_options),
        model_id,
        revision,
        **given(max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms, bulk_chunk=settings.bulk_chunk),
        drift_window=settings.drift_window,
        trim_memory=settings.malloc_trim,
        # Users' corrections, only where the operator switches them on (the page then says what is stored).
        feedback=open_feedback(settings.feedback_dir, settings) if settings.feedback_dir else None,
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
    started = time.perf_counter()
    import uvicorn

    from hatespeech.inference.classifier import ModelError
    from hatespeech.serving.feedback_store import FeedbackStoreError
    from hatespeech.serving.http_server import server_config
    from hatespeech.settings import ServerSettings, SettingsError, load

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load(ServerSettings)
        app = create_app(settings=settings)
        # Imports, the UI and the API; the model's own phases (load, warm-up) are in the same metric.
        app.state.service.telemetry.startup.labels("app").set(time.perf_counter() - started)
    except (SettingsError, FeedbackStoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:  # load before serving, so a broken model never answers and /health never says ready
        app.state.service.ensure_loaded()
    except ModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    # What is loaded now lives as long as the process: frozen, full collections skip it (see service.GC_PAUSES).
    gc.freeze()
    app.state.service.telemetry.frozen.set(gc.get_freeze_count())
    config = server_config(app, settings.host, settings.port, settings)
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
