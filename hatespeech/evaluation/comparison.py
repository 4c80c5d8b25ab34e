"""A run's panel beside the panel of the configuration it replaced: HateCheck per functionality and the identity
false-positive rates, kept in the run folder (``panel_compared.json`` and one plot) so that the card and the demo's
Model tab show the difference wherever the model goes.

    python scripts/compare_panels.py results/eight-t2-seed42/panel.json outputs/model-full/panel.json \\
        --names eight-t2,nine-t2-deobf --into outputs/model-full
"""

import json
from pathlib import Path

from hatespeech.evaluation.panel_result import PanelResult
from hatespeech.run_folder import COMPARED, COMPARED_PLOT, RunFolder


class ComparisonError(ValueError):
    """Two panels that cannot be compared; the message says why."""


def compared_panels(previous: PanelResult, current: PanelResult, names: tuple[str, str]) -> dict[str, PanelResult]:
    """The two panels by name, earlier first; both need HateCheck (a fold run's validation-only panel has none)."""
    if len(names) != 2 or names[0] == names[1]:
        raise ComparisonError("two different names are needed, one per panel")
    if previous.hatecheck is None or current.hatecheck is None:
        raise ComparisonError("a panel without HateCheck (a --panel_scope validation run) has nothing to compare")
    return dict(zip(names, (previous, current), strict=True))


def attach(run: RunFolder, previous: PanelResult, names: tuple[str, str]) -> Path:
    """Keep ``previous`` in the run folder beside the run's own panel, with the plot of both."""
    current = run.panel()
    if current is None:
        raise ComparisonError(f"{run.path}: has no panel.json to compare with (evaluate.py --panel first)")
    panels = compared_panels(previous, PanelResult.from_dict(current), names)
    path = run.file(COMPARED)
    path.write_text(json.dumps({"names": list(names), "panel": previous.to_dict()}, indent=2) + "\n")
    run.file(COMPARED_PLOT).parent.mkdir(parents=True, exist_ok=True)
    plot_functionalities(panels, run.file(COMPARED_PLOT))
    return path


def plot_functionalities(panels: dict[str, PanelResult], path: Path) -> None:
    """HateCheck accuracy per functionality, one bar per model, weakest of the first model at the top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    first = next(iter(panels.values())).hatecheck.functionalities
    names = sorted(first, key=first.get, reverse=True)  # barh draws upwards: the weakest ends on top
    fig, ax = plt.subplots(figsize=(8, 9))
    height = 0.8 / len(panels)
    for index, (label, panel) in enumerate(panels.items()):
        values = [panel.hatecheck.functionalities.get(name, float("nan")) for name in names]
        ax.barh(np.arange(len(names)) + index * height, values, height=height, label=label)
    ax.set_yticks(np.arange(len(names)) + height * (len(panels) - 1) / 2, names, fontsize=7)
    ax.axvline(0.5, color="grey", linestyle="--")
    ax.set(xlim=(0, 1), xlabel="HateCheck accuracy per functionality (_h: hateful cases, _nh: non-hateful)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
