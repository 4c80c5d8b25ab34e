from hatespeech.text import normalize_tweet


def test_handles_links_and_whitespace_are_normalised():
    raw = "@Bob_99 look\tat  https://t.co/abc123 and www.example.org/x  \n"
    assert normalize_tweet(raw) == "@user look at http and http"


def test_email_addresses_and_tweeteval_text_are_left_alone():
    assert normalize_tweet("mail me: a@b.com") == "mail me: a@b.com"
    assert normalize_tweet("@user @user already normalised http") == "@user @user already normalised http"


def test_emoji_and_right_to_left_text_survive():
    assert normalize_tweet("  مرحبا 😎 #LongHashtagForTesting ") == "مرحبا 😎 #LongHashtagForTesting"
