"""The evaluation panel: more than one test set, so one split's shortcuts cannot pass for quality.

For any model (a run folder or a Hub id), through the same ``Classifier`` as every front end:
- ``validation``: each source's validation split and their unweighted mean macro-F1, the rule
  that compares configurations (fixed before any test number was seen);
- ``test``: TweetEval hate test (the headline, with the official metric) and each source's test
  split: macro-F1, ROC-AUC, predicted and true hate rate;
- ``hatecheck``: accuracy overall, on hateful and on non-hateful cases, and per functionality.
Test splits and HateCheck are reported, never used to choose anything.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hatespeech import HATE
from hatespeech.data import DataArguments, DataError, hub_catalog, load_split
from hatespeech.metrics import score
from hatespeech.run_folder import RunFolder
from hatespeech.sources import READERS, TEST_SUITES, SourceError, load_source, parse_source

logger = logging.getLogger(__name__)

PANEL_SOURCES = tuple(name for name in READERS if name not in TEST_SUITES)
SHOWN = ("macro_f1", "roc_auc", "pred_hate_rate", "true_hate_rate")


def evaluate_panel(predict_proba: Callable[[list[str]], np.ndarray], data_args: DataArguments) -> dict:
    """Every panel number for one model; ``predict_proba`` maps raw texts to class probabilities."""
    root, seed = Path(data_args.sources_dir), data_args.source_split_seed
    try:
        catalog = hub_catalog(data_args)  # Hub sources the model was trained on join the panel
        hub_names = [name for name, _ in (parse_source(spec, catalog) for spec in data_args.sources) if name in catalog]
        sources = {name: load_source(root, name, seed, catalog) for name in (*PANEL_SOURCES, *hub_names)}
        hatecheck = load_source(root, "hatecheck", seed)["test"]
    except (SourceError, OSError) as err:
        raise DataError(str(err)) from None
    panel: dict = {"validation": {}, "test": {}}
    for split in ("validation", "test"):
        tweeteval = load_split(data_args, split)  # raw text: the Classifier prepares it as the model was trained
        panel[split]["tweeteval"] = _scores(predict_proba, list(tweeteval["text"]), list(tweeteval["label"]))
        for name, rows in sources.items():
            if rows[split]:
                panel[split][name] = _scores(
                    predict_proba, [r.text for r in rows[split]], [r.label for r in rows[split]]
                )
    panel["validation_mean_macro_f1"] = float(np.mean([s["macro_f1"] for s in panel["validation"].values()]))
    panel["hatecheck"] = _hatecheck(predict_proba, hatecheck)
    return panel


def _scores(predict_proba, texts: list[str], labels: list[int]) -> dict:
    probabilities = predict_proba(texts)
    full = score(labels, probabilities.argmax(-1).tolist(), probabilities[:, HATE].tolist())
    return {key: full.get(key) for key in SHOWN} | {"n": len(labels)}  # no ROC-AUC for a one-class set


def _hatecheck(predict_proba, rows) -> dict:
    labels = np.array([r.label for r in rows])
    correct = predict_proba([r.text for r in rows]).argmax(-1) == labels
    groups = np.array([r.group for r in rows])
    return {
        "overall": float(correct.mean()),
        "hateful": float(correct[labels == 1].mean()),
        "non_hateful": float(correct[labels == 0].mean()),
        "functionalities": {g: float(correct[groups == g].mean()) for g in sorted(set(groups.tolist()))},
        "n": len(rows),
    }


def write_panel(run: RunFolder, panel: dict) -> None:
    """``panel.json`` and a per-functionality HateCheck plot in the run folder."""
    run.write_panel(panel)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    functionalities = panel["hatecheck"]["functionalities"]
    names = sorted(functionalities, key=functionalities.get)
    fig, ax = plt.subplots(figsize=(7, 8))
    colours = ["tab:red" if name.endswith("_h") else "tab:blue" for name in names]
    ax.barh(names, [functionalities[n] for n in names], color=colours)
    ax.axvline(0.5, color="grey", linestyle="--")
    ax.set(xlim=(0, 1), xlabel="accuracy (red: hateful cases, blue: non-hateful)")
    ax.set_title(f"HateCheck: {panel['hatecheck']['overall']:.3f} overall")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(run.plot("hatecheck", "functionalities"), dpi=100)
    plt.close(fig)


def panel_markdown(panel: dict) -> str:
    """The panel as markdown tables (card, demo, closing notes)."""
    mean, n = panel["validation_mean_macro_f1"], len(panel["validation"])
    header = "| test set | macro-F1 | ROC-AUC | predicted hate | true hate | n |"
    lines = [f"Validation, mean macro-F1 over {n} sources (the selection rule): **{mean:.4f}**", "", header,
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name, s in panel["test"].items():
        auc = "-" if s["roc_auc"] is None else f"{s['roc_auc']:.4f}"
        lines.append(f"| {name} | {s['macro_f1']:.4f} | {auc} | {s['pred_hate_rate']:.3f} | "
                     f"{s['true_hate_rate']:.3f} | {s['n']} |")  # fmt: skip
    hc = panel["hatecheck"]
    weak = [name for name, accuracy in hc["functionalities"].items() if accuracy < 0.5]
    lines += ["", f"HateCheck ({hc['n']} cases): overall {hc['overall']:.3f}, hateful {hc['hateful']:.3f}, "
              f"non-hateful {hc['non_hateful']:.3f}; below 0.5: {', '.join(weak) or 'none'}."]  # fmt: skip
    return "\n".join(lines)
