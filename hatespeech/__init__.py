"""Hate-speech detection for tweets: TweetEval `hate` fine-tuning, evaluation, publishing, serving."""

LABEL_NAMES = ("not-hate", "hate")
ID2LABEL = dict(enumerate(LABEL_NAMES))
LABEL2ID = {name: i for i, name in ID2LABEL.items()}

__all__ = ["ID2LABEL", "LABEL2ID", "LABEL_NAMES"]
