"""Round 4's goals table (docs/results/index.md and history.md) from the committed records: the configuration rule 6
chose (its final runs on all sources) against the incumbent's final runs, with the per-source baselines of every
study. Every goal is printed, met or not, with each seed's value where a mean hides the spread.

    python scripts/round4_goals.py --winner twelve --records results/final4

The incumbent's seeds 43 and 44 were recorded before round 4 named its four non-hateful functionalities; for those
its only kept panel (seed 42) stands in, and the table says so.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "selection"))
from source_study import below_baselines, final_table, load_records, source_baselines  # noqa: E402  (a script folder, not a package)

FUNCTIONALITIES = ("negate_neg_nh", "counter_quote_nh", "counter_ref_nh", "ident_pos_nh")
# Where earlier rounds keep their TweetEval + source baselines (only-<source>).
BASELINE_FOLDERS = ("results/final3", "results/final", "results/source-study-h200", "results/final-a")


def mean(rows: list[dict], key: str, index: int | None = None) -> float:
    return statistics.mean(row[key] if index is None else row[key][index] for row in rows)


def per_seed(rows: list[dict], key: str, index: int | None = None, digits: int = 3) -> str:
    return ", ".join(f"{row[key] if index is None else row[key][index]:.{digits}f}" for row in rows)


def goals(new: list[dict], old: list[dict], old_panel: dict, baselines: dict[str, float], true_rate: float) -> list:
    """(goal, the chosen configuration, the incumbent, met) per goal of the issue."""
    old_functionalities = old_panel["hatecheck"]["functionalities"]

    def met(ok: bool) -> str:
        return "met" if ok else "not met"

    rows = []
    for index, name, floor in ((0, "overall", 0.85), (1, "hateful", 0.80), (2, "non-hateful", 0.80)):
        value = mean(new, "hatecheck", index)
        rows.append((f"HateCheck {name} >= {floor:.2f}", f"{value:.3f} ({per_seed(new, 'hatecheck', index)})",
                     f"{mean(old, 'hatecheck', index):.3f}", met(value >= floor)))  # fmt: skip
    for name in FUNCTIONALITIES:
        values = [row["hatecheck_functionalities"][name] for row in new]
        rows.append((f"`{name}` >= 0.70", f"{statistics.mean(values):.3f} ({', '.join(f'{v:.3f}' for v in values)})",
                     f"{old_functionalities[name]:.3f} (seed 42)", met(statistics.mean(values) >= 0.70)))  # fmt: skip
    worst_new = max((row["hatecheck_worst_identity"] for row in new), key=lambda worst: worst[1])
    worst_old = max((row["hatecheck_worst_identity"] or row["worst_identity"] for row in old), key=lambda w: w[1])
    rows.append(("no HateCheck identity's false-positive rate above 0.25 (worst of any seed)",
                 f"{worst_new[1]:.3f} ({worst_new[0]})", f"{worst_old[1]:.3f} ({worst_old[0]})",
                 met(worst_new[1] <= 0.25)))  # fmt: skip
    test = mean(new, "tweeteval_test")
    rows.append(("TweetEval hate test macro-F1 >= 0.58", f"{test:.4f} ({per_seed(new, 'tweeteval_test', digits=4)})",
                 f"{mean(old, 'tweeteval_test'):.4f}", met(test >= 0.58)))  # fmt: skip
    rate = mean(new, "pred_hate_rate_test")
    rows.append((f"predicted hate on TweetEval test within 0.15 of the true {true_rate:.3f}",
                 f"{rate:.3f} ({per_seed(new, 'pred_hate_rate_test')})", f"{mean(old, 'pred_hate_rate_test'):.3f}",
                 met(abs(rate - true_rate) <= 0.15)))  # fmt: skip
    spelling_new = min(v for row in new for v in row["hatecheck_spelling"].values())
    spelling_old = min(v for row in old for v in (row.get("hatecheck_spelling") or {}).values())
    rows.append(("each spelling-variant functionality >= 0.60 (weakest of any seed)", f"{spelling_new:.3f}",
                 f"{spelling_old:.3f}", met(spelling_new >= 0.60)))  # fmt: skip
    below_new, below_old = below_baselines(new, baselines), below_baselines(old, baselines)
    rows.append(("no source's test macro-F1 below its TweetEval + source baseline", ", ".join(below_new) or "none",
                 ", ".join(below_old) or "none", met(not below_new)))  # fmt: skip
    return rows


def _seeds(rows: list[dict]) -> str:
    return ("seeds " if len(rows) > 1 else "seed ") + ",".join(str(row["seed"]) for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--winner", required=True, help="the candidate rule 6 chose (its runs: <winner>-seed<N>)")
    parser.add_argument("--records", type=Path, default=REPO_ROOT / "results" / "final4")
    parser.add_argument("--incumbent", default="nine-t2-deobf")
    parser.add_argument("--incumbent_records", type=Path, default=REPO_ROOT / "results" / "final3")
    parser.add_argument("--incumbent_panel", type=Path,
                        default=REPO_ROOT / "results" / "nine-t2-deobf-seed42" / "panel.json")  # fmt: skip
    args = parser.parse_args(argv)
    folders = [args.records, args.incumbent_records, *(REPO_ROOT / folder for folder in BASELINE_FOLDERS)]
    rows = [row for folder in dict.fromkeys(folders) for row in load_records(folder)]
    new = [row for row in rows if row["run"].rsplit("-seed", 1)[0] == args.winner]
    old = [row for row in rows if row["run"].rsplit("-seed", 1)[0] == args.incumbent]
    if not new or not old:
        parser.error(f"no final runs of {args.winner if not new else args.incumbent} in {[str(f) for f in folders]}")
    only = [row for row in rows if row["run"].startswith("only-")]
    old_panel = json.loads(args.incumbent_panel.read_text())
    true_rate = old_panel["test"]["tweeteval"]["true_hate_rate"]
    print(final_table(new + old + only))
    print(f"\nRound 4's goals, `{args.winner}` ({_seeds(new)}) against `{args.incumbent}` ({_seeds(old)}), means "
          "over the seeds:\n")  # fmt: skip
    print(f"| goal | {args.winner} | {args.incumbent} | |\n|---|---|---|---|")
    for goal, chosen, incumbent, verdict in goals(new, old, old_panel, source_baselines(only), true_rate):
        print(f"| {goal} | {chosen} | {incumbent} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
