"""The evaluation panel: more than one test set, so one split's shortcuts cannot pass for quality.

For any model (a run folder or a Hub id), through the same ``Classifier`` as every front end (a training run's
own validation and test rows excepted, below):
- ``validation``: each source's validation split and their unweighted mean macro-F1, the rule
  that compares configurations (fixed before any test number was seen);
- ``test``: TweetEval hate test (the headline, with the official metric) and each source's test
  split: macro-F1, ROC-AUC, predicted and true hate rate;
- ``validation_perturbed``: each validation split again, every row disguised by
  ``hatespeech.data.perturb`` with its fixed panel seed (the same text for every model);
- ``holdout`` (with ``--holdout_sources``): the validation scores, clean and disguised, of the sources
  the model never trained on: a fold of leave-source-out selection (rule 5);
- ``hatecheck``: accuracy overall, on hateful and on non-hateful cases, and per functionality;
- ``identities``: per target identity (HateCheck's ``target_ident``, HatemojiBuild's test ``target``),
  accuracy on hateful and on non-hateful cases and the false-positive rate on non-hateful ones.
A training run's panel answers its own validation and test rows from the predictions it has just made
(:func:`answering_from`): the numbers beside the headline are the headline's, and half the panel's time is saved.
Test splits and HateCheck are reported, never used to choose anything. Showing the panel (Markdown for the card
and the demo) is :mod:`hatespeech.evaluation.panel_view`'s, which needs none of the loaders here.
"""

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from hatespeech import HATE
from hatespeech.data.loading import DataArguments, DataError, hub_catalog, load_split
from hatespeech.data.perturb import PANEL_SEED, disguise_all
from hatespeech.data.sources import READERS, TEST_SUITES, SourceError, load_source, parse_source
from hatespeech.evaluation.metrics import score
from hatespeech.evaluation.panel_result import HateCheckScores, IdentityScores, PanelResult, Scores
from hatespeech.evaluation.panel_view import MIN_IDENTITY_CASES
from hatespeech.run_folder import IDENTITY_PLOT, RunFolder

logger = logging.getLogger(__name__)

PANEL_SOURCES = tuple(name for name in READERS if name not in TEST_SUITES)
SHOWN = ("macro_f1", "roc_auc", "pred_hate_rate", "true_hate_rate")
# HatemojiBuild's identity codes, named as HateCheck names its identities where they are the same.
IDENTITY_NAMES = {
    "bla": "black people", "wom": "women", "mus": "Muslims", "gay": "gay people", "gayman": "gay men",
    "gaywom": "gay women", "trans": "trans people", "dis": "disabled people", "immig": "immigrants",
    "ref": "refugees", "jew": "Jewish people", "lgbtqa": "LGBTQ+ people", "arab": "Arabs", "blawom": "black women",
    "muswom": "Muslim women", "asi.east": "East Asians", "asi.east.chin": "Chinese people", "asi.south": "South Asians",
    "trav": "travellers", "indig": "indigenous people", "for": "foreigners",
}  # fmt: skip


def panel_sources(data_args: DataArguments) -> tuple[dict, list, dict]:
    """What the panel reads, loaded (and checked) before any model runs: each source's rows by split, HateCheck,
    and the catalog of Hub sources (:class:`DataError` naming a bad file)."""
    root, seed = Path(data_args.sources_dir), data_args.source_split_seed
    try:
        catalog = hub_catalog(data_args)  # Hub sources the model was trained on join the panel
        hub_names = [name for name in _source_names(data_args, catalog) if name in catalog]
        sources = {name: load_source(root, name, seed, catalog) for name in (*PANEL_SOURCES, *hub_names)}
        hatecheck = load_source(root, "hatecheck", seed)["test"]
    except (SourceError, OSError) as err:
        raise DataError(str(err)) from None
    return sources, hatecheck, catalog


def evaluate_panel(
    predict_proba: Callable[[list[str]], np.ndarray], data_args: DataArguments, loaded: tuple | None = None
) -> PanelResult:
    """Every panel number for one model; ``predict_proba`` maps raw texts to class probabilities; ``loaded``:
    :func:`panel_sources`, when the caller checked them already."""
    sources, hatecheck, catalog = loaded or panel_sources(data_args)
    everything = data_args.panel_scope == "all"
    scored: dict[str, dict[str, Scores]] = {"validation": {}, "test": {}}
    texts: dict[str, dict[str, tuple[list[str], list[int]]]] = {}  # split -> source -> (texts, labels)
    for split in ("validation", "test") if everything else ("validation",):
        tweeteval = load_split(data_args, split)  # raw text: the Classifier prepares it as the model was trained
        texts[split] = {"tweeteval": (list(tweeteval["text"]), list(tweeteval["label"]))}
        texts[split] |= {name: ([r.text for r in rows[split]], [r.label for r in rows[split]])
                         for name, rows in sources.items() if rows[split]}  # fmt: skip
        scored[split] = {name: _scores(predict_proba, *pair) for name, pair in texts[split].items()}
    scored["validation_perturbed"] = {
        name: _scores(predict_proba, disguise_all(clean, PANEL_SEED), labels)
        for name, (clean, labels) in texts["validation"].items()
    }
    trained = [name for name in ("tweeteval", *_source_names(data_args, catalog)) if name in scored["validation"]]
    in_distribution = [name for name in trained if name not in data_args.holdout_sources]
    holdout = {kind: {name: scored[kind][name].macro_f1 for name in data_args.holdout_sources}
               for kind in ("validation", "validation_perturbed")}  # fmt: skip
    panel = PanelResult(
        validation=scored["validation"], test=scored["test"], validation_mean_macro_f1=_mean(scored["validation"]),
        validation_perturbed=scored["validation_perturbed"],
        validation_perturbed_mean_macro_f1=_mean(scored["validation_perturbed"]),
        trained_sources_mean_macro_f1=_mean({name: scored["validation"][name] for name in in_distribution}),
        holdout=holdout if data_args.holdout_sources else None,
    )  # fmt: skip
    if not everything:
        return panel
    hatecheck_correct = _correct(predict_proba, hatecheck)
    hatemoji = sources.get("hatemoji_build", {}).get("test", [])
    identities = _identities(
        [("hatecheck", hatecheck, hatecheck_correct), ("hatemoji_build", hatemoji, _correct(predict_proba, hatemoji))]
    )
    return replace(panel, hatecheck=_hatecheck(hatecheck, hatecheck_correct), identities=identities)


def answering_from(
    predict_proba: Callable[[list[str]], np.ndarray], known: dict[str, np.ndarray], key: Callable[[str], str]
) -> Callable[[list[str]], np.ndarray]:
    """``predict_proba`` that answers each text whose ``key`` (the text as ``known`` holds it: a training run's
    splits hold normalised text) is in ``known`` from there and sends only the others to the model, each once
    (HatemojiBuild's test rows are scored as a split and again per identity)."""
    answers = dict(known)

    def predict(texts: list[str]) -> np.ndarray:
        if not texts:
            return predict_proba([])
        keys = [key(text) for text in texts]
        unseen = {k: text for k, text in zip(keys, texts, strict=True) if k not in answers}
        if unseen:
            answers.update(zip(unseen, predict_proba(list(unseen.values())), strict=True))
        return np.stack([answers[k] for k in keys])

    return predict


def _correct(predict_proba, rows: list) -> np.ndarray:
    """Whether the model labels each row right."""
    if not rows:
        return np.zeros(0, dtype=bool)
    return predict_proba([r.text for r in rows]).argmax(-1) == np.array([r.label for r in rows])


def _source_names(data_args: DataArguments, catalog: dict) -> list[str]:
    return [name for name, _ in (parse_source(spec, catalog) for spec in data_args.sources)]


def _mean(scores: dict[str, Scores]) -> float:
    """The unweighted mean macro-F1 of the sources with both labels (a one-label source has no macro-F1)."""
    return float(np.mean([s.macro_f1 for s in scores.values() if s.both_labels]))


def _identities(scored: list[tuple[str, list, np.ndarray]]) -> list[IdentityScores]:
    """Per (source, identity): accuracy on hateful and non-hateful cases, false-positive rate on the latter;
    ``scored`` holds (source, rows, whether each row was labelled right)."""
    groups: dict[tuple[str, str], list[tuple[int, bool]]] = {}
    for source, rows, correct in scored:
        for row, right in zip(rows, correct.tolist(), strict=True):
            for target in row.targets:
                groups.setdefault((source, IDENTITY_NAMES.get(target, target)), []).append((row.label, right))
    table = []
    for (source, identity), cases in sorted(groups.items()):
        hateful = [right for label, right in cases if label == 1]
        non_hateful = [right for label, right in cases if label == 0]
        table.append(IdentityScores(
            source=source, identity=identity, n_hateful=len(hateful), n_non_hateful=len(non_hateful),
            hateful_accuracy=float(np.mean(hateful)) if hateful else None,
            non_hateful_accuracy=float(np.mean(non_hateful)) if non_hateful else None,
            false_positive_rate=float(1 - np.mean(non_hateful)) if non_hateful else None,
        ))  # fmt: skip
    return table


def _scores(predict_proba, texts: list[str], labels: list[int]) -> Scores:
    probabilities = predict_proba(texts)
    full = score(labels, probabilities.argmax(-1).tolist(), probabilities[:, HATE].tolist())
    non_hateful = full["tn"] + full["fp"]
    return Scores(**{key: full.get(key) for key in SHOWN}, n=len(labels),  # no ROC-AUC for a one-class set
                  non_hateful_accuracy=full["tn"] / non_hateful if non_hateful else None)  # fmt: skip


def _hatecheck(rows: list, correct: np.ndarray) -> HateCheckScores:
    labels = np.array([r.label for r in rows])
    groups = np.array([r.group for r in rows])
    return HateCheckScores(
        overall=float(correct.mean()),
        hateful=float(correct[labels == 1].mean()),
        non_hateful=float(correct[labels == 0].mean()),
        functionalities={g: float(correct[groups == g].mean()) for g in sorted(set(groups.tolist()))},
        n=len(rows),
    )


def write_panel(run: RunFolder, panel: PanelResult) -> None:
    """``panel.json`` and a per-functionality HateCheck plot in the run folder."""
    run.write_panel(panel.to_dict())
    if panel.hatecheck is None:  # --panel_scope validation
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    functionalities = panel.hatecheck.functionalities
    names = sorted(functionalities, key=functionalities.get)
    fig, ax = plt.subplots(figsize=(7, 8))
    colours = ["tab:red" if name.endswith("_h") else "tab:blue" for name in names]
    ax.barh(names, [functionalities[n] for n in names], color=colours)
    ax.axvline(0.5, color="grey", linestyle="--")
    ax.set(xlim=(0, 1), xlabel="accuracy (red: hateful cases, blue: non-hateful)")
    ax.set_title(f"HateCheck: {panel.hatecheck.overall:.3f} overall")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(run.plot("hatecheck", "functionalities"), dpi=100)
    plt.close(fig)
    if panel.identities:
        _plot_identities(run, panel.identities, plt)


def _plot_identities(run: RunFolder, table: list[IdentityScores], plt) -> None:
    """False-positive rate on non-hateful cases per identity, one bar per source (the moderator's question)."""
    shown = [row for row in table if row.n_non_hateful >= MIN_IDENTITY_CASES]
    shown.sort(key=lambda row: row.false_positive_rate)
    fig, ax = plt.subplots(figsize=(7, max(3, 0.3 * len(shown) + 1)))
    colours = {"hatecheck": "tab:blue", "hatemoji_build": "tab:orange"}
    ax.barh([f"{row.identity} ({row.source}, n={row.n_non_hateful})" for row in shown],
            [row.false_positive_rate for row in shown],
            color=[colours.get(row.source, "tab:grey") for row in shown])  # fmt: skip
    ax.axvline(0.30, color="grey", linestyle="--")
    ax.set(xlim=(0, 1), xlabel="false-positive rate on non-hateful cases (dashed: 0.30)")
    ax.set_title("Non-hateful cases called hate, per identity")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(run.file(IDENTITY_PLOT), dpi=100)
    plt.close(fig)
