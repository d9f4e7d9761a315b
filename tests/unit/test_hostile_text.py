"""The text no field may carry (domain/hostile_text.py)."""

from __future__ import annotations

from domain.hostile_text import (
    HAS_LONE_SURROGATE,
    HAS_NUL,
    MAX_ENTRIES,
    MAX_TEXT,
    TOO_LONG,
    TOO_MANY,
    json_problems,
    text_problem,
    unstorable,
)


def test_clean_text_of_any_script_passes() -> None:
    scripts = ("two books", "zwei Bücher", "两本书", "كتابان", "📚📚", "\u202etxt")
    for clean in (*scripts, "x" * MAX_TEXT):
        assert text_problem(clean) is None


def test_nul_surrogates_and_length_are_refused() -> None:
    assert text_problem("a\x00b") == HAS_NUL
    assert text_problem("a\ud800b") == HAS_LONE_SURROGATE
    assert text_problem("a\udfff") == HAS_LONE_SURROGATE
    assert text_problem("x" * (MAX_TEXT + 1)) == TOO_LONG
    assert unstorable("x" * (MAX_TEXT + 1)) is None  # length is the edge's rule, not storage's


def test_json_problems_name_the_path_never_the_value() -> None:
    value = {
        "ok": "fine",
        "nested": {"list": ["fine", "bad\x00"]},
        "bad\x00key": "v",
        "many": list(range(MAX_ENTRIES + 1)),
    }
    assert sorted(json_problems(value)) == [
        ("", f"a key {HAS_NUL}"),
        ("many", TOO_MANY),
        ("nested.list[1]", HAS_NUL),
    ]
    assert json_problems({"a": [1, 2.5, None, True, {"b": "c"}]}) == []
