"""Target-title leak checks: does a text name a hidden target? Find the span, or redact it.

A title leaks when its words appear in the text in order (after the same normalisation as catalog title
lookup), or nearly so (rapidfuzz ratio over a window of the same length, for typos and small changes).
A short one-word title ("Up", "Her") only counts when written with its capital letter, so ordinary
words do not read as leaks.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

from crs_agent.knowledge import normalize_title

__all__ = ["TitleGuard"]

FUZZY_MIN = 88.0  # rapidfuzz ratio (0-100) above which a window of words is the title with a typo
_ARTICLES = frozenset({"the", "a", "an"})
_WORD = re.compile(r"[A-Za-z0-9\u00C0-\u024F]+(?:'[A-Za-z]+)?")


def _numbers(text: str) -> list[str]:
    """Sequels differ by a number only ("Toy Story 2" / "3"): fuzzy matching must not merge them."""
    return re.findall(r"\d+", text)


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().lower().replace("'", "")


class TitleGuard:
    """Leak detection for one case's target titles (and their aliases)."""

    def __init__(self, titles: list[str]) -> None:
        self.titles: list[tuple[str, list[str]]] = []
        for title in dict.fromkeys(t for t in titles if t.strip()):
            words = normalize_title(title).split()
            if words:
                self.titles.append((title, words))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text`` that name one of the titles, in order, not overlapping."""
        tokens = [(m.start(), m.end(), _fold(m.group())) for m in _WORD.finditer(text)]
        found: list[tuple[int, int]] = []
        for title, words in self.titles:
            found += self._title_spans(text, tokens, title, words)
        merged: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def _title_spans(
        self, text: str, tokens: list[tuple[int, int, str]], title: str, words: list[str]
    ) -> list[tuple[int, int]]:
        n = len(words)
        target = " ".join(words)
        short = n == 1 and len(words[0]) <= 4
        out = []
        for i in range(len(tokens)):
            for size in [n] if short or n == 1 else [n, n - 1, n + 1]:  # the closest window wins
                window = tokens[i : i + size]
                if len(window) < size:
                    continue
                joined = " ".join(t[2] for t in window)
                if short:
                    hit = joined == target and text[window[0][0] : window[-1][1]][:1].isupper()
                else:
                    hit = joined == target or (
                        len(target) >= 6
                        and _numbers(joined) == _numbers(target)
                        and fuzz.ratio(joined, target) >= FUZZY_MIN
                    )
                if hit:
                    start = window[0][0]
                    if i > 0 and tokens[i - 1][2] in _ARTICLES:  # "The Dark Knight": the article goes too
                        start = tokens[i - 1][0]
                    out.append((start, window[-1][1]))
                    break
        return out

    def leaks(self, text: str) -> bool:
        return bool(self.spans(text))

    def redact(self, text: str, replacement: str = "that movie") -> str:
        """``text`` with every title span replaced (and doubled spaces tidied)."""
        for start, end in reversed(self.spans(text)):
            text = text[:start] + replacement + text[end:]
        return re.sub(r"\s{2,}", " ", text).strip()
