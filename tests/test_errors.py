from hatespeech.errors import first_line


def test_first_line_never_raises():
    assert first_line(ValueError("bad\nmore")) == "bad"
    assert first_line(ValueError("\n  \n second")) == "second"
    assert first_line(ValueError("")) == first_line(ValueError("\n")) == "ValueError"
    assert first_line(OSError()) == "OSError"
