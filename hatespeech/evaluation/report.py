"""Scoring a model on one split: TweetEval scores, TweetEval-format predictions, plots, leaderboard."""

import numpy as np

from hatespeech import HATE, LABEL_NAMES
from hatespeech.evaluation.metrics import score
from hatespeech.run_folder import RunFolder

# TweetEval leaderboard, hate, test macro-F1 (x100), as published by TweetEval.
LEADERBOARD = (
    ("BERTweet", 56.4),
    ("TimeLMs-2021", 55.1),
    ("LSTM", 52.6),
    ("RoBERTa-Retrained", 52.3),
    ("FastText", 50.6),
    ("RoBERTa-Base", 46.6),
    ("SVM (always not-hate)", 36.7),
)


def write_report(run: RunFolder, split: str, references, probabilities: np.ndarray) -> dict:
    """Score the argmax labels, then write the split's scores, predictions file and plots; returns the scores."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    label_ids = probabilities.argmax(-1)
    scores = score(list(references), label_ids.tolist(), probabilities[:, HATE].tolist())
    run.add_scores(split, scores)
    run.write_predictions(split, label_ids)
    plot_all(run, split, np.asarray(references), probabilities, scores)
    return scores


def leaderboard_table(name: str, macro_f1: float) -> str:
    """Markdown table placing ``name`` among the TweetEval hate leaderboard rows."""
    rows = sorted([*LEADERBOARD, (f"**{name}** (this model)", round(100 * macro_f1, 1))], key=lambda r: -r[1])
    lines = ["| model | test macro-F1 |", "|---|---|"]
    lines += [f"| {model} | {value:.1f} |" for model, value in rows]
    return "\n".join(lines)


def plot_all(run: RunFolder, split: str, references: np.ndarray, probabilities: np.ndarray, scores: dict) -> None:
    """Confusion matrix, precision-recall curve and reliability diagram of one split as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    hate = probabilities[:, HATE]

    fig, ax = plt.subplots(figsize=(4, 4))
    matrix = np.array([[scores["tn"], scores["fp"]], [scores["fn"], scores["tp"]]])
    ax.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        dark = count > matrix.max() / 2  # white on the dark cells, black on the light ones
        ax.text(col, row, str(count), ha="center", va="center", color="white" if dark else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=LABEL_NAMES, yticklabels=LABEL_NAMES)
    ax.set(xlabel="predicted", ylabel="true", title=f"{split}: macro-F1 {scores['macro_f1']:.3f}")
    _save(fig, run.plot(split, "confusion_matrix"))

    fig, ax = plt.subplots(figsize=(5, 4))
    if len(set(references.tolist())) == 2:
        precision, recall, _ = precision_recall_curve(references, hate)
        ax.plot(recall, precision)
    ax.axhline(scores["true_hate_rate"], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="recall (hate)", ylabel="precision (hate)", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"{split}: precision-recall, hate class")
    ax.legend()
    _save(fig, run.plot(split, "precision_recall"))

    fig, ax = plt.subplots(figsize=(5, 4))
    bins = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(hate, bins) - 1, 0, 9)
    centers, observed = [], []
    for b in range(10):
        mask = which == b
        if mask.any():
            centers.append(hate[mask].mean())
            observed.append(references[mask].mean())
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(centers, observed, "o-", label="model")
    ax.set(xlabel="predicted P(hate)", ylabel="observed hate rate", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(f"{split}: reliability diagram")
    ax.legend()
    _save(fig, run.plot(split, "reliability"))


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
