"""Hate-speech detection for tweets: TweetEval `hate` fine-tuning, evaluation, publishing, serving.

The package is laid out by the stages of the pipeline; arrows run one way (``make lint`` checks them with
import-linter, contracts in pyproject.toml):

- :mod:`hatespeech.data`: sources and their loaders, file readers, disguises, feedback read back as a source;
- :mod:`hatespeech.training`: the recipe (``train.py`` and the release call it), trainer steps, search, shared study;
- :mod:`hatespeech.evaluation`: metrics, the report, the panel (computed, and shown), the model card;
- :mod:`hatespeech.inference`: the :class:`~hatespeech.inference.classifier.Classifier`, its engines, the export;
- :mod:`hatespeech.serving`: REST API, demo, batching, HTTP server, explanations, feedback store, telemetry;
- :mod:`hatespeech.publishing`: the Hub client and the release;
- at the root, what every stage uses: configuration, the run folder, the tweet normaliser, tweet readers, model
  loading, hardware, drift statistics, and the labels below.

The public API: ``Classifier`` (classify texts with any trained model, local or on the Hub), ``run`` (the training
recipe), ``evaluate_panel`` and ``push_folder``, imported from their modules.
"""

LABEL_NAMES = ("not-hate", "hate")
ID2LABEL = dict(enumerate(LABEL_NAMES))
LABEL2ID = {name: i for i, name in ID2LABEL.items()}
HATE = LABEL2ID["hate"]
NOT_HATE = LABEL2ID["not-hate"]
# Users' feedback files: written by the server's store, read back by the data stage.
FEEDBACK_FILE_PREFIX = "feedback-"

__all__ = ["FEEDBACK_FILE_PREFIX", "HATE", "ID2LABEL", "LABEL2ID", "LABEL_NAMES", "NOT_HATE"]
