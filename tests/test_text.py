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


# --- De-obfuscation (--deobfuscate) ----------------------------------------------------------------------


def test_known_disguises_are_undone():
    from hatespeech.text import deobfuscate

    disguised = {"i h4te j3ws": "i hate jews", "j e w s are": "jews are", "h.a.t.e them": "hate them",
                 "k-i-l-l all": "kill all", "n!gg3r": "nigger", "f4gg0t": "faggot", "g00d": "good",
                 "$lut mu$lim": "slut muslim", "haaaaate you": "haate you", "h\u200bate": "hate",
                 "K K K": "KKK"}  # fmt: skip
    assert {text: deobfuscate(text) for text in disguised} == disguised


def test_ordinary_text_is_left_alone():
    from hatespeech.text import deobfuscate

    ordinary = ["mp3 2nd 10k covid19 4ever 100k TRUTH4th #Dance4All", "$5 $AAPL $$above", "don't c u",
                "am I a fool", "them!http", "World War III and the KKK, www and xxx", "good too", "a@b.com @user",
                "👳🏾\u200d♂️ 🚴🏾\u200d♂️", "U.S. and e.g.", "مرحبا 😎"]  # fmt: skip
    assert [deobfuscate(text) for text in ordinary] == ordinary


def test_the_tokenizer_undoes_disguises_as_python_does():
    """deobfuscate (Python re) and the same rules inside tokenizer.json (Oniguruma) agree on generated strings."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hatespeech.text import deobfuscate, tweet_normalizer

    rules = tweet_normalizer(deobfuscated=True)
    pieces = st.sampled_from(["a", "e", "Z", "K", "I", "k", "4", "3", "1", "0", "5", "7", "!", "$", "@", "'",
                              " ", ".", "-", "*", "_", "\u200b", "\u200d", "aaa", "st", "http", "😀", "é",
                              "\n"])  # fmt: skip

    @settings(max_examples=3000, deadline=None)
    @given(st.lists(pieces, max_size=30).map("".join) | st.text(max_size=40))
    def agree(text):
        assert rules.normalize_str(text) == deobfuscate(normalize_tweet(text))

    agree()


def test_a_deobfuscating_tokenizer_is_saved_with_both_rule_sets(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from hatespeech.text import carries_deobfuscation, deobfuscate, with_tweet_normalizer

    base = AutoTokenizer.from_pretrained(tiny_model_dir)
    with_tweet_normalizer(base, max_length=48).save_pretrained(tmp_path / "plain")
    with_tweet_normalizer(base, max_length=48, deobfuscated=True).save_pretrained(tmp_path / "deobfuscating")
    plain, loaded = (AutoTokenizer.from_pretrained(tmp_path / name) for name in ("plain", "deobfuscating"))
    assert not carries_deobfuscation(plain) and carries_deobfuscation(loaded)
    raw = "@Someone i h4te j e w s https://t.co/x"
    assert loaded(raw)["input_ids"] == base(deobfuscate(normalize_tweet(raw)))["input_ids"]
    assert plain(raw)["input_ids"] == base(normalize_tweet(raw))["input_ids"]
