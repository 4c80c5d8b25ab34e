"""The model card: filled from a run's output folder, rendered through ``hub_card.md``."""

import csv
import json
import statistics
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from hatespeech.evaluation.panel_result import PanelResult
from hatespeech.evaluation.panel_view import (
    MIN_IDENTITY_CASES,
    comparison_markdown,
    glance_markdown,
    panel_markdown,
    worst_identity,
)
from hatespeech.evaluation.report import leaderboard_table
from hatespeech.modeling import EMBEDDED_MODEL
from hatespeech.run_folder import CARD, COMPARED_PLOT, IDENTITY_PLOT, PARITY, SEARCH, SHOWN_SPLITS, RunFolder

# Package data (hub_card.md at the top of the checkout links here), so an installed package renders it.
TEMPLATE = Path(__file__).parents[1] / "templates" / "hub_card.md"
PLACEHOLDER_REPO = "<org>/<name>"
EMBEDDED_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
HYPERPARAMETERS = (
    "learning_rate", "num_train_epochs", "per_device_train_batch_size", "gradient_accumulation_steps",
    "weight_decay", "warmup_steps", "lr_scheduler_type", "max_seq_length", "seed", "bf16", "source_temperature",
)  # fmt: skip
MINILM_CITATION = """@inproceedings{reimers2019sentencebert,
  title = {Sentence-{BERT}: Sentence Embeddings using Siamese {BERT}-Networks},
  author = {Reimers, Nils and Gurevych, Iryna},
  booktitle = {Proceedings of EMNLP-IJCNLP 2019},
  year = {2019}
}
@inproceedings{wang2020minilm,
  title = {{MiniLM}: Deep Self-Attention Distillation for Task-Agnostic Compression of Pre-Trained Transformers},
  author = {Wang, Wenhui and Wei, Furu and Dong, Li and Bao, Hangbo and Yang, Nan and Zhou, Ming},
  booktitle = {Advances in Neural Information Processing Systems},
  year = {2020}
}"""


# Each built-in source's licence (../shared/hate_sources/README.md), named in the card of a model trained on it.
SOURCE_LICENCES = {
    "davidson": "MIT", "hatexplain": "MIT", "ethos": "GPL-3.0", "mlma": "MIT", "stormfront": "CC BY-SA 3.0",
    "implicit_hate": "CC BY 4.0", "hatemoji_build": "CC BY 4.0", "dynahate": "no licence; research use, cited",
    "redditbias": "MIT", "intervention": "CC BY-NC 4.0, non-commercial", "edos": "CC0 1.0",
}  # fmt: skip
NON_COMMERCIAL = ("intervention",)


def base_model_hub_id(name_or_path: str) -> str | None:
    """The Hub id of the base model, when it has one."""
    if name_or_path == EMBEDDED_MODEL:
        return EMBEDDED_HUB_ID
    if Path(name_or_path).exists() or name_or_path.count("/") != 1:
        return None
    return name_or_path


def card_values(run: RunFolder, repo_id: str | None = None, space_id: str | None = None) -> dict:
    """Everything the template needs, read from the run's files (never typed by hand)."""
    config, train, scores = run.config(), run.train_results(), run.scores()
    base = config.get("model_name_or_path", EMBEDDED_MODEL)
    base_id = base_model_hub_id(base)
    repo_id = repo_id or config.get("hub_model_id") or PLACEHOLDER_REPO
    test_f1 = scores.get("test", {}).get("macro_f1")
    wall = train.get("wall_time_s")
    panel = PanelResult.from_dict(run.panel()) if run.panel() else None
    compared = run.compared() if panel else None  # the replaced configuration's panel, read once
    return {
        "model_name": repo_id.split("/")[-1] if repo_id != PLACEHOLDER_REPO else "Tweet hate-speech classifier",
        "repo_id": repo_id,
        "space_id": space_id or f"{repo_id}-demo",
        "base_model_id": base_id,
        "base_model_name": base_id or Path(base).name,
        "base_model_url": f"https://huggingface.co/{base_id}" if base_id else "#",
        "base_model_citation": MINILM_CITATION if base_id == EMBEDDED_HUB_ID else "",
        "data_sizes": train.get("data_sizes", "train / validation / test"),
        "early_stopping_patience": config.get("early_stopping_patience"),
        "max_seq_length": config.get("max_seq_length", 128),
        "hyperparameters": {name: config[name] for name in HYPERPARAMETERS if config.get(name) is not None},
        "search": _search_summary(run),
        "scores": scores,
        "test_macro_f1": test_f1,
        "leaderboard": leaderboard_table(repo_id, test_f1) if test_f1 is not None else "",
        "plots": _shown_plots(run),
        "hardware": train.get("hardware", "hardware not recorded"),
        "wall_time": f"{wall / 60:.1f} min" if wall else "not recorded",
        "world_size": train.get("world_size"),
        "decision_threshold": train.get("decision_threshold"),
        # feedback:<location> shown without its location: a local folder's path is the server's business.
        "sources": ", ".join("feedback" if s.startswith("feedback:") else s for s in config.get("sources") or []),
        "licences": _licences(config.get("sources") or []),
        "non_commercial": [name for name in _source_names(config.get("sources") or []) if name in NON_COMMERCIAL],
        "dropped_copies": train.get("dropped_copies"),
        "feedback": train.get("feedback"),  # the template names a Hub dataset, never a local folder
        "panel": panel_markdown(panel) if panel else "",
        "glance": glance_markdown(panel, compared, _shown_name(config)) if panel else "",
        "comparison": comparison_markdown(compared, panel) if compared else "",
        "comparison_plot": COMPARED_PLOT if run.file(COMPARED_PLOT).is_file() else None,
        "flagged_identity": worst_identity(panel) if panel else None,
        "min_identity_cases": MIN_IDENTITY_CASES,
        "onnx": _onnx_parity(run),
    }


def _shown_name(config: dict) -> str:
    """This model, with the seed of its run: one seed's numbers, not a mean."""
    seed = config.get("seed")
    return "this model" if seed is None else f"this model (seed {seed})"


def _source_names(specs: list[str]) -> list[str]:
    return [spec.split(":")[0] for spec in specs]


def _licences(specs: list[str]) -> str:
    """The licences of the built-in sources a run trained on, "davidson (MIT), ..." (a Hub source's is on its page)."""
    return ", ".join(f"{name} ({SOURCE_LICENCES[name]})" for name in _source_names(specs) if name in SOURCE_LICENCES)


def _onnx_parity(run: RunFolder) -> dict | None:
    """The export's parity report (``python -m hatespeech.inference.export onnx``), when the run was exported."""
    path = run.file(PARITY)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _shown_plots(run: RunFolder) -> dict[str, str]:
    """The test split's plots, else validation's, titled by split and kind; the identity plot of the panel."""
    identity = {"false-positive rate per identity": IDENTITY_PLOT} if run.file(IDENTITY_PLOT).is_file() else {}
    for split in SHOWN_SPLITS:
        paths = {f"{split} {kind}": name for kind, name in run.existing_plots(split).items()}
        if paths:
            return paths | identity
    return identity


def _search_summary(run: RunFolder) -> dict | None:
    summary = run.search_summary()
    if summary is None:
        return None
    trials_path = run.file(f"{SEARCH}/trials.csv")
    if trials_path.is_file():
        with trials_path.open(encoding="utf-8") as handle:
            values = [float(row["value"]) for row in csv.DictReader(handle) if row.get("value")]
        if values:
            summary["trials_summary"] = (
                f"min {min(values):.4f}, median {statistics.median(values):.4f}, max {max(values):.4f} "
                f"over {len(values)} trials"
            )
    return summary


def render_card(run: RunFolder, repo_id: str | None = None, space_id: str | None = None) -> ModelCard:
    """The model card for a run folder, with ``model-index`` so the Hub shows the test score."""
    values = card_values(run, repo_id, space_id)
    eval_results = [
        EvalResult(
            task_type="text-classification",
            task_name="Hate speech detection",
            dataset_type="cardiffnlp/tweet_eval",
            dataset_name="TweetEval (hate)",
            dataset_config="hate",
            dataset_split=split,
            metric_type="f1",
            metric_name="macro-F1",
            metric_config="macro",
            metric_value=round(float(scores["macro_f1"]), 4),
        )
        for split, scores in values["scores"].items()
        if split == "test"
    ]
    card_data = ModelCardData(
        language="en",
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["hate-speech", "tweets", "tweeteval", "text-classification"],
        datasets=["cardiffnlp/tweet_eval"],
        metrics=["f1"],
        base_model=values["base_model_id"],
        model_name=values["repo_id"],
        eval_results=eval_results or None,
    )
    return ModelCard.from_template(card_data, template_path=str(TEMPLATE), **values)


def write_card(run: RunFolder, repo_id: str | None = None) -> Path:
    """Render the card into the run folder's ``README.md``."""
    path = run.file(CARD)
    render_card(run, repo_id).save(path)
    return path
