"""Rule 5 from the study's fold records: every source scored by the fold run that left it out, incomplete
candidates ranked last, the ranking printable from the committed records alone."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("source_study", REPO_ROOT / "selection" / "source_study.py")
source_study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(source_study)
FOLDS = yaml.safe_load((REPO_ROOT / "configs" / "leave_source_out.yaml").read_text())["folds"]


def record(candidate: str, fold: str, score: float, seed: int = 42) -> dict:
    held_out = dict.fromkeys(FOLDS[fold], score)
    return {"candidate": candidate, "fold": fold, "run": f"{candidate}-without-{fold}-seed{seed}",
            "holdout_validation": held_out, "holdout_validation_perturbed": {name: score - 0.1 for name in held_out},
            "wall_time_s": 600.0, "hardware": "test CPU", "seed": seed}  # fmt: skip


def test_the_folds_cover_the_eight_sources_once():
    names = [name for fold in FOLDS.values() for name in fold]
    assert len(names) == len(set(names)) == 8
    assert set(names) == {"tweeteval", *source_study.FULL, "implicit_hate", "hatemoji_build"}


def test_rule5_is_the_mean_over_the_eight_held_out_sources_and_needs_every_fold(tmp_path):
    rows = [record("eight", "A", 0.6), record("eight", "B", 0.7), record("eight", "C", 0.9)]
    rows += [record("eight-aug", "A", 0.9)]  # one fold only: ranked after the complete candidate
    scores = source_study.rule5(rows)
    # Unweighted over sources, not folds: 3 x 0.6, 3 x 0.7, 2 x 0.9.
    assert scores["eight"]["rule5"] == pytest.approx((3 * 0.6 + 3 * 0.7 + 2 * 0.9) / 8)
    assert scores["eight"]["rule5_perturbed"] == pytest.approx(scores["eight"]["rule5"] - 0.1)
    assert scores["eight"]["complete"] and not scores["eight-aug"]["complete"]
    for row in rows:
        (tmp_path / f"{row['candidate']}-without-{row['fold']}-seed42.json").write_text(json.dumps(row))
    table = source_study.rank_table(source_study.load_records(tmp_path))
    lines = table.splitlines()
    assert lines[2].startswith("| eight | A,B,C | 0.7125 |") and "| eight-aug | A (incomplete) |" in lines[3]
    assert lines[2].endswith("| 600 | test CPU | `--leave_source_out --runs eight` |")


def test_the_choice_waits_for_every_candidate_then_breaks_ties_on_disguised_text():
    def scores(rule5: float, disguised: float, complete: bool = True) -> dict:
        return {"rule5": rule5, "rule5_perturbed": disguised, "complete": complete}

    candidates = ["b", "c", "d"]
    entries = {"b": scores(0.600, 0.50), "c": scores(0.597, 0.52), "d": scores(0.590, 0.60, complete=False)}
    assert source_study.choose(entries, candidates, margin=0.005) is None  # d has folds to run
    assert source_study.choose({k: v for k, v in entries.items() if k != "d"}, candidates, 0.005) is None
    entries["d"]["complete"] = True
    # c ties with b (0.003 apart) and reads disguised text better; d is outside the margin however well it does.
    assert source_study.choose(entries, candidates, margin=0.005) == "c"
    assert source_study.choose(entries, candidates, margin=0.001) == "b"
    entries["d"]["rule5"] = 0.596
    assert source_study.choose(entries, candidates, margin=0.005) == "d"


def test_the_goals_table_compares_each_source_with_its_own_baseline():
    def run(name: str, seed: int, test_by_source: dict, hardware: str = "CPU") -> dict:
        return {"run": f"{name}-seed{seed}", "seed": seed, "rule_all_sources": 0.7, "tweeteval_validation": 0.75,
                "tweeteval_test": 0.57, "pred_hate_rate_test": 0.6, "hatecheck": [0.6, 0.5, 0.7],
                "validation_perturbed_mean": 0.66, "worst_identity": ["hatecheck:women", 0.4],
                "test_by_source": test_by_source, "hardware": hardware}  # fmt: skip

    rows = [run("only-ethos", 42, {"ethos": 0.80}, "GPU"), run("only-mlma", 42, {"mlma": 0.50}),
            run("mix", 42, {"ethos": 0.78, "mlma": 0.52}) | {"hatecheck_worst_identity": ["Muslims", 0.31],
                                                              "hatecheck_spelling": {"spell_leet_h": 0.7}},
            run("mix", 43, {"ethos": 0.80, "mlma": 0.50}) | {"hatecheck_worst_identity": ["women", 0.2],
                                                              "hatecheck_spelling": {"spell_leet_h": 0.55,
                                                                                     "spell_char_del_h": 0.9}},
            run("mix", 42, {"ethos": 0.90, "mlma": 0.40}, "GPU"), run("old", 42, {"ethos": 0.90})]  # fmt: skip
    lines = source_study.final_table(rows).splitlines()
    mix, mix_gpu, old = (
        next(line for line in lines if line.startswith("| mix | CPU |")),
        next(line for line in lines if line.startswith("| mix | GPU |")),
        next(line for line in lines if "| old " in line),
    )
    # mix: ethos 0.79 < 0.80 is below its baseline, mlma 0.51 is not; "old" never scored mlma: not compared.
    assert "| 42,43 |" in mix and "ethos (0.790 < 0.800)" in mix and "mlma" not in mix
    # The goals' worst cases over the seeds: HateCheck's worst identity and weakest spelling variant in any seed.
    assert mix.endswith("| -0.0400 | hatecheck:women 0.40 | Muslims 0.31 | spell_leet_h 0.55 | ethos (0.790 < 0.800) |")
    # The same configuration and seed on another machine is its own row, never averaged in; baselines are
    # shared whatever machine ran them.
    assert "| 42 |" in mix_gpu and mix_gpu.endswith("| mlma (0.400 < 0.500) |")
    assert old.endswith("| - | - | none |") and not any(line.startswith("| only-") for line in lines)


def test_a_round_with_several_seeds_averages_each_source_over_them_and_waits_for_every_run(tmp_path):
    fixed = source_study.fixed_rule(REPO_ROOT / "configs" / "leave_source_out_round2.yaml")
    assert fixed["seeds"] == [42, 43] and fixed["folds"] == FOLDS and "eight-t2-lr2e5" in source_study.CONFIGURATIONS
    rows = [record("eight-t2", fold, 0.6) for fold in FOLDS] + [record("eight-t2", fold, 0.7, 43) for fold in FOLDS]
    rows += [record("eight-t2-lr2e5", fold, 0.8) for fold in FOLDS]  # seed 43 still to run
    rows += [record("eight-t2", "A", 0.1, seed=44)]  # not a seed of this round: ignored
    scores = source_study.rule5(rows, fixed)
    assert scores["eight-t2"]["complete"] and scores["eight-t2"]["rule5"] == pytest.approx(0.65)
    assert not scores["eight-t2-lr2e5"]["complete"]
    table = source_study.rank_table(rows, fixed)
    assert "| eight-t2 | A,B,C x seeds 42,43 | 0.6500 |" in table
    assert "| eight-t2-lr2e5 | A,B,C x seeds 42 (incomplete) | 0.8000 |" in table
    assert "--lso_config" in table and table.endswith("Nothing chosen yet: a candidate has folds to run.")
    rows += [record("eight-t2-lr2e5", fold, 0.52, 43) for fold in FOLDS]  # rule 5 0.66, 0.01 above eight-t2
    scores = source_study.rule5(rows, fixed)
    assert scores["eight-t2-lr2e5"]["rule5"] == pytest.approx(0.66)
    assert source_study.choose(scores, fixed["candidates"], fixed["tie_margin"]) == "eight-t2-lr2e5"
    assert source_study.choose(scores, fixed["candidates"], 0.02) == "eight-t2-lr2e5"  # a tie: disguised 0.56 > 0.55
    scores["eight-t2"]["rule5_perturbed"] = 0.6
    assert source_study.choose(scores, fixed["candidates"], 0.02) == "eight-t2"  # the tie-break decides
    assert source_study.choose(scores, fixed["candidates"], fixed["tie_margin"]) == "eight-t2-lr2e5"  # no tie


def test_round_three_reads_its_candidates_flags_and_scores_a_source_a_candidate_never_trains_on(tmp_path):
    fixed = source_study.fixed_rule(REPO_ROOT / "configs" / "leave_source_out_round3.yaml")
    assert fixed["candidates"] == ["eight-t2", "nine-t2", "nine-t2-dyn24k", "nine-t2-deobf"]
    assert fixed["flags"]["eight-t2"] == source_study.CONFIGURATIONS["eight-t2"]  # round 1's runs stay comparable
    assert fixed["folds"]["C"] == ["hatexplain", "stormfront", "dynahate"] and fixed["seeds"] == [42]
    assert "dynahate" not in source_study.trained_sources(fixed["flags"]["eight-t2"])
    assert source_study.trained_sources(fixed["flags"]["nine-t2-deobf"]) == {
        "tweeteval", "davidson", "hatexplain", "stormfront", "mlma", "ethos", "implicit_hate", "hatemoji_build",
        "dynahate"}  # fmt: skip
    # A fold's scores come from the panel, held out or never trained on alike.
    scores = {"roc_auc": 0.5, "pred_hate_rate": 0.4, "true_hate_rate": 0.4, "n": 10}
    panel = {kind: {name: scores | {"macro_f1": 0.5 + i / 10} for i, name in enumerate(fixed["folds"]["C"])}
             for kind in ("validation", "validation_perturbed")} | {"validation_mean_macro_f1": 0.6}  # fmt: skip
    (tmp_path / "panel.json").write_text(json.dumps(panel))
    scores = source_study.fold_scores(tmp_path, fixed["folds"]["C"])
    assert scores["holdout_validation"] == {"hatexplain": 0.5, "stormfront": 0.6, "dynahate": 0.7}


def test_the_published_configuration_is_what_the_harness_writes_for_the_chosen_candidate(tmp_path, capsys):
    """configs/train_full.yaml is written by --rank --publish from the round's records, never copied by hand."""
    round2 = REPO_ROOT / "configs" / "leave_source_out_round2.yaml"
    out = tmp_path / "train_full.yaml"
    args = ["--leave_source_out", "--rank", str(REPO_ROOT / "results" / "leave-source-out-round2"), "--lso_config",
            str(round2), "--publish", str(out)]  # fmt: skip
    assert source_study.main(args) == 0
    assert "**eight-t2**" in capsys.readouterr().out
    # Round 2's choice, eight-t2, has the same flags in round 3: the configuration round 3 started from.
    round3 = REPO_ROOT / "configs" / "leave_source_out_round3.yaml"
    incumbent = source_study.published_config(source_study.fixed_rule(round3), "eight-t2", round3)
    assert yaml.safe_load(out.read_text()) == yaml.safe_load(incumbent)


def test_a_rounds_candidate_runs_by_name_in_final_runs_only_with_its_round(tmp_path, capsys):
    """The winner's final runs (seeds 42-44 on every source) name it with --lso_config; a run already recorded
    is read back, not trained again."""
    (tmp_path / "records").mkdir()
    finished = json.loads((REPO_ROOT / "results" / "final" / "eight-t2-seed42.json").read_text())
    (tmp_path / "records" / "nine-t2-seed42.json").write_text(json.dumps(finished | {"run": "nine-t2-seed42"}))
    records = str(tmp_path / "records")
    common = ["--runs", "nine-t2", "--seeds", "42", "--out", str(tmp_path / "out"), "--record", records]
    with pytest.raises(SystemExit):  # not a configuration of the harness itself
        source_study.main(common)
    assert "unknown configuration(s) ['nine-t2']" in capsys.readouterr().err
    round3 = REPO_ROOT / "configs" / "leave_source_out_round3.yaml"
    source_study.main([*common, "--lso_config", str(round3)])
    table = capsys.readouterr().out
    assert f"| nine-t2-seed42 | {finished['rule_all_sources']:.4f} |" in table and "| nine-t2 | 42 |" in table


def bad_records(folder: Path, name: str) -> Path:
    folder.mkdir()
    good = record("eight-t2", "A", 0.6)
    (folder / "good.json").write_text(json.dumps(good))
    content = {"cut": json.dumps(good)[:40], "bare": "5", "foreign": '{"name": "not a run"}',
               "scoreless": json.dumps(good | {"holdout_validation": {}}), "bytes": b"\xff\xfe"}[name]  # fmt: skip
    (folder / f"{name}.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


@pytest.mark.parametrize("name", ["cut", "bare", "foreign", "scoreless", "bytes"])
def test_a_record_that_is_not_a_run_summary_stops_the_ranking_with_its_file(tmp_path, capsys, name):
    """Findings 14 and 19: a foreign record was silently ignored, a cut or score-less one was a traceback."""
    folder = bad_records(tmp_path / "records", name)
    assert source_study.main(["--leave_source_out", "--rank", str(folder)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and f"{name}.json" in error and len(error.strip().splitlines()) == 1


@pytest.mark.parametrize("problem", ["missing folder", "empty folder"])
def test_ranking_nothing_is_an_error_not_an_empty_table(tmp_path, capsys, problem):
    folder = tmp_path / "records"
    if problem == "empty folder":
        folder.mkdir()
    assert source_study.main(["--leave_source_out", "--rank", str(folder)]) == 2
    assert "records" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["folds: [A\n", "", "folds: {A: [tweeteval]}\n", None, "directory"])
def test_a_bad_round_configuration_is_one_line(tmp_path, capsys, content):
    """Finding 19: --lso_config damaged, empty, without candidates, missing or a directory."""
    config = tmp_path / "round.yaml"
    if content == "directory":
        config.mkdir()
    elif content is not None:
        config.write_text(content)
    folder = bad_records(tmp_path / "records", "cut").parent / "records"
    (folder / "cut.json").unlink()
    assert source_study.main(["--leave_source_out", "--rank", str(folder), "--lso_config", str(config)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --lso_config") and len(error.strip().splitlines()) == 1


def test_rounds_three_and_four_are_printed_from_their_committed_records_and_the_published_configuration_follows():
    """Each round's choice is printed from its committed records alone; configs/train_full.yaml is what --publish
    writes for the latest round's choice (round 4: rule 6, where twelve-frames ties with twelve within the margin and
    the tie-break, held-out disguised validation, decides)."""
    round3 = REPO_ROOT / "configs" / "leave_source_out_round3.yaml"
    fixed3 = source_study.fixed_rule(round3)
    rows3 = source_study.load_records(REPO_ROOT / "results" / "leave-source-out-round3")
    assert source_study.chosen_candidate(rows3, fixed3) == "nine-t2-deobf"
    assert "**nine-t2-deobf**" in source_study.rank_table(rows3, fixed3)
    fixed4 = source_study.fixed_rule(ROUND4)
    rows4 = source_study.load_records(REPO_ROOT / "results" / "leave-source-out-round4")
    scores = source_study.rule6(rows4, fixed4)
    chosen = source_study.chosen_candidate(rows4, fixed4)
    assert chosen == "twelve-frames" and "**twelve-frames**" in source_study.rank_table(rows4, fixed4)
    best = max(scores, key=lambda name: scores[name]["rule6"])
    assert best == "twelve" and scores["twelve"]["rule6"] - scores[chosen]["rule6"] <= fixed4["tie_margin"]
    written = source_study.published_config(fixed4, chosen, ROUND4)
    assert yaml.safe_load(written) == yaml.safe_load((REPO_ROOT / "configs" / "train_full.yaml").read_text())


def test_a_run_summary_holds_the_rounds_goals_read_from_the_published_runs_panel():
    row = source_study.summarize(REPO_ROOT / "results" / "eight-t2-seed42")
    assert row["hatecheck_worst_identity"] == ["disabled people", 0.613]  # HateCheck's own, not HatemojiBuild's
    assert row["hatecheck_spelling"]["spell_space_add_h"] == 0.145 and len(row["hatecheck_spelling"]) == 5
    assert len(row["hatecheck_functionalities"]) == 29 and row["hatecheck_functionalities"]["negate_neg_nh"] == 0.278
    assert row["run"] == "eight-t2-seed42" and row["tweeteval_test"] == pytest.approx(0.5722, abs=1e-4)


ROUND4 = REPO_ROOT / "configs" / "leave_source_out_round4.yaml"


def record6(candidate: str, fold: str, f1: float, mentions: float) -> dict:
    """A round-4 fold record: every source of the fold at macro-F1 ``f1``, the group mentions (RedditBias'
    non-hateful rows, the one-label replies) at accuracy ``mentions``."""
    folds = source_study.fixed_rule(ROUND4)["folds"]
    rates = {source: {"non_hateful_accuracy": mentions if source in ("redditbias", "intervention") else 0.5,
                      "pred_hate_rate": 0.4, "true_hate_rate": 0.0 if source == "intervention" else 0.4}
             for source in folds[fold]}  # fmt: skip
    return record(candidate, fold, f1) | {
        "holdout_validation": dict.fromkeys(folds[fold], f1),
        "holdout_validation_perturbed": dict.fromkeys(folds[fold], f1 - 0.1),
        "holdout_validation_rates": rates,
    }


def test_rule6_weighs_group_mentions_and_refuses_a_candidate_that_trades_away_finding_hate():
    """Synthetic records whose winner differs under rule 5 and rule 6, and one candidate that rule 6 would rank
    first but whose held-out macro-F1 falls more than 0.02 below the incumbent's."""
    fixed = source_study.fixed_rule(ROUND4)
    scores = {"nine-deobf": (0.70, 0.40), "twelve": (0.69, 0.60), "eleven-mention": (0.66, 0.95),
              "twelve-frames": (0.695, 0.45)}  # fmt: skip
    rows = [record6(name, fold, *values) for name, values in scores.items() for fold in "ABC"]
    rule6 = source_study.rule6(rows, fixed)
    # (a): the eleven two-label sources (not the replies); (b): RedditBias' and the replies' non-hateful accuracy.
    assert rule6["twelve"]["f1"] == pytest.approx(0.69) and rule6["twelve"]["mentions"] == pytest.approx(0.60)
    assert rule6["twelve"]["rule6"] == pytest.approx((0.69 + 0.60) / 2)
    assert rule6["eleven-mention"]["rule6"] > rule6["twelve"]["rule6"] and not rule6["eleven-mention"]["eligible"]
    assert source_study.choose(source_study.rule5(rows, fixed), fixed["candidates"], fixed["tie_margin"]) == (
        "nine-deobf")  # fmt: skip
    assert source_study.chosen_candidate(rows, fixed) == "twelve"
    table = source_study.rank_table(rows, fixed)
    assert "Chosen by rule 6" in table and "**twelve**" in table and "| eleven-mention | A,B,C | " in table
    assert "**no**" in table.split("| eleven-mention |")[1].split("\n")[0]  # shown ineligible
    # Without the incumbent's folds nothing is eligible or chosen.
    partial = source_study.rule6([row for row in rows if row["candidate"] != "nine-deobf"], fixed)
    assert all(entry["eligible"] is None for entry in partial.values())
    assert source_study.chosen_candidate([r for r in rows if r["run"] != "twelve-without-C-seed42"], fixed) is None
    # A tie within the margin goes to the higher held-out disguised score.
    tied = [record6("nine-deobf", f, 0.70, 0.40) for f in "ABC"] + [record6("twelve", f, 0.69, 0.60) for f in "ABC"]
    tied += [record6("eleven-mention", f, 0.694, 0.598) for f in "ABC"] + [
        record6("twelve-frames", f, 0.60, 0.40) for f in "ABC"]  # fmt: skip
    assert source_study.chosen_candidate(tied, fixed) == "eleven-mention"


def test_round_four_folds_cover_the_twelve_sources_once_and_name_runnable_candidates():
    fixed = source_study.fixed_rule(ROUND4)
    names = [name for fold in fixed["folds"].values() for name in fold]
    assert len(names) == len(set(names)) == 12 and set(fixed["mention_sources"]) <= set(names)
    from transformers import HfArgumentParser

    from hatespeech.data.loading import DataArguments

    for flags in fixed["flags"].values():  # every candidate's flags parse as train.py's data options
        *_, unknown = HfArgumentParser(DataArguments).parse_args_into_dataclasses(flags, return_remaining_strings=True)
        assert unknown == []
