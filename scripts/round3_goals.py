"""Round 3's goals table (docs/results/index.md) from the committed records: the winner's final runs
(results/final3/) against the incumbent's (results/final/), with the per-source baselines of every study.

    python scripts/round3_goals.py
"""

import json
import statistics
import subprocess
import sys
from pathlib import Path

final = subprocess.run(
    [
        sys.executable,
        "selection/source_study.py",
        "--final",
        "results/final3",
        "results/final",
        "results/source-study-h200",
        "results/final-a",
    ],
    capture_output=True,
    text=True,
    check=True,
).stdout.strip()
keep = [
    line
    for line in final.splitlines()
    if line.startswith(("| configuration", "|---", "| nine-t2-deobf", "| eight-t2", "| only-dynahate"))
]
final = "\n".join(keep)


def load(folder, name):
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob(f"{name}-seed*.json"))]


new, old = load("results/final3", "nine-t2-deobf"), load("results/final", "eight-t2")
old42 = json.loads(Path("results/eight-t2-seed42/panel.json").read_text())


def m(rows, key, i=None):
    values = [r[key] if i is None else r[key][i] for r in rows if r.get(key) is not None]
    return statistics.mean(values)


def seeds(rows):
    return ",".join(str(r["seed"]) for r in rows)


def per_seed(rows, key, i=None, fmt="{:.3f}"):
    return ", ".join(fmt.format(r[key] if i is None else r[key][i]) for r in rows)


def met(ok):
    return "met" if ok else "not met"


old_spell = min(v for k, v in old42["hatecheck"]["functionalities"].items() if k.startswith("spell_"))
# The incumbent's records name each seed's worst identity of any source: HateCheck's in all three seeds.
assert all(r["worst_identity"][0].startswith("hatecheck:") for r in old)
old_ident = max(r["worst_identity"][1] for r in old)
new_spell = min(v for r in new for v in r["hatecheck_spelling"].values())
new_ident = max(r["hatecheck_worst_identity"][1] for r in new)
gap_new = m(new, "validation_perturbed_mean") - m(new, "rule_all_sources")
gap_old = m(old, "validation_perturbed_mean") - m(old, "rule_all_sources")
below_new = (
    [line for line in final.splitlines() if line.startswith("| nine-t2-deobf")][0].rstrip(" |").rsplit("| ", 1)[1]
)
below_old = [line for line in final.splitlines() if line.startswith("| eight-t2")][0].rstrip(" |").rsplit("| ", 1)[1]
rows = [
    (
        "HateCheck overall >= 0.85",
        f"{m(new, 'hatecheck', 0):.3f} ({per_seed(new, 'hatecheck', 0)})",
        f"{m(old, 'hatecheck', 0):.3f}",
        met(m(new, "hatecheck", 0) >= 0.85),
    ),
    (
        "HateCheck hateful >= 0.80",
        f"{m(new, 'hatecheck', 1):.3f} ({per_seed(new, 'hatecheck', 1)})",
        f"{m(old, 'hatecheck', 1):.3f}",
        met(m(new, "hatecheck", 1) >= 0.80),
    ),
    (
        "HateCheck non-hateful >= 0.80",
        f"{m(new, 'hatecheck', 2):.3f} ({per_seed(new, 'hatecheck', 2)})",
        f"{m(old, 'hatecheck', 2):.3f}",
        met(m(new, "hatecheck", 2) >= 0.80),
    ),
    (
        "no HateCheck identity's false-positive rate above 0.25 (worst of any seed)",
        f"{new_ident:.3f} ({', '.join(r['hatecheck_worst_identity'][0] for r in new)})",
        f"{old_ident:.3f}",
        met(new_ident <= 0.25),
    ),
    (
        "each spelling-variant functionality >= 0.60 (weakest of any seed)",
        f"{new_spell:.3f}",
        f"{old_spell:.3f} (seed 42's panel)",
        met(new_spell >= 0.60),
    ),
    (
        "TweetEval hate test macro-F1 >= 0.58",
        f"{m(new, 'tweeteval_test'):.4f} ({per_seed(new, 'tweeteval_test', fmt='{:.4f}')})",
        f"{m(old, 'tweeteval_test'):.4f}",
        met(m(new, "tweeteval_test") >= 0.58),
    ),
    (
        "predicted hate on TweetEval test within 0.15 of the true 0.42",
        f"{m(new, 'pred_hate_rate_test'):.3f}",
        f"{m(old, 'pred_hate_rate_test'):.3f}",
        met(abs(m(new, "pred_hate_rate_test") - 0.422) <= 0.15),
    ),
    (
        "disguised validation within 0.03 of clean (mean over sources)",
        f"{gap_new:+.4f}",
        f"{gap_old:+.4f}",
        met(abs(gap_new) <= 0.03),
    ),
    ("no source's test macro-F1 below its TweetEval + source baseline", below_new, below_old, met(below_new == "none")),
]
goals = [
    f"Round 3's goals, `nine-t2-deobf` (seed{'s' if len(new) > 1 else ''} {seeds(new)}) against `eight-t2` "
    f"(seeds {seeds(old)}), means over the seeds:",
    "",
    "| goal | nine-t2-deobf | eight-t2 | |",
    "|---|---|---|---|",
]
goals += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
print(final + "\n\n" + "\n".join(goals))
