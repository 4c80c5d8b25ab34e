"""TweetEval hate metric as an `evaluate` module, loaded from this folder (works offline).

The headline score is TweetEval's official one: the macro average F1 of scikit-learn's
``classification_report``, exactly as TweetEval's evaluation script computes it for ``hate``.
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score

_CITATION = """\
@inproceedings{barbieri2020tweeteval,
  title={{TweetEval}: Unified Benchmark and Comparative Evaluation for Tweet Classification},
  author={Barbieri, Francesco and Camacho-Collados, Jose and Espinosa Anke, Luis and Neves, Leonardo},
  booktitle={Findings of EMNLP 2020}, year={2020}
}
"""

_DESCRIPTION = """\
Binary hate-speech scores for TweetEval `hate` (0 = not-hate, 1 = hate): macro-F1 (the official
TweetEval score), accuracy, per-class precision/recall/F1, the confusion matrix cells, ROC-AUC when
hate scores are given, and the predicted-hate rate beside the true hate rate.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: predicted label ids (0 or 1).
    references: true label ids (0 or 1).
    hate_scores: optional probability of "hate" per tweet, for ROC-AUC.
Returns:
    macro_f1, accuracy, {precision,recall,f1}_{not_hate,hate}, tn, fp, fn, tp,
    pred_hate_rate, true_hate_rate and, with hate_scores and both classes present, roc_auc.
"""

CLASS_KEYS = ("not_hate", "hate")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TweetevalMetric(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, hate_scores=None):
        labels = list(range(len(CLASS_KEYS)))
        report = classification_report(references, predictions, labels=labels, output_dict=True, zero_division=0)
        results = {
            "macro_f1": report["macro avg"]["f1-score"],
            "accuracy": float(np.mean(np.equal(predictions, references))),
        }
        for label, key in zip(labels, CLASS_KEYS, strict=True):
            for stat in ("precision", "recall", "f1"):
                results[f"{stat}_{key}"] = report[str(label)][f"{stat}-score" if stat == "f1" else stat]
        (tn, fp), (fn, tp) = confusion_matrix(references, predictions, labels=labels)
        results.update(tn=int(tn), fp=int(fp), fn=int(fn), tp=int(tp))
        results["pred_hate_rate"] = float(np.mean(np.equal(predictions, 1)))
        results["true_hate_rate"] = float(np.mean(np.equal(references, 1)))
        if hate_scores is not None and len(set(references)) == 2:
            results["roc_auc"] = float(roc_auc_score(references, hate_scores))
        return results
