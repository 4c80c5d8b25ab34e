"""The TweetEval metric module against golden values computed by hand."""

import pytest
from conftest import tweeteval_macro_f1
from sklearn.metrics import classification_report

from hatespeech.evaluation.metrics import score

# Class 0: tp 3, fp 1, fn 1 -> F1 6/8 = 0.75. Class 1: tp 1, fp 1, fn 1 -> F1 2/4 = 0.5. Macro: 0.625.
GOLD = [0, 0, 0, 0, 1, 1]
PREDICTED = [0, 0, 0, 1, 1, 0]


def test_golden_macro_f1_from_files(tmp_path):
    (tmp_path / "gold.txt").write_text("".join(f"{y}\n" for y in GOLD))
    (tmp_path / "predictions.txt").write_text("".join(f"{y}\n" for y in PREDICTED))
    gold = [int(x) for x in (tmp_path / "gold.txt").read_text().split()]
    predicted = [int(x) for x in (tmp_path / "predictions.txt").read_text().split()]
    scores = score(gold, predicted, [0.1, 0.2, 0.3, 0.6, 0.9, 0.4])
    assert scores["macro_f1"] == pytest.approx(0.625)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    # TweetEval's own script: the macro average of scikit-learn's classification_report.
    assert classification_report(gold, predicted, output_dict=True)["macro avg"]["f1-score"] == pytest.approx(0.625)
    assert tweeteval_macro_f1(gold, predicted) == pytest.approx(0.625)
    assert (scores["tp"], scores["fp"], scores["fn"], scores["tn"]) == (1, 1, 1, 3)
    assert scores["pred_hate_rate"] == pytest.approx(2 / 6) and scores["true_hate_rate"] == pytest.approx(2 / 6)
