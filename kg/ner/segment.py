"""Dictionary words of a text as (start, end): jieba's segmentation without HMM, in one pass.

jieba's `Tokenizer.tokenize(text, HMM=False)` builds, for each block of Chinese characters, a dict
of the dictionary words that start at each character (`get_DAG`), then the best route by scores
that a generator of tuples and a logarithm per word compute (`calc`), and yields strings whose
lengths give the offsets. The same route comes out of one right-to-left pass here, with each
word's log-probability computed once: the same arithmetic and the same ties (an equal score goes
to the longer word), hence the same words, at about three times the speed.
"""

from __future__ import annotations

import re
from math import log

# a run of these, one character per word, is one word (jieba's re_eng)
LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NONE: tuple[bool, dict] = (False, {})  # a character that no dictionary entry starts with
# jieba's blocks (`jieba.re_han_default`), so that the same words come out; written out here because
# importing jieba (pkg_resources with it) costs an extraction process 0.15 s at start
# (tests/test_ner.py holds it to jieba's)
BLOCKS = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)", re.U)


class Segmenter:
    """jieba's words (no HMM) of a text, as offsets, from the dictionary of a jieba Tokenizer."""

    def __init__(self, words: dict[str, tuple[float | None | bool, dict[str, float | None]]], unknown: float) -> None:
        self.blocks = BLOCKS
        # by first character: the character's own entry (False: none), and the longer entries that
        # start with it. jieba's dictionary holds every prefix of a word (None), and a word has its
        # log-probability. A text asks some 2 entries per character: in one dict of half a million
        # most of the time went to memory; in a small dict per character it takes a sixth less.
        self.words = words
        self.unknown = unknown  # the score of a character that starts no word

    @staticmethod
    def scores(tokenizer) -> tuple[dict[str, tuple[float | None | bool, dict[str, float | None]]], float]:
        """The words and unknown score of a jieba Tokenizer's dictionary, for `Segmenter(*scores)`."""
        tokenizer.check_initialized()
        logtotal = log(tokenizer.total)
        own: dict[str, float | None] = {}
        longer: dict[str, dict[str, float | None]] = {}
        for w, freq in tokenizer.FREQ.items():
            logp = log(freq) - logtotal if freq else None
            if len(w) == 1:
                own[w] = logp
            elif w:
                longer.setdefault(w[0], {})[w] = logp
        words = {ch: (own.get(ch, False), longer.get(ch, {})) for ch in sorted(own.keys() | longer.keys())}
        return words, log(1) - logtotal

    def __call__(self, text: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        pos = 0
        for m in self.blocks.finditer(text):
            a, b = m.span()
            _other(text, pos, a, out)
            self._block(text[a:b], a, out)
            pos = b
        _other(text, pos, len(text), out)
        return out

    def _block(self, block: str, offset: int, out: list[tuple[int, int]]) -> None:
        """The words of a block of Chinese characters, letters and digits (jieba's cut_block)."""
        n = len(block)
        firsts = self.words
        unknown = self.unknown
        score = [0.0] * (n + 1)  # the best route's score from each character to the end
        end = [0] * n  # where the first word of that route ends
        for k in range(n - 1, -1, -1):
            logp, words = firsts.get(block[k], _NONE)
            if logp is False:  # the character starts no dictionary word
                score[k] = unknown + score[k + 1]
                end[k] = k + 1
                continue
            best = None if logp is None else logp + score[k + 1]
            best_end = i = k + 1
            while i < n:
                i += 1
                logp = words.get(block[k:i], False)
                if logp is False:  # block[k:i] starts no dictionary word
                    break
                if logp is not None and (best is None or logp + score[i] >= best):
                    best, best_end = logp + score[i], i
            score[k] = unknown + score[k + 1] if best is None else best
            end[k] = best_end
        x = 0
        run = -1  # start of a run of single letters and digits
        while x < n:
            y = end[x]
            if y - x == 1 and block[x] in LETTERS:
                if run < 0:
                    run = x
            else:
                if run >= 0:
                    out.append((offset + run, offset + x))
                    run = -1
                out.append((offset + x, offset + y))
            x = y
        if run >= 0:
            out.append((offset + run, offset + n))


def _other(text: str, start: int, stop: int, out: list[tuple[int, int]]) -> None:
    """Outside the blocks every character is a word, but \\r\\n is one (jieba's re_skip)."""
    i = start
    while i < stop:
        if text[i] == "\r" and i + 1 < stop and text[i + 1] == "\n":
            out.append((i, i + 2))
            i += 2
        else:
            out.append((i, i + 1))
            i += 1
