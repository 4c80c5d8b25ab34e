from hatespeech.text import normalize_tweet


def test_handles_links_and_whitespace_are_normalised():
    raw = "@Bob_99 look\tat  https://t.co/abc123 and www.example.org/x  \n"
    assert normalize_tweet(raw) == "@user look at http and http"


def test_email_addresses_and_tweeteval_text_are_left_alone():
    assert normalize_tweet("mail me: a@b.com") == "mail me: a@b.com"
    assert normalize_tweet("@user @user already normalised http") == "@user @user already normalised http"


def test_emoji_and_right_to_left_text_survive():
    assert normalize_tweet("  مرحبا 😎 #LongHashtagForTesting ") == "مرحبا 😎 #LongHashtagForTesting"


def test_the_tokenizer_normaliser_applies_the_same_rules():
    """normalize_tweet (Python re) and the rules inside tokenizer.json (Oniguruma) agree character for character."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hatespeech.text import tweet_normalizer

    rules = tweet_normalizer()
    corpus = ["@Bob_99 hi", "x@y.com @_a_", "https://t.co/a\u00a0next WWW.Foo.org/x HTTP://A", "\u200b\u3000@Ünï \r\n",
              "", "   ", "a\x1cb\x85c\u2028d", "@@bob", "Ｈello ＠user", "😀@x_1😀", "مرحبا @user http"]  # fmt: skip
    for text in corpus:
        assert rules.normalize_str(text) == normalize_tweet(text), repr(text)
    pieces = st.sampled_from(["@", "_", "a", "Z", "9", "http", "https://", "www.", "/", ".", " ", "\t", "\n", "\r",
                              "\x1c", "\x85", "\xa0", "\u2003", "\u200b", "\u3000", "é", "😀", "-"])  # fmt: skip

    @settings(max_examples=2000, deadline=None)
    @given(st.lists(pieces, max_size=25).map("".join) | st.text(max_size=40))
    def agree(text):
        assert rules.normalize_str(text) == normalize_tweet(text)

    agree()


def test_a_saved_tokenizer_carries_the_rules_and_loads_with_autotokenizer(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from hatespeech.text import carries_tweet_normalizer, with_tweet_normalizer

    base = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert not carries_tweet_normalizer(base)
    with_tweet_normalizer(base, max_length=48).save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert carries_tweet_normalizer(loaded) and loaded.model_max_length == 48
    raw = "@Someone go back https://t.co/x  now"
    assert loaded(raw)["input_ids"] == base(normalize_tweet(raw))["input_ids"]
