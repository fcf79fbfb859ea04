"""Data the rules read at initialize: the grammar lexicon, a real surname list, a word dictionary.

Nothing here names a concept. The surname list is the 百家姓 shipped by jionlp; the word
dictionary (words with part-of-speech tags) is jieba's; the grammar is `lexicon.toml`.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import tomllib
import zipfile
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from spacy.util import registry

from kg.errors import ConfigError
from kg.output import pickled

DEFAULT_LEXICON = Path(__file__).with_name("lexicon.toml")
T = TypeVar("T")


@registry.misc("kg.lexicon.v1")
def grammar_lexicon(path: Path | str | None = None) -> dict:
    """The grammar lexicon (suffixes, heads, cues) as a plain dict."""
    return load_lexicon(Path(path) if path else DEFAULT_LEXICON)


def load_lexicon(path: Path) -> dict:
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the NER lexicon ({err.strerror}).") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML in the NER lexicon: {err}.") from err


@registry.misc("kg.surnames.v1")
def surnames(source: str = "jionlp") -> list[str]:
    """Chinese surnames, single and double, from a list shipped by a package (sorted)."""
    if source != "jionlp":
        raise ConfigError(f"surname source {source!r} is unknown; valid sources: jionlp.")
    return sorted(_jionlp_surnames())


@lru_cache(maxsize=1)
def _jionlp_surnames() -> frozenset[str]:
    # jionlp's rule_pattern.py assigns SINGLE_CHINESE_FAMILY_NAME twice: the 百家姓, then a
    # subset without ambiguous characters. We want the full list, so we read the module's source
    # instead of importing it (an import also prints a banner and loads much more).
    spec = importlib.util.find_spec("jionlp")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the surname list needs the package jionlp; install it with `pip install jionlp`.")
    source = Path(next(iter(spec.submodule_search_locations))) / "rule" / "rule_pattern.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    single: set[str] = set()
    double: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("SINGLE_CHINESE_FAMILY_NAME", "TWO_CHAR_CHINESE_FAMILY_NAME"):
                value = ast.literal_eval(node.value)
                if name.startswith("SINGLE"):
                    single.update(value)
                else:
                    double.update(v for v in value.split("|") if v)
    if len(single) < 100:
        raise ConfigError(f"{source}: found only {len(single)} surnames; the jionlp version is not supported.")
    return frozenset(single | double)


@lru_cache(maxsize=1)
def idioms() -> frozenset[str]:
    """Chinese idioms (成语) from the dictionary shipped by jionlp: a quoted idiom is a figure of
    speech, rarely the name of an initiative."""
    spec = importlib.util.find_spec("jionlp")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the idiom list needs the package jionlp; install it with `pip install jionlp`.")
    # jionlp ships the list zipped and unzips it beside the zip on its first import, which a
    # fresh install has not done yet: read the zip itself
    path = Path(next(iter(spec.submodule_search_locations))) / "dictionary" / "chinese_idiom.zip"
    try:
        with zipfile.ZipFile(path) as archive:
            lines = archive.read("chinese_idiom.txt").decode("utf-8").splitlines()
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise ConfigError(f"{path}: cannot read jionlp's idiom list ({err}).") from err
    return frozenset(line.split("\t", 1)[0] for line in lines if line.strip())


def _jieba_dict() -> Path:
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the NER needs the package jieba; install it with `pip install jieba`.")
    return Path(next(iter(spec.submodule_search_locations))) / "dict.txt"


def _disk_cached(name: str, make: Callable[[], T], source: Path) -> T:
    """`make()`, remembered in the user's cache folder (XDG_CACHE_HOME or ~/.cache, `kg/`) while
    `source` and this code are unchanged: every extraction process starts without re-reading
    jieba's 350k-word dictionary (1.2 s, 0.4 s from the cache). Without a writable cache folder,
    `make()` each time."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(name.encode())
    for f in (source, here / "lexicon.py"):
        st = f.stat()
        h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kg"
    return pickled(root, name, h.hexdigest()[:16], make)


def _read_tags(path: Path) -> dict[str, str]:
    tags: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3:
                tags[parts[0]] = parts[2]
    return tags


@lru_cache(maxsize=1)
def word_tags() -> dict[str, str]:
    """jieba's dictionary: word → part-of-speech tag (n, v, ns, nr, nt …)."""
    path = _jieba_dict()
    return _disk_cached("word-tags", lambda: _read_tags(path), path)


def word_reach(words: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
    """The length of the longest dictionary word by its first two characters, and by its last two:
    most positions of a text start or end no word of two characters or more, and one look-up says
    so where the words dictionary would be asked once per length."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for w in words:
        n = len(w)
        if n >= 2:
            if n > first.get(w[:2], 0):
                first[w[:2]] = n
            if n > last.get(w[-2:], 0):
                last[w[-2:]] = n
    return first, last


@lru_cache(maxsize=1)
def word_reaches() -> tuple[dict[str, int], dict[str, int]]:
    """`word_reach` of jieba's dictionary (`word_tags`), kept on disk beside it: made, it costs an
    extraction process half a second at start."""
    return _disk_cached("word-reach", lambda: word_reach(word_tags()), _jieba_dict())


@lru_cache(maxsize=1)
def word_segmenter() -> Callable[[str], list[tuple[int, int]]]:
    """jieba's segmentation without HMM over its own dictionary, as (start, end) offsets.

    rjieba (jieba-rs, the Rust port) finds the same route over the same 349,045 words as
    `jieba.Tokenizer.tokenize(text, HMM=False)` (tests/test_ner.py holds it to jieba's words) at
    four times the speed of the one-pass Python route kg had, and keeps no Python dict of the
    dictionary; it takes longer to start (0.20 s, where that route's scores took 0.12 s to read
    from the cache)."""
    try:
        import rjieba
    except ImportError as err:
        raise ConfigError("the NER needs the package rjieba; install it with `pip install rjieba`.") from err
    tokenize = rjieba.Jieba().tokenize

    def words(text: str) -> list[tuple[int, int]]:
        return [(s, e) for _, s, e in tokenize(text, hmm=False)]

    return words
