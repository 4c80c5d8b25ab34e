"""The one tweet module: what a tweet is, the streaming reader, and generated input that must never crash."""

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hatespeech.tweets import (
    MAX_FILE_TWEETS,
    MAX_TWEET_CHARS,
    TweetError,
    UploadTooLarge,
    check_tweet,
    read_records,
    read_upload,
    tweet_problem,
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hello", None),
        ("😀", None),
        ("", "is empty"),
        (" \t\n", "is empty"),
        ("\u200b\u200c\u2060", "is empty"),  # zero-width characters only
        ("\ufeff", "is empty"),  # a BOM only
        ("a\x00b", "contains a NUL byte"),
        ("ab\ud800cd", "is not valid UTF-8"),  # a lone surrogate
        ("x" * MAX_TWEET_CHARS, None),
        ("x" * (MAX_TWEET_CHARS + 1), f"is {MAX_TWEET_CHARS + 1} characters long; the limit is {MAX_TWEET_CHARS}"),
        (float("nan"), "is not a string"),
        (None, "is not a string"),
    ],
)
def test_tweet_problem(text, problem):
    assert tweet_problem(text) == problem


def _records(data: bytes, name: str, column: str = "text"):
    return [(r.line, r.text, r.error) for r in read_records(io.BytesIO(data), name, column)]


def test_csv_with_bom_crlf_quoted_newline_and_bad_rows():
    data = '\ufeffid,text\r\n1,"two\nlines"\r\n2,"=HYPERLINK(""x"")"\r\n3\r\n4,\xe9t\xe9\r\n'.encode() + b"5,\xff\r\n"
    assert _records(data, "t.csv") == [
        (2, "two\nlines", None),  # a quoted newline is one tweet; the next record starts two lines later
        (4, '=HYPERLINK("x")', None),
        (5, None, "has 1 fields; the header has 2"),
        (6, "été", None),
        (7, None, "is not valid UTF-8"),
    ]


def test_csv_without_the_column_names_the_columns_found():
    with pytest.raises(TweetError, match=r"no 'text' column; the columns are \['id', 'body'\]"):
        _records(b"id,body\n1,hi\n", "t.csv")


def test_txt_and_jsonl_lines():
    assert _records(b"a\r\n\r\n\xef\xbb\xbf\r\nok\xed\xa0\x80\n", "t.txt") == [
        (1, "a", None),
        (2, None, "is empty"),
        (3, None, "is empty"),
        (4, None, "is not valid UTF-8"),  # an encoded surrogate is not UTF-8
    ]
    lines = [json.dumps({"text": "ab\ud800cd"}), '{"text": NaN}', "[1]", "{oops", json.dumps({"text": "fine"})]
    assert _records("\n".join(lines).encode(), "t.jsonl") == [
        (1, None, "is not valid UTF-8"),
        (2, None, "has no string 'text' field"),
        (3, None, "has no string 'text' field"),
        (4, None, "is not valid JSON (Expecting property name enclosed in double quotes)"),
        (5, "fine", None),
    ]


def test_unknown_file_type_and_upload_limits():
    with pytest.raises(TweetError, match="expected a .txt, .csv, .jsonl file"):
        _records(b"x", "t.xlsx")
    with pytest.raises(UploadTooLarge, match="tweets; the limit is"):
        read_upload(b"a\n" * (MAX_FILE_TWEETS + 1), "t.txt")
    with pytest.raises(TweetError, match="file holds no tweets"):
        read_upload(b"\n \n", "t.txt")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_is_either_a_tweet_or_a_tweet_error(text):
    try:
        assert check_tweet(text) == text
    except TweetError as err:
        assert str(err).startswith("tweet ")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["t.txt", "t.csv", "t.jsonl"]))
def test_any_bytes_read_as_records_or_one_file_error(data, name):
    try:
        records = list(read_records(io.BytesIO(data), name))
    except TweetError:
        return  # a CSV whose header has no text column
    for record in records:
        assert (record.text is None) != (record.error is None)
        if record.text is not None:
            assert tweet_problem(record.text) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=8))
def test_checked_tweets_never_fail_in_the_model(classifier, texts):
    good = [t for t in texts if tweet_problem(t) is None]
    predictions = classifier.classify(good)
    assert len(predictions) == len(good)
    assert all(abs(sum(p.probabilities.values()) - 1) < 1e-4 for p in predictions)


@pytest.fixture(scope="module")
def classifier(trained_model_dir):
    from hatespeech.inference.classifier import Classifier

    return Classifier(str(trained_model_dir), backend="fp32")


def test_a_text_of_combining_marks_alone_is_empty():
    """Finding 20: the tokenizer strips combining marks as accents, so such a text was scored as empty input."""
    from hatespeech.tweets import tweet_problem

    assert tweet_problem("\u0301\u0308\u20dd") == "is empty"
    assert tweet_problem("cafe\u0301") is None  # a mark on a letter is part of a word
