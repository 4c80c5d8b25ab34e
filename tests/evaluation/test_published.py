"""Exactly one published run, named alike by results/README.md and README.md, trained with configs/train_full.yaml
(finding 13: results/README.md still called a replaced configuration the published one)."""

import json
import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a run records beside the options of the configuration file: where it read the sources on its machine, where
# it wrote, and for whom.
RUN_ONLY = {"sources_dir", "output_dir", "report_to"}


def test_one_published_run_named_alike_and_trained_with_the_published_configuration():
    results = (REPO_ROOT / "results" / "README.md").read_text(encoding="utf-8")
    (published,) = re.findall(r"^The published run: `([\w.-]+)/`", results, flags=re.M)
    assert len(re.findall(r"is the published", results)) == 0  # no second claimant
    assert f"results/{published}/" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    recorded = yaml.safe_load((REPO_ROOT / "results" / published / "run_config.yaml").read_text())
    configured = yaml.safe_load((REPO_ROOT / "configs" / "train_full.yaml").read_text())
    assert {k: v for k, v in configured.items() if k not in RUN_ONLY} == {
        k: recorded.get(k) for k in configured if k not in RUN_ONLY
    }


TWEETEVAL = REPO_ROOT.parent / "shared" / "tweeteval" / "hate"
PUBLISHED_PREDICTIONS = sorted((REPO_ROOT / "results").glob("*/predictions_*.txt"))


@pytest.mark.skipif(not TWEETEVAL.is_dir(), reason="needs TweetEval's label files in ../shared/tweeteval/hate")
@pytest.mark.parametrize("path", PUBLISHED_PREDICTIONS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_published_predictions_file_rescores_to_its_reported_macro_f1_against_tweeteval_labels(path):
    """From the outside: TweetEval's own label file and its metric written by hand, not the project's code."""
    from conftest import tweeteval_macro_f1

    split = path.stem.removeprefix("predictions_")
    gold = [int(line) for line in (TWEETEVAL / f"{'val' if split == 'validation' else split}_labels.txt").open()]
    predicted = [int(line) for line in path.open()]
    reported = json.loads((path.parent / "eval_results.json").read_text())[split]["macro_f1"]
    assert tweeteval_macro_f1(gold, predicted) == pytest.approx(reported, abs=1e-9)


def test_every_published_panel_reads_back_as_the_typed_result_and_writes_the_same_json():

    from hatespeech.evaluation.panel_result import PanelResult

    for path in sorted((REPO_ROOT / "results").glob("*/panel.json")):
        data = json.loads(path.read_text())
        panel = PanelResult.from_dict(data)
        assert panel.to_dict() == data, path
        assert panel.validation_mean_macro_f1 == data["validation_mean_macro_f1"]


def test_two_published_panels_compare_side_by_side(tmp_path, capsys):
    """scripts/compare_panels.py: the incumbent against a new configuration, per functionality and identity."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("compare_panels", REPO_ROOT / "scripts" / "compare_panels.py")
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    panels = [str(REPO_ROOT / "results" / name / "panel.json") for name in ("full-seed42", "eight-t2-seed42")]
    assert compare.main([*panels, "--names", "before,after", "--plot", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out
    assert "| `spell_space_add_h` | 0.035 | 0.145 | +0.110 |" in out  # weakest of the first model first
    assert "| hatecheck | disabled people | - | 0.613 |" in out and (tmp_path / "f.png").stat().st_size > 10_000
    assert compare.main([panels[0], str(tmp_path / "missing.json")]) == 2


def test_a_comparison_kept_in_the_run_folder_shows_in_its_card_and_its_model_tab(tmp_path, capsys):
    """--into keeps the replaced configuration's panel beside the run's own: the card and the demo show both, and a
    new panel removes the plot that was drawn from the old one."""
    import importlib.util
    import shutil

    from hatespeech.evaluation.card import render_card
    from hatespeech.run_folder import COMPARED, COMPARED_PLOT, RunFolder
    from hatespeech.serving.ui import model_report

    spec = importlib.util.spec_from_file_location("compare_panels", REPO_ROOT / "scripts" / "compare_panels.py")
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    run = tmp_path / "run"
    shutil.copytree(REPO_ROOT / "results" / "eight-t2-seed42", run)
    previous = str(REPO_ROOT / "results" / "full-seed42" / "panel.json")
    # The second panel must be the folder's own.
    with pytest.raises(SystemExit):
        compare.main([previous, previous, "--into", str(run)])
    assert compare.main([previous, str(run / "panel.json"), "--names", "full,eight-t2", "--into", str(run)]) == 0
    assert (run / COMPARED).is_file() and (run / COMPARED_PLOT).stat().st_size > 10_000
    row = "| `spell_space_add_h` | 0.035 | 0.145 | +0.110 |"
    card = str(render_card(RunFolder(run)))
    assert "### Against the configuration it replaced" in card and row in card and f"]({COMPARED_PLOT})" in card
    markdown, plots = model_report(str(run), None)
    assert "**Against the configuration it replaced**" in markdown and row in markdown
    assert "| hatecheck | disabled people | - | 0.613 |" in markdown
    assert Path(plots[-1]).name == "hatecheck_compared.png"
    RunFolder(run).write_panel(json.loads((run / "panel.json").read_text()))
    assert not (run / COMPARED_PLOT).exists() and row in str(render_card(RunFolder(run)))


def test_the_card_and_the_model_tab_open_with_what_the_model_catches_and_wrongly_flags_beside_the_model_it_replaced(
    tmp_path,
):
    """Read from the two panel files directly: the plain sentences and the small table say what the panels hold."""
    import importlib.util
    import shutil

    from hatespeech.evaluation.card import render_card
    from hatespeech.run_folder import RunFolder
    from hatespeech.serving.ui import model_report

    spec = importlib.util.spec_from_file_location("compare_panels", REPO_ROOT / "scripts" / "compare_panels.py")
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    run = tmp_path / "run"
    shutil.copytree(REPO_ROOT / "results" / "eight-t2-seed42", run)
    previous = REPO_ROOT / "results" / "full-seed42" / "panel.json"
    assert compare.main([str(previous), str(run / "panel.json"), "--names", "full,eight-t2", "--into", str(run)]) == 0
    card = str(render_card(RunFolder(run)))
    glance = card[card.index("## At a glance") : card.index("## Intended use")]
    own, old = json.loads((run / "panel.json").read_text()), json.loads(previous.read_text())
    hatecheck = own["hatecheck"]
    worst_nh = sorted((v, k) for k, v in hatecheck["functionalities"].items() if k.endswith("_nh"))[0]
    assert f"**What it catches.** {hatecheck['hateful']:.0%} of HateCheck's hateful test cases" in glance
    assert f"It calls {1 - hatecheck['non_hateful']:.0%} of HateCheck's non-hateful cases hate" in glance
    assert f"(`{worst_nh[1]}`, {1 - worst_nh[0]:.0%} called hate)" in glance.split("cases hate, most often ")[1][:120]
    assert (
        f"| **this model (seed 42)** | {own['test']['tweeteval']['macro_f1']:.3f} | {hatecheck['hateful']:.3f} | "
        f"{hatecheck['non_hateful']:.3f} |" in glance
    )
    assert (
        f"| the model it replaced (`full`) | {old['test']['tweeteval']['macro_f1']:.3f} | "
        f"{old['hatecheck']['hateful']:.3f} | {old['hatecheck']['non_hateful']:.3f} |" in glance
    )
    assert "| Google Jigsaw Perspective (HateCheck's authors) | not measured | 0.895 | 0.482 |" in glance
    assert "](plots/hatecheck_compared.png)" in glance
    markdown, _ = model_report(str(run), None)
    assert markdown.index("**At a glance**") < markdown.index("**Evaluation panel**")
    assert f"| the model it replaced (`full`) | {old['test']['tweeteval']['macro_f1']:.3f} |" in markdown
    # A run without HateCheck (a fold run's validation-only panel) has nothing to glance at.
    del own["hatecheck"], own["identities"]
    (run / "panel.json").write_text(json.dumps(own))
    (run / "panel_compared.json").unlink()
    assert "## At a glance" not in str(render_card(RunFolder(run)))
