"""Two models' panels side by side: HateCheck per functionality and the identity table, as Markdown, and one plot
(the functionalities of both, weakest of the first model first). For the incumbent against a new configuration:

    python scripts/compare_panels.py results/eight-t2-seed42/panel.json outputs/model-full/panel.json \\
        --names eight-t2,nine-t2-deobf --plot docs/results/functionalities.png [--into outputs/model-full]

``--into RUN_FOLDER`` keeps the first panel in that run folder (the second panel's), so that its card and the
demo's Model tab show both (:mod:`hatespeech.evaluation.comparison`).
"""

import argparse
import json
import sys
from pathlib import Path

from hatespeech.evaluation.comparison import ComparisonError, attach, compared_panels, plot_functionalities
from hatespeech.evaluation.panel_result import PanelResult
from hatespeech.evaluation.panel_view import functionality_table, identity_comparison
from hatespeech.run_folder import PANEL, RunFolder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("panels", nargs=2, type=Path, help="Two panel.json files (a run folder's, or results/).")
    parser.add_argument("--names", help="Their names in the tables, comma-separated (default: the folders').")
    parser.add_argument("--plot", type=Path, help="Write the functionality plot (PNG) here.")
    parser.add_argument("--into", type=Path, metavar="RUN_FOLDER", help="Keep the first panel in this run folder, "
                        "whose own panel.json must be the second, for its card and Model tab.")  # fmt: skip
    args = parser.parse_args(argv)
    names = tuple(args.names.split(",")) if args.names else tuple(path.parent.name for path in args.panels)
    if args.into and (args.into / PANEL).resolve() != args.panels[1].resolve():
        parser.error(f"--into {args.into}: the second panel must be that folder's {PANEL}")
    try:
        loaded = [PanelResult.from_dict(json.loads(path.read_text())) for path in args.panels]
        panels = compared_panels(*loaded, names)
    except (OSError, KeyError, TypeError) as err:
        print(f"error: not two readable panel.json files ({type(err).__name__}: {err})", file=sys.stderr)
        return 2
    except ValueError as err:  # ComparisonError, or JSON that does not parse
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(functionality_table(panels) + "\n\n" + identity_comparison(panels))
    if args.plot:
        plot_functionalities(panels, args.plot)
        print(f"\nWrote {args.plot}")
    if args.into:
        try:
            print(f"Wrote {attach(RunFolder(args.into), loaded[0], names)}")
        except ComparisonError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
