"""Gradio UI and REST API on one port; the entry point of the Hub Space.

    MODEL_ID=<org>/<name> python app.py          # or a local folder; default outputs/model
    curl -X POST 'localhost:7860/predict_labels_one_tweet?tweet=hello'
    open http://localhost:7860/ (UI) and http://localhost:7860/docs (REST API)

Environment: MODEL_ID, MODEL_REVISION (Hub branch/tag/commit), PORT (7860), HOST (0.0.0.0),
NUM_THREADS (torch threads), MAX_BATCH (micro-batch size for single-tweet requests, 32).
"""

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home from a Space or a laptop

DEFAULT_MODEL = "outputs/model"


def create_app(model_id: str | None = None, revision: str | None = None):
    """FastAPI app with the REST endpoints and the Gradio UI mounted at /."""
    import gradio as gr

    from hatespeech.api import ModelService, create_api
    from hatespeech.inference import Classifier
    from hatespeech.ui import build_demo

    model_id = model_id or os.environ.get("MODEL_ID") or DEFAULT_MODEL
    revision = revision or os.environ.get("MODEL_REVISION") or None
    threads = int(os.environ["NUM_THREADS"]) if os.environ.get("NUM_THREADS") else None
    service = ModelService(
        lambda: Classifier(model_id, revision=revision, num_threads=threads),
        model_id,
        revision,
        max_batch=int(os.environ.get("MAX_BATCH", "32")),
    )
    return gr.mount_gradio_app(create_api(service), build_demo(service), path="/")


def main() -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(), host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "7860")))


if __name__ == "__main__":
    main()
