import json

import yaml

from hatespeech.evaluation.card import render_card
from hatespeech.run_folder import RunFolder


def test_card_renders_without_search_or_test_split(tmp_path):
    (tmp_path / "run_config.yaml").write_text(yaml.safe_dump({"model_name_or_path": "org/base", "seed": 3}))
    scores = {"validation": {"macro_f1": 0.61, "accuracy": 0.6, "f1_hate": 0.5, "pred_hate_rate": 0.4,
                             "true_hate_rate": 0.42}}  # fmt: skip
    (tmp_path / "eval_results.json").write_text(json.dumps(scores))
    card = render_card(RunFolder(tmp_path), "org/model")
    assert card.data.eval_results is None  # no test score: no model-index claim
    assert card.data.base_model == "org/base"
    assert "| validation | 0.6100 |" in card.text
    assert "No test score was recorded" in card.text
    assert "No hyperparameter search was run" in card.text
    assert "training wall time not recorded" in card.text
    assert "Decision threshold" not in card.text
    (tmp_path / "train_results.json").write_text(json.dumps({"decision_threshold": 0.62}))
    assert "at least 0.62, the value with the best validation macro-F1" in " ".join(
        render_card(RunFolder(tmp_path)).text.split()
    )


def test_card_with_search_summary(tmp_path):
    (tmp_path / "search").mkdir()
    summary = {"study_name": "s", "best_trial": 2, "best_value": 0.7, "best_params": {"learning_rate": 3e-5},
               "n_finished": 3, "importances": {"learning_rate": 1.0}}  # fmt: skip
    (tmp_path / "search" / "best_trial.json").write_text(json.dumps(summary))
    (tmp_path / "search" / "trials.csv").write_text("number,value\n0,0.6\n1,0.65\n2,0.7\n")
    text = render_card(RunFolder(tmp_path)).text
    assert " ".join(text.split()).count("Best trial #2 (validation macro-F1 0.7000)") == 1
    assert "`learning_rate=3e-05`" in text
    assert "min 0.6000, median 0.6500, max 0.7000 over 3 trials" in text
    assert "No evaluation results were recorded" in text


def test_the_card_names_the_identity_whose_non_hateful_mentions_it_flags_most(tmp_path):
    """A moderator reads the limitations: the worst identity (with enough cases to read a rate) is named."""

    def identity(name: str, n_non_hateful: int, false_positive_rate: float) -> dict:
        return {"source": "hatecheck", "identity": name, "n_hateful": 20, "n_non_hateful": n_non_hateful,
                "hateful_accuracy": 0.7, "non_hateful_accuracy": 1 - false_positive_rate,
                "false_positive_rate": false_positive_rate}  # fmt: skip

    identities = [identity("women", 40, 0.25), identity("Muslims", 45, 0.62), identity("trans people", 3, 1.0)]
    scores = {"macro_f1": 0.6, "roc_auc": 0.7, "pred_hate_rate": 0.4, "true_hate_rate": 0.4, "n": 100}
    panel = {"validation_mean_macro_f1": 0.6, "validation": {"tweeteval": scores}, "test": {},
             "identities": identities}  # fmt: skip
    (tmp_path / "panel.json").write_text(json.dumps(panel))
    text = " ".join(render_card(RunFolder(tmp_path)).text.split())
    # trans people's 3 cases are too few to rank; Muslims' 0.62 is the highest rate with enough cases.
    assert 'On hatecheck\'s non-hateful cases about Muslims, this model says "hate" 62% of the time (45 cases;' in text
    (tmp_path / "panel.json").write_text(json.dumps({**panel, "identities": []}))
    assert "Non-hateful text that names a group" not in render_card(RunFolder(tmp_path)).text


def test_the_card_names_each_sources_licence_and_warns_of_non_commercial_data(tmp_path):
    config = {"model_name_or_path": "org/base", "sources": ["davidson:6000", "redditbias", "intervention:6000"]}
    (tmp_path / "run_config.yaml").write_text(yaml.safe_dump(config))
    text = " ".join(render_card(RunFolder(tmp_path)).text.split())
    assert (
        "Licences of the data sets: davidson (MIT), redditbias (MIT), intervention (CC BY-NC 4.0, non-commercial)."
        in text
    )
    assert "**Non-commercial:** this model was trained on intervention, licensed for non-commercial use only" in text
    (tmp_path / "run_config.yaml").write_text(yaml.safe_dump({**config, "sources": ["edos"]}))
    text = " ".join(render_card(RunFolder(tmp_path)).text.split())
    assert "edos (CC0 1.0)" in text and "Non-commercial" not in text
