"""The multi-source study: named configurations x seeds, several training runs at once, one table.

    python selection/source_study.py --data_dir ../shared/tweeteval/hate --sources_dir ../shared/hate_sources \
        --out outputs/study --parallel 1 --runs capped,only-davidson --seeds 42
    python selection/source_study.py --summarize outputs/study outputs/model   # the table of finished runs

Leave-source-out selection (rule 5, folds and seed in configs/leave_source_out.yaml; a later round with its own
--lso_config, e.g. several seeds per fold): each candidate is trained once per fold and seed without that fold's
sources, and ranked by the mean held-out validation macro-F1:
    python selection/source_study.py --leave_source_out --runs eight,eight-t2,eight-aug,eight-t2-aug \
        --out outputs/lso --record results/leave-source-out
    python selection/source_study.py --leave_source_out --rank results/leave-source-out   # the ranking alone
Each finished run's summary is written to ``--record`` (commit it), so a study resumes from the records
even on a machine without the run folders.

Configurations (all from configs/train_mix.yaml; fixed before any of their test numbers was seen):
  capped          the published quick mix: davidson:6000, hatexplain:6000, stormfront:3000, mlma, ethos
  full            the same five sources without caps
  full-t2         without caps, with temperature sampling T=2 (--source_temperature 2)
  only-<source>   TweetEval + that one source (capped as in ``capped``): the per-source baselines
  eight           B: the seven sources, the large ones capped (implicit_hate:6000, hatemoji_build whole)
  eight-t2        C: eight with --source_temperature 2
  eight-aug       D: eight with --augment_probability 0.3
  eight-t2-aug    E: eight-t2 with --augment_probability 0.3
  eight-t2-lr2e5  round 2: eight-t2 with --learning_rate 2e-5 (instead of 5e-5)
From round 3 on, a round's candidates are train.py flags in its --lso_config (configs/leave_source_out_round3.yaml),
and the winner's final runs name that file too:
    python selection/source_study.py --lso_config configs/leave_source_out_round3.yaml --runs nine-t2 \
        --seeds 42,43,44 --out outputs/final3 --record results/final3
The selection rule (fixed beforehand): the mean validation macro-F1 over TweetEval and the five sources
(``validation_mean_macro_f1`` of each run's panel.json); test splits and HateCheck are only reported.
A run whose panel.json exists is not run again, so an interrupted study resumes where it stopped.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from hatespeech.evaluation.panel_result import PanelResult
from hatespeech.evaluation.panel_view import MIN_IDENTITY_CASES, worst_identity

REPO_ROOT = Path(__file__).resolve().parents[1]
CAPPED = ["davidson:6000", "hatexplain:6000", "stormfront:3000", "mlma", "ethos"]
FULL = [spec.split(":")[0] for spec in CAPPED]
EIGHT = [*CAPPED, "implicit_hate:6000", "hatemoji_build"]  # with TweetEval: eight sources
CONFIGURATIONS = {
    "capped": [],
    "full": ["--sources", *FULL],
    "full-t2": ["--sources", *FULL, "--source_temperature", "2"],
    # Round 4's two new sources with both labels get their baselines too (the replies have one label: no F1).
    **{
        f"only-{spec.split(':')[0]}": ["--sources", spec]
        for spec in [*EIGHT, "dynahate:12000", "redditbias", "edos:6000"]
    },
    # The leave-source-out candidates B-E (fixed before any of their runs).
    "eight": ["--sources", *EIGHT],
    "eight-t2": ["--sources", *EIGHT, "--source_temperature", "2"],
    "eight-aug": ["--sources", *EIGHT, "--augment_probability", "0.3"],
    "eight-t2-aug": ["--sources", *EIGHT, "--source_temperature", "2", "--augment_probability", "0.3"],
    # Round 2 (configs/leave_source_out_round2.yaml), fixed before its runs.
    "eight-t2-lr2e5": ["--sources", *EIGHT, "--source_temperature", "2", "--learning_rate", "2e-5"],
}
LSO_CONFIG = REPO_ROOT / "configs" / "leave_source_out.yaml"


class StudyError(ValueError):
    """A record or a round's configuration that cannot be used; the message names the file."""


def main(argv: list[str] | None = None) -> int:
    try:
        return run_study(argv)
    except StudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def run_study(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--sources_dir", default="../shared/hate_sources")
    parser.add_argument("--out", default="outputs/study", help="One run folder per configuration and seed.")
    parser.add_argument("--runs", default="capped,full,full-t2", help=f"Comma-separated, from {list(CONFIGURATIONS)}.")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--baseline_seeds", default="42", help="Seeds of the only-<source> baselines (one is enough).")
    parser.add_argument("--parallel", type=int, default=1, help="Runs at once (one per CPU core pair, or on one GPU).")
    parser.add_argument("--deadline_s", type=float, default=None, help="Start no run after this many seconds.")
    parser.add_argument("--summarize", nargs="+", metavar="FOLDER", help="Print the table of these run folders.")
    parser.add_argument("--leave_source_out", action="store_true", help="Fold runs of each candidate (rule 5).")
    parser.add_argument("--record", default="results/leave-source-out", help="Where run summaries are kept.")
    parser.add_argument("--rank", metavar="RECORDS", help="Print the rule-5 ranking of these records and stop.")
    parser.add_argument("--lso_config", type=Path, help="The round of rule 5: folds, seeds, candidates and tie "
                        f"margin, fixed before its runs (default {LSO_CONFIG.relative_to(REPO_ROOT)}). Without "
                        "--leave_source_out, its candidates may be named in --runs (final runs).")  # fmt: skip
    parser.add_argument("--final", nargs="+", metavar="RECORDS", help="Print the goals table of these record "
                        "folders (final runs and only-<source> baselines) and stop.")  # fmt: skip
    parser.add_argument("--publish", type=Path, metavar="CONFIG", help="With --rank: write the chosen candidate's "
                        "configuration to CONFIG (configs/train_full.yaml), once the round is complete.")  # fmt: skip
    parser.add_argument("--report_to", default="none", help="Where each run reports (train.py's --report_to): "
                        "mlflow logs every run to one experiment, tagged with its candidate and fold.")  # fmt: skip
    parser.add_argument("train_args", nargs="*", help="More train.py flags for every run (after --).")
    args = parser.parse_args(argv)
    round_config = args.lso_config or LSO_CONFIG
    if args.rank:
        fixed = fixed_rule(round_config)
        rows = load_records(Path(args.rank))
        print(rank_table(rows, fixed))
        if args.publish:
            chosen = chosen_candidate(rows, fixed)
            if chosen is None:
                raise StudyError(f"{args.rank}: the round is not complete; nothing to publish")
            args.publish.write_text(published_config(fixed, chosen, round_config))
            print(f"Wrote {args.publish} from {chosen}")
        return 0
    if args.final:
        print(final_table([row for folder in args.final for row in load_records(Path(folder))]))
        return 0
    if args.summarize:
        folders = [f for root in map(Path, args.summarize) for f in ([root] if (root / "panel.json").exists()
                   else sorted(p.parent for p in root.glob("*/panel.json")))]  # fmt: skip
        print(summary_table([summarize(folder) for folder in folders]))
        return
    # A round's candidates are runnable by name in its fold runs and, named with --lso_config, in final runs.
    fixed = fixed_rule(round_config) if args.leave_source_out or args.lso_config else {}
    configurations = CONFIGURATIONS | fixed.get("flags", {})
    unknown = set(args.runs.split(",")) - set(configurations)
    if unknown:
        parser.error(f"unknown configuration(s) {sorted(unknown)}; choose from {list(configurations)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.leave_source_out:
        # Candidate by candidate, so each candidate's rule 5 is complete as early as possible.
        jobs = [(name, seed, fold) for name in args.runs.split(",") for seed in fixed["seeds"]
                for fold in fixed["folds"]]  # fmt: skip
    else:  # Seed by seed, so the first seed of every configuration finishes first.
        jobs = [(name, int(seed), None) for seed in args.seeds.split(",") for name in args.runs.split(",")
                if not name.startswith("only-") or seed in args.baseline_seeds.split(",")]  # fmt: skip
    record = Path(args.record)
    started = time.time()

    def train(job: tuple[str, int, str | None]) -> dict | None:
        name, seed, fold = job
        folder = out / (f"{name}-seed{seed}" if fold is None else f"{name}-without-{fold}-seed{seed}")
        if (record / f"{folder.name}.json").exists():
            return json.loads((record / f"{folder.name}.json").read_text())
        if (folder / "panel.json").exists():  # finished, but its record was not written
            return keep(summarize(folder) | {"candidate": name, "fold": fold})
        if args.deadline_s is not None and time.time() - started > args.deadline_s:
            print(f"skipped {folder.name}: past the deadline", flush=True)
            return None
        config = REPO_ROOT / "configs" / "train_mix.yaml"
        command = [sys.executable, str(REPO_ROOT / "train.py"), "--config", str(config), "--data_dir", args.data_dir,
                   "--sources_dir", args.sources_dir, "--seed", str(seed), "--output_dir", str(folder),
                   "--report_to", args.report_to, "--overwrite_output_dir", "true",  # a rerun replaces a failed attempt
                   *configurations[name], *args.train_args]  # fmt: skip
        if fold is not None:  # rule 5 needs the held-out validation splits alone
            held_out = [source for source in fixed["folds"][fold] if source in trained_sources(configurations[name])]
            command += ["--holdout_sources", *held_out, "--panel_scope", "validation"]
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "train.log").open("w") as log:
            tags = {"MLFLOW_TAGS": json.dumps({"candidate": name, "fold": fold or "", "seed": seed})}
            status = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **tags}
            ).returncode
        print(f"{folder.name}: exit {status} after {time.time() - started:.0f} s", flush=True)
        if status != 0:
            return None
        row = summarize(folder) | {"candidate": name, "fold": fold, "command": " ".join(command[1:])}
        return keep(row | (fold_scores(folder, fixed["folds"][fold]) if fold is not None else {}))

    def keep(row: dict) -> dict:
        record.mkdir(parents=True, exist_ok=True)  # kept in the repository: the study resumes from these
        (record / f"{row['run']}.json").write_text(json.dumps(row, indent=2) + "\n")
        return row

    with ThreadPoolExecutor(args.parallel) as pool:
        rows = [row for row in pool.map(train, jobs) if row]
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    print(rank_table(rows, fixed) if args.leave_source_out else summary_table(rows))


def summarize(folder: Path) -> dict:
    """One run's numbers from its folder: the rule, TweetEval, HateCheck, each source's test split."""
    panel = PanelResult.from_dict(json.loads((folder / "panel.json").read_text()))
    results = json.loads((folder / "eval_results.json").read_text())
    train = json.loads((folder / "train_results.json").read_text())
    config = yaml.safe_load((folder / "run_config.yaml").read_text())
    hatecheck = panel.hatecheck  # absent with --panel_scope validation (fold runs)
    holdout = panel.holdout or {}
    worst = worst_identity(panel)
    return {
        "holdout_validation": holdout.get("validation"),
        "holdout_validation_perturbed": holdout.get("validation_perturbed"),
        "rule_trained_sources": panel.trained_sources_mean_macro_f1,
        "validation_perturbed_mean": panel.validation_perturbed_mean_macro_f1,
        "run": folder.name, "seed": config["seed"], "sources": config["sources"],
        "source_temperature": config.get("source_temperature"),
        "rule_own_sources": train["best_val_macro_f1"] and round(train["best_val_macro_f1"], 4),  # None: no eval
        "rule_all_sources": round(panel.validation_mean_macro_f1, 4),
        "tweeteval_validation": round(results["validation"]["macro_f1"], 4),
        "tweeteval_test": round(results["test"]["macro_f1"], 4),
        "pred_hate_rate_test": round(results["test"]["pred_hate_rate"], 3),
        "hatecheck": [round(v, 3) for v in (hatecheck.overall, hatecheck.hateful, hatecheck.non_hateful)]
        if hatecheck else None,
        "hatecheck_below_half": sorted(f for f, v in hatecheck.functionalities.items() if v < 0.5)
        if hatecheck else None,
        "test_by_source": {name: round(s.macro_f1, 4) for name, s in panel.test.items()},
        "worst_identity": [f"{worst.source}:{worst.identity}", round(worst.false_positive_rate, 3)] if worst else None,
        # Round 3's goals: HateCheck's own identities and its spelling-variant functionalities.
        "hatecheck_worst_identity": _hatecheck_worst_identity(panel),
        "hatecheck_spelling": {name: round(value, 3) for name, value in sorted(hatecheck.functionalities.items())
                               if name.startswith("spell_")} if hatecheck else None,
        # Round 4's goals name four non-hateful functionalities: every one is kept.
        "hatecheck_functionalities": {name: round(value, 3) for name, value in sorted(
            hatecheck.functionalities.items())} if hatecheck else None,
        "train_rows": train["data_sizes"], "wall_time_s": train["wall_time_s"], "hardware": train["hardware"],
    }  # fmt: skip


def _hatecheck_worst_identity(panel: PanelResult) -> list | None:
    """HateCheck's identity with the highest false-positive rate on its non-hateful cases, and that rate."""
    rows = [
        row for row in panel.identities or [] if row.source == "hatecheck" and row.n_non_hateful >= MIN_IDENTITY_CASES
    ]
    worst = max(rows, key=lambda row: row.false_positive_rate, default=None)
    return [worst.identity, round(worst.false_positive_rate, 3)] if worst else None


def trained_sources(flags: list[str]) -> set[str]:
    """TweetEval and the sources that a candidate's train.py flags name (those it can hold out)."""
    names, reading = {"tweeteval"}, False
    for flag in flags:
        reading = (flag == "--sources") or (reading and not flag.startswith("--"))
        if reading and flag != "--sources":
            names.add(flag.split(":")[0])
    return names


def fold_scores(folder: Path, fold: list[str]) -> dict:
    """The validation macro-F1, clean and disguised, of every source of the fold, from the run's panel: those the
    candidate trains on were held out; one it never trains on (DynaHate for eight-t2) is scored all the same."""
    panel = PanelResult.from_dict(json.loads((folder / "panel.json").read_text()))
    return {
        "holdout_validation": {source: panel.validation[source].macro_f1 for source in fold},
        "holdout_validation_perturbed": {source: panel.validation_perturbed[source].macro_f1 for source in fold},
        # Rule 6 (round 4): how rarely non-hateful rows are called hate, and how much is called hate at all.
        "holdout_validation_rates": {
            source: {"non_hateful_accuracy": panel.validation[source].non_hateful_accuracy,
                     "pred_hate_rate": panel.validation[source].pred_hate_rate,
                     "true_hate_rate": panel.validation[source].true_hate_rate}
            for source in fold
        },
    }  # fmt: skip


def source_baselines(rows: list[dict]) -> dict[str, float]:
    """Each source's baseline: its own test macro-F1 in the TweetEval + source runs (``only-<source>``) among
    ``rows``, the mean over their seeds."""
    scores: dict[str, list[float]] = {}
    for r in rows:
        if r["run"].startswith("only-"):
            source = r["run"].removeprefix("only-").rsplit("-seed", 1)[0]
            scores.setdefault(source, []).append(r["test_by_source"][source])
    return {source: statistics.mean(values) for source, values in scores.items()}


def below_baselines(runs: list[dict], baselines: dict[str, float]) -> list[str]:
    """ "source (score < baseline)" for each source whose mean test macro-F1 over ``runs`` is below its baseline;
    a source that an older run did not score is left out."""
    below = []
    for source, floor in sorted(baselines.items()):
        if all(source in r["test_by_source"] for r in runs):
            score = statistics.mean(r["test_by_source"][source] for r in runs)
            below += [f"{source} ({score:.3f} < {floor:.3f})"] if score < floor else []
    return below


def final_table(rows: list[dict]) -> str:
    """Markdown: per configuration and machine, the mean of its seeds on each goal of the study. A source's
    baseline is its own test macro-F1 in the TweetEval + source run (``only-<source>``, in ``rows`` too): "no
    source sacrificed". Runs of one configuration on different machines stay apart (separate studies)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["run"].rsplit("-seed", 1)[0], r.get("hardware", "-")), []).append(r)
    baselines = source_baselines(rows)
    lines = ["| configuration | machine | seeds | rule 4 (all val) | TweetEval val / test | pred. hate (test) | "
             "HateCheck o / h / nh | disguised − clean val | worst identity FPR (any seed) | "
             "worst HateCheck identity FPR (any seed) | weakest spelling variant (any seed) | "
             "below its baseline (test) |",
             "|---" * 12 + "|"]  # fmt: skip
    for (name, machine), group in groups.items():
        if name.startswith("only-"):
            continue

        def mean(key: str, index: int | None = None, runs: list[dict] = group) -> float:
            values = [r[key] if index is None else r[key][index] for r in runs if r.get(key) is not None]
            return statistics.mean(values) if values else float("nan")

        below = below_baselines(group, baselines)
        worst = max((r["worst_identity"] for r in group if r.get("worst_identity")), key=lambda w: w[1], default=None)
        worst_hatecheck = max((r["hatecheck_worst_identity"] for r in group if r.get("hatecheck_worst_identity")),
                              key=lambda w: w[1], default=None)  # fmt: skip
        spelling = min(((name, value) for r in group for name, value in (r.get("hatecheck_spelling") or {}).items()),
                       key=lambda item: item[1], default=None)  # fmt: skip
        lines.append(
            f"| {name} | {machine} | {','.join(str(r['seed']) for r in group)} | {mean('rule_all_sources'):.4f} | "
            f"{mean('tweeteval_validation'):.4f} / {mean('tweeteval_test'):.4f} | {mean('pred_hate_rate_test'):.3f} | "
            f"{mean('hatecheck', 0):.3f} / {mean('hatecheck', 1):.3f} / {mean('hatecheck', 2):.3f} | "
            f"{_signed(mean('validation_perturbed_mean') - mean('rule_all_sources'))} | "
            f"{f'{worst[0]} {worst[1]:.2f}' if worst else '-'} | "
            f"{f'{worst_hatecheck[0]} {worst_hatecheck[1]:.2f}' if worst_hatecheck else '-'} | "
            f"{f'{spelling[0]} {spelling[1]:.2f}' if spelling else '-'} | {', '.join(below) or 'none'} |"
        )
    return "\n".join(lines)


def _signed(value: float) -> str:
    return "-" if value != value else f"{value:+.4f}"  # NaN: runs from before the disguised panel


def summary_table(rows: list[dict]) -> str:
    """Markdown: one line per run, then mean ± std per configuration (runs named <configuration>-seed<N>)."""
    lines = ["| run | rule 4 (all val) | TweetEval val | TweetEval test | pred. hate | HateCheck o/h/nh | "
             "davidson | hatexplain | ethos | mlma | stormfront | wall s |", "|---" * 12 + "|"]  # fmt: skip
    for r in rows:
        t = r["test_by_source"]
        lines.append(f"| {r['run']} | {r['rule_all_sources']:.4f} | {r['tweeteval_validation']:.4f} | "
                     f"{r['tweeteval_test']:.4f} | {r['pred_hate_rate_test']:.3f} | "
                     f"{' / '.join(f'{v:.3f}' for v in r['hatecheck'])} | "
                     + " | ".join(f"{t[s]:.3f}" for s in ("davidson", "hatexplain", "ethos", "mlma", "stormfront"))
                     + f" | {r['wall_time_s']:.0f} |")  # fmt: skip
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["run"].rsplit("-seed", 1)[0], []).append(r)
    lines += ["", "| configuration | seeds | rule mean ± std | TweetEval test mean ± std | HateCheck overall | "
              "pred. hate |", "|---" * 6 + "|"]  # fmt: skip
    for name, group in groups.items():
        seeds = ",".join(str(r["seed"]) for r in group)
        spreads = [_spread(group, "rule_all_sources"), _spread(group, "tweeteval_test"),
                   _spread(group, "hatecheck", 0), _spread(group, "pred_hate_rate_test")]  # fmt: skip
        lines.append(f"| {name} | {seeds} | " + " | ".join(spreads) + " |")
    hardware = sorted({r["hardware"] for r in rows})
    return "\n".join(lines) + f"\n\nHardware: {'; '.join(hardware)}"


def load_records(folder: Path) -> list[dict]:
    """The run summaries in ``folder``: one per file, or a list per file (an older study's summary.json). A file
    that is not a run summary stops with its name: a ranking must never quietly leave a run out."""
    if not folder.is_dir():
        raise StudyError(f"{folder}: no such folder of run records")
    rows: list[dict] = []
    for path in sorted(folder.glob("*.json")):
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise StudyError(f"{path}: not a readable JSON record ({type(err).__name__}); rerun or remove it") from None
        for row in loaded if isinstance(loaded, list) else [loaded]:
            _check_record(row, path)
            rows.append(row)
    if not rows:
        raise StudyError(f"{folder}: holds no run records (*.json)")
    return rows


def _check_record(row, path: Path) -> None:
    def number(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    if not isinstance(row, dict) or not isinstance(row.get("run"), str) or not isinstance(row.get("seed"), int):
        raise StudyError(f"{path}: not a run record (a JSON object with the run's name and seed)")
    if row.get("fold"):
        scores = [row.get("holdout_validation"), row.get("holdout_validation_perturbed")]
        if not all(isinstance(s, dict) and s and all(map(number, s.values())) for s in scores) or not number(
            row.get("wall_time_s")
        ):
            raise StudyError(f"{path}: a fold run's record without its held-out scores; rerun the fold")


def fixed_rule(path: Path = LSO_CONFIG) -> dict:
    """A round of rule 5 as fixed before its runs: folds, seeds (``seed`` or ``seeds``), candidates, tie margin.
    Candidates are names of :data:`CONFIGURATIONS` or (from round 3) a mapping of names to their train.py flags."""
    try:
        fixed = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise StudyError(f"--lso_config {path}: cannot be read ({type(err).__name__})") from None
    if (
        not isinstance(fixed, dict)
        or not isinstance(fixed.get("folds"), dict)
        or not fixed.get("candidates")
        or ("tie_margin" not in fixed)
    ):
        raise StudyError(f"--lso_config {path}: a round needs folds, candidates and tie_margin (see "
                         "configs/leave_source_out_round3.yaml)")  # fmt: skip
    if fixed.get("rule") == 6 and not all(fixed.get(key) for key in ("incumbent", "max_f1_loss", "mention_sources")):
        raise StudyError(f"--lso_config {path}: rule 6 needs incumbent, max_f1_loss and mention_sources (see "
                         "configs/leave_source_out_round4.yaml)")  # fmt: skip
    option = "" if path.resolve() == LSO_CONFIG else f" --lso_config {path}"  # the command that reruns a row
    flags = fixed["candidates"] if isinstance(fixed["candidates"], dict) else {}
    return fixed | {"seeds": fixed.get("seeds", [fixed.get("seed")]), "option": option, "flags": flags,
                    "candidates": list(fixed["candidates"])}  # fmt: skip


def published_config(fixed: dict, chosen: str, round_config: Path) -> str:
    """configs/train_full.yaml for the chosen candidate: the study's base (configs/train_mix.yaml) with the
    candidate's flags applied, and a header that says where it came from."""
    config = yaml.safe_load((REPO_ROOT / "configs" / "train_mix.yaml").read_text())
    flags = (fixed["flags"] or CONFIGURATIONS)[chosen]
    key = None
    for flag in flags:
        if flag.startswith("--"):
            key = flag[2:]
            config[key] = [] if key == "sources" else None
        elif key == "sources":
            config["sources"].append(flag)
        else:
            config[key] = yaml.safe_load(flag)
    config["output_dir"] = "outputs/model-full"
    header = (
        f"# The published configuration, written by selection/source_study.py --rank --publish: candidate\n"
        f"# {chosen!r}, chosen by rule {fixed.get('rule', 5)} in {Path(round_config).name} (leave-source-out "
        "selection, fixed\n"
        f"# before its runs; docs/results/history.md has the table). Test splits and HateCheck chose nothing.\n"
        "#   make train-full   (python train.py --config configs/train_full.yaml --data_dir <TweetEval>)\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, width=120)


def rule5(rows: list[dict], fixed: dict | None = None) -> dict[str, dict]:
    """Per candidate: held-out validation macro-F1 of every source (each from the fold runs that left it out,
    averaged over the round's seeds), their mean (rule 5) and its disguised counterpart (the tie-break);
    complete only with every fold and seed."""
    fixed = fixed or fixed_rule()
    out: dict[str, dict] = {}
    for row in (row for row in rows if row.get("fold") and row["seed"] in fixed["seeds"]):
        entry = out.setdefault(row["candidate"], {"clean": {}, "perturbed": {}, "runs": set(), "wall_time_s": [],
                                                  "hardware": set()})  # fmt: skip
        for kind, scores in (("clean", row["holdout_validation"]), ("perturbed", row["holdout_validation_perturbed"])):
            for source, score in scores.items():
                entry[kind].setdefault(source, []).append(score)
        for source, rates in row.get("holdout_validation_rates", {}).items():  # from round 4 on
            for key, value in rates.items():
                entry.setdefault(key, {}).setdefault(source, []).append(value)
        entry["runs"].add((row["fold"], row["seed"]))
        entry["wall_time_s"].append(row["wall_time_s"])
        entry["hardware"].add(row["hardware"])
    for entry in out.values():
        entry["complete"] = entry["runs"] == {(fold, seed) for fold in fixed["folds"] for seed in fixed["seeds"]}
        for kind in ("clean", "perturbed", *RATES):
            if kind in entry:
                entry[kind] = {source: _mean_or_none(scores) for source, scores in entry[kind].items()}
        entry["rule5"] = statistics.mean(entry["clean"].values())
        entry["rule5_perturbed"] = statistics.mean(entry["perturbed"].values())
    return out


RATES = ("non_hateful_accuracy", "pred_hate_rate", "true_hate_rate")


def _mean_or_none(values: list) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.mean(known) if known else None


def rule6(rows: list[dict], fixed: dict) -> dict[str, dict]:
    """Rule 5's per-candidate entries with rule 6 added: (a) the held-out validation macro-F1 mean over the sources
    with both labels, (b) the held-out accuracy on the non-hateful rows of the ``mention_sources``, rule 6 = their
    mean, its tie-break (the held-out disguised mean over the same sources as (a)), and whether (a) is within
    ``max_f1_loss`` of the incumbent's (None while the incumbent has folds to run)."""
    scores = rule5(rows, fixed)
    for entry in scores.values():
        true_rates = entry.get("true_hate_rate", {})
        both = [source for source in entry["clean"] if 0 < (true_rates.get(source) or 0) < 1]
        mentions = [entry.get("non_hateful_accuracy", {}).get(source) for source in fixed["mention_sources"]]
        entry["f1"] = statistics.mean(entry["clean"][source] for source in both) if both else float("nan")
        entry["f1_perturbed"] = statistics.mean(entry["perturbed"][s] for s in both) if both else float("nan")
        entry["mentions"] = statistics.mean(mentions) if None not in mentions else float("nan")
        entry["rule6"] = (entry["f1"] + entry["mentions"]) / 2
        entry["complete"] = entry["complete"] and not math.isnan(entry["rule6"])  # NaN: a record lacks a number
    incumbent = scores.get(fixed["incumbent"])
    for entry in scores.values():
        floor = incumbent["f1"] - fixed["max_f1_loss"] if incumbent and incumbent["complete"] else None
        entry["eligible"] = None if floor is None else entry["f1"] >= floor
    return scores


def choose6(scores: dict[str, dict], fixed: dict) -> str | None:
    """Rule 6's fixed choice: the best rule 6 among the eligible candidates; every one within the tie margin of it
    ties, and of those the higher held-out disguised score wins. None while a candidate has folds to run."""
    if not all(name in scores and scores[name]["complete"] for name in fixed["candidates"]):
        return None
    eligible = {name: scores[name] for name in fixed["candidates"] if scores[name]["eligible"]}
    best = max(entry["rule6"] for entry in eligible.values())
    tied = [name for name, entry in eligible.items() if best - entry["rule6"] <= fixed["tie_margin"]]
    return max(tied, key=lambda name: eligible[name]["f1_perturbed"])


def chosen_candidate(rows: list[dict], fixed: dict) -> str | None:
    """The round's choice under its own rule (6 from round 4 on, else 5)."""
    if fixed.get("rule") == 6:
        return choose6(rule6(rows, fixed), fixed)
    return choose(rule5(rows, fixed), fixed["candidates"], fixed["tie_margin"])


def choose(scores: dict[str, dict], candidates: list[str], margin: float) -> str | None:
    """The fixed choice: the best rule 5 among the candidates; every candidate within ``margin`` of it ties,
    and of those the higher held-out disguised score wins. None while a candidate has folds to run."""
    if not all(name in scores and scores[name]["complete"] for name in candidates):
        return None
    scores = {name: scores[name] for name in candidates}
    best = max(entry["rule5"] for entry in scores.values())
    tied = [name for name, entry in scores.items() if best - entry["rule5"] <= margin]
    return max(tied, key=lambda name: scores[name]["rule5_perturbed"])


def rank_table(rows: list[dict], fixed: dict | None = None) -> str:
    """Markdown: candidates by rule 5 (complete ones first), then each source's held-out score, then the
    fixed choice (:func:`choose`)."""
    fixed = fixed or fixed_rule()
    if fixed.get("rule") == 6:
        return rank_table6(rows, fixed)
    scores = rule5(rows, fixed)
    ranked = sorted(scores.items(), key=lambda item: (not item[1]["complete"], -item[1]["rule5"]))
    sources = sorted({source for entry in scores.values() for source in entry["clean"]})
    lines = ["| candidate | folds | rule 5 (held-out val) | held-out disguised val | s per run (median) | machine | "
             "command |", "|---" * 7 + "|"]  # fmt: skip
    for name, entry in ranked:
        folds = ",".join(sorted({fold for fold, _ in entry["runs"]}))
        if len(fixed["seeds"]) > 1:
            folds += f" x seeds {','.join(str(seed) for seed in sorted({seed for _, seed in entry['runs']}))}"
        folds += "" if entry["complete"] else " (incomplete)"
        lines.append(f"| {name} | {folds} | {entry['rule5']:.4f} | {entry['rule5_perturbed']:.4f} | "
                     f"{statistics.median(entry['wall_time_s']):.0f} | {'; '.join(sorted(entry['hardware']))} | "
                     f"`--leave_source_out --runs {name}{fixed['option']}` |")  # fmt: skip
    for kind, title in (
        ("clean", "Held-out validation macro-F1 per source:"),
        ("perturbed", "The same, disguised (typos, look-alike characters, split or merged words):"),
    ):
        lines += ["", title, "", "| candidate | " + " | ".join(sources) + " |", "|---" * (len(sources) + 1) + "|"]
        for name, entry in ranked:
            lines.append(f"| {name} | " + " | ".join(f"{entry[kind].get(s, float('nan')):.4f}" for s in sources)
                         + " |")  # fmt: skip
    chosen = choose(scores, fixed["candidates"], fixed["tie_margin"])
    verdict = (f"Chosen by rule 5 (tie margin {fixed['tie_margin']}, tie-break: held-out disguised validation): "
               f"**{chosen}**"
               if chosen else "Nothing chosen yet: a candidate has folds to run.")  # fmt: skip
    return "\n".join(lines) + f"\n\n{verdict}"


def rank_table6(rows: list[dict], fixed: dict) -> str:
    """Markdown: candidates by rule 6 with what it sees ((a), (b), eligibility), held-out accuracy on DynaHate's
    non-hateful rows and the predicted-hate share on TweetEval validation; each source's held-out numbers; the
    fixed choice (:func:`choose6`)."""
    scores = rule6(rows, fixed)
    ranked = sorted(scores.items(), key=lambda item: (not item[1]["complete"], -item[1]["rule6"]))
    lines = [f"| candidate | folds | rule 6 | (a) held-out macro-F1 | (b) non-hateful mentions acc. | (a) within "
             f"{fixed['max_f1_loss']} of {fixed['incumbent']} | held-out disguised | DynaHate non-hateful acc. | "
             "TweetEval val predicted hate | s per run (median) | machine |", "|---" * 11 + "|"]  # fmt: skip
    for name, entry in ranked:
        folds = ",".join(sorted({fold for fold, _ in entry["runs"]})) + ("" if entry["complete"] else " (incomplete)")
        eligible = {None: "-", True: "yes", False: "**no**"}[entry["eligible"]]
        lines.append(
            f"| {name} | {folds} | {_number(entry['rule6'])} | {_number(entry['f1'])} | {_number(entry['mentions'])} | "
            f"{eligible} | {_number(entry['f1_perturbed'])} | "
            f"{_number(entry.get('non_hateful_accuracy', {}).get('dynahate'))} | "
            f"{_number(entry.get('pred_hate_rate', {}).get('tweeteval'), 3)} | "
            f"{statistics.median(entry['wall_time_s']):.0f} | {'; '.join(sorted(entry['hardware']))} |"
        )
    sources = sorted({source for entry in scores.values() for source in entry["clean"]})
    for kind, title, places in (
        ("clean", "Held-out validation macro-F1 per source (a one-label source has none):", 4),
        ("perturbed", "The same, disguised (typos, look-alike characters, split or merged words):", 4),
        ("non_hateful_accuracy", "Held-out accuracy on each source's non-hateful validation rows:", 4),
        ("pred_hate_rate", "Held-out predicted hate share on each source's validation split (true share in the "
                           "last row):", 3),
    ):  # fmt: skip
        lines += ["", title, "", "| candidate | " + " | ".join(sources) + " |", "|---" * (len(sources) + 1) + "|"]
        for name, entry in ranked:
            one_label = {s for s in sources if (entry.get("true_hate_rate", {}).get(s) or 0) in (0, 1)}
            values = [None if kind in ("clean", "perturbed") and s in one_label else entry.get(kind, {}).get(s)
                      for s in sources]  # fmt: skip
            lines.append(f"| {name} | " + " | ".join(_number(v, places) for v in values) + " |")
        if kind == "pred_hate_rate" and ranked:
            truth = ranked[0][1].get("true_hate_rate", {})
            lines.append("| (true) | " + " | ".join(_number(truth.get(s), 3) for s in sources) + " |")
    chosen = choose6(scores, fixed)
    verdict = (f"Chosen by rule 6 (tie margin {fixed['tie_margin']}, tie-break: held-out disguised validation): "
               f"**{chosen}**" if chosen else "Nothing chosen yet: a candidate has folds to run.")  # fmt: skip
    command = f"`python selection/source_study.py --leave_source_out --runs <candidate>{fixed['option']}`"
    return "\n".join(lines) + f"\n\n{verdict}\n\nEach candidate's fold runs: {command}"


def _number(value: float | None, places: int = 4) -> str:
    return "-" if value is None or value != value else f"{value:.{places}f}"


def _spread(group: list[dict], key: str, index: int | None = None) -> str:
    values = [r[key] if index is None else r[key][index] for r in group]
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


if __name__ == "__main__":
    sys.exit(main())
