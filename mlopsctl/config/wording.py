"""Words of messages that read as English: the indefinite article before a kind known only at run time,
and alternatives listed as ``a, b or c``."""

from __future__ import annotations

import re
from collections.abc import Sequence

_LEAD = re.compile(r"[0-9]+|[A-Za-z]+")
_VOWELS = "aeiouy"
"""For telling a word from letters read one by one; ``y`` counts, as in "sky" or "hybrid"."""
_VOWEL_NAMED = "aefhilmnorsx"
"""Letters whose names start with a vowel sound: "ay", "ee", "ef", "aitch", "el", "ex"..."""
_ONSETS = {"f": "lr", "r": "h", "s": "chklmnpqtw"}
"""The consonants that start English words after a consonant of _VOWEL_NAMED ("float", "rhythm",
"string"); before any other consonant, that letter is read by its name ("xgboost", "mlflow")."""
_SOUNDING_Y_OR_W = ("eu", "one", "once", "uni", "us", "uti")
_SILENT_H = ("heir", "honest", "honor", "hour")


def one_of(items: Sequence[object]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    words = [str(i) for i in items]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def with_article(word: str) -> str:
    """``word`` after "a" or "an", chosen by the sound it starts with when read aloud.

    Only the leading run of digits or of letters counts:

    - digits are read as a number, which starts with a vowel sound as "eight…", "eleven…" or
      "eighteen…": "an 8x8", "an 80", "an 11", "an 18000", but "a 110", "a 1100", "a 16x16";
    - letters are read one by one when the run is a single letter, two or three capitals, has no
      vowel, or starts with two consonants no English word starts with: "an n1", "an SLO", "an HTTP",
      "an xgboost"; then "an" when the first letter's name starts with a vowel sound (A E F H I L M N
      O R S X; U is "you": "a URL");
    - any other run is read as a word: "an" before a vowel ("an onnx", "an ab", "an INTEGER"), except
      one that sounds "y" or "w" (eu, one, once, uni, us, uti: "a one-hot", "a unit", "a user",
      "a us-east1"), and before a silent h (heir, honest, honor, hour: "an hourly").

    Anything else (an empty word, punctuation first) takes "a".
    """
    lead = _LEAD.match(word)
    return f"{'an' if lead and _vowel_sound(lead[0]) else 'a'} {word}"


def _vowel_sound(run: str) -> bool:
    """Whether a run of digits or of letters, read aloud, starts with a vowel sound."""
    lower = run.lower()
    if run.isdigit():
        return run[0] == "8" or (len(run) % 3 == 2 and run[:2] in ("11", "18"))
    if _spelled(lower, run.isupper()):
        return lower[0] in _VOWEL_NAMED
    return lower.startswith(_SILENT_H) or (lower[0] in "aeiou" and not lower.startswith(_SOUNDING_Y_OR_W))


def _spelled(lower: str, capitals: bool) -> bool:
    """Whether a run of letters is read letter by letter (see ``with_article``)."""
    if len(lower) == 1 or (capitals and len(lower) <= 3) or not any(c in _VOWELS for c in lower):
        return True
    first, second = lower[0], lower[1]
    return first not in _VOWELS and second not in _VOWELS and second not in _ONSETS.get(first, "")
