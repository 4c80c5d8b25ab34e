"""Two models' panels side by side: HateCheck per functionality and the identity table, as Markdown, and one plot
(the functionalities of both, weakest of the first model first). For the incumbent against a new configuration:

    python scripts/compare_panels.py results/eight-t2-seed42/panel.json outputs/model-full/panel.json \\
        --names eight-t2,nine-t2 --plot docs/results/functionalities.png
"""

import argparse
import json
import sys
from pathlib import Path

from hatespeech.evaluation.panel_result import PanelResult
from hatespeech.evaluation.panel_view import functionality_table, identity_comparison


def plot(panels: dict[str, PanelResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    first = next(iter(panels.values())).hatecheck.functionalities
    names = sorted(first, key=first.get)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("panels", nargs=2, type=Path, help="Two panel.json files (a run folder's, or results/).")
    parser.add_argument("--names", help="Their names in the tables, comma-separated (default: the folders').")
    parser.add_argument("--plot", type=Path, help="Write the functionality plot (PNG) here.")
    args = parser.parse_args(argv)
    names = args.names.split(",") if args.names else [path.parent.name for path in args.panels]
    if len(names) != 2 or names[0] == names[1]:
        parser.error("--names needs two different names, one per panel")
    try:
        loaded = [PanelResult.from_dict(json.loads(path.read_text())) for path in args.panels]
        panels = dict(zip(names, loaded, strict=True))
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"error: not two readable panel.json files ({type(err).__name__}: {err})", file=sys.stderr)
        return 2
    if any(panel.hatecheck is None for panel in panels.values()):
        print(
            "error: a panel without HateCheck (a --panel_scope validation run) has nothing to compare", file=sys.stderr
        )
        return 2
    print(functionality_table(panels) + "\n\n" + identity_comparison(panels))
    if args.plot:
        plot(panels, args.plot)
        print(f"\nWrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
