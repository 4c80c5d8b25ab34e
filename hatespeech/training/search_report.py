"""What a finished search leaves in the run folder: the trials table, the best trial and the history plot."""

import json
import logging
from pathlib import Path

import optuna

from hatespeech.run_folder import RunFolder
from hatespeech.training.study import FINISHED

logger = logging.getLogger(__name__)


def write_search_report(study: optuna.Study, run: RunFolder) -> None:
    """Trials table (CSV), best trial and parameter importances (JSON), optimisation history (PNG)."""
    study.trials_dataframe().to_csv(run.search_file("trials.csv"), index=False)
    best = study.best_trial
    summary = {
        "study_name": study.study_name,
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": best.params,
        "n_finished": len(study.get_trials(deepcopy=False, states=FINISHED)),
        "importances": _importances(study),
    }
    run.search_file("best_trial.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _plot_history(study, run.search_file("history.png"))


def _importances(study: optuna.Study) -> dict[str, float]:
    """fANOVA importances; empty when there are too few completed trials to fit them."""
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError) as err:
        logger.warning("No parameter importances: %s", err)
        return {}


def _plot_history(study: optuna.Study, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    values = [t.value for t in trials]
    best_so_far = [max(values[: i + 1]) for i in range(len(values))]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([t.number for t in trials], values, "o", label="trial")
    ax.plot([t.number for t in trials], best_so_far, "-", label="best so far")
    ax.set(xlabel="trial", ylabel="validation macro-F1", title=f"Optuna study {study.study_name}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
