"""Tweet normalisation shared by training and every inference path.

TweetEval already ships its text with user handles replaced by ``@user``; applying the same
rule to raw tweets at inference time keeps serving inputs looking like training inputs.
Raw ``transformers.pipeline()`` users skip this step, so they should call
:func:`normalize_tweet` themselves for identical results.
"""

import re

# Tweets are at most 280 characters; the limit leaves room for other short texts.
MAX_TWEET_CHARS = 1000

_HANDLE = re.compile(r"(?<![\w@])@\w+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def normalize_tweet(text: str) -> str:
    """Map handles to ``@user``, links to ``http`` and collapse whitespace, as TweetEval does."""
    text = _URL.sub("http", text)
    text = _HANDLE.sub("@user", text)
    return _WHITESPACE.sub(" ", text).strip()
