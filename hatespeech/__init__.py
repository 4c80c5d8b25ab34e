"""Hate-speech detection for tweets: TweetEval `hate` fine-tuning, evaluation, publishing, serving."""

LABEL_NAMES = ("not-hate", "hate")
ID2LABEL = dict(enumerate(LABEL_NAMES))
LABEL2ID = {name: i for i, name in ID2LABEL.items()}
HATE = LABEL2ID["hate"]
NOT_HATE = LABEL2ID["not-hate"]

__all__ = ["HATE", "ID2LABEL", "LABEL2ID", "LABEL_NAMES", "NOT_HATE"]
