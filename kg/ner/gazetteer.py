"""The gazetteer: every Chinese label and alias of the ontology, matched exactly in the text.

Patterns come from the ontology through `kg.ontology_patterns.v1` at initialize. Matching works on
the characters of `doc.text`, not on tokens, so that a name is found whatever the segmenter.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from spacy.util import registry

from kg.ontology import Ontology, load_ontology
from kg.output import pickled

# Names of this length or shorter are too ambiguous to match (a one-character alias).
MIN_NAME = 2


@registry.misc("kg.ontology_patterns.v1")
def ontology_patterns(path: Path | str | None, exclude_docs: Sequence[str] = ()) -> list[dict]:
    """One pattern per (Chinese name, NER label), with the concept IRI as its id when unique.

    `exclude_docs` drops corpus-derived concepts read only from these documents (for CV).
    """
    if path is None:
        return []
    onto = load_ontology(Path(path))
    if exclude_docs:
        onto = onto.without_documents(exclude_docs)
    return cached_patterns(onto)


def cached_patterns(onto: Ontology) -> list[dict]:
    """`patterns_from(onto)`, kept beside the ontology's own cache when it was read from a folder:
    an extraction process then starts without making them (a fifth of a second)."""
    if onto.cache is None:
        return patterns_from(onto)
    folder, key = onto.cache
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return pickled(folder, "patterns", f"{key}-{code}", lambda: patterns_from(onto))


def patterns_from(onto: Ontology) -> list[dict]:
    """Patterns of an Ontology object, sorted by name and label (a name shared by two concepts of one
    label gets an empty id: the linker decides)."""
    owners: dict[tuple[str, str], list[str]] = defaultdict(list)
    levels: dict[tuple[str, str], set[int]] = defaultdict(set)
    codes: dict[tuple[str, str], set[str]] = defaultdict(set)
    full: set[tuple[str, str]] = set()  # names that are some owner's official name, not a short form
    for iri in sorted(onto.concepts):
        c = onto.concepts[iri]
        for name in dict.fromkeys(c.names):
            name = name.strip()
            if len(name) < MIN_NAME:
                continue
            key = (name, c.label)
            owners[key].append(iri)
            if c.level is not None:
                levels[key].add(c.level)
            codes[key].add(c.code or iri.rsplit("/", 1)[-1])
            if name == c.pref.strip() or len(name) >= len(c.pref.strip()):
                full.add(key)
    out = []
    for (name, label), iris in sorted(owners.items()):
        key = (name, label)
        pattern = {"label": label, "pattern": name, "id": iris[0] if len(iris) == 1 else ""}
        if levels.get(key):
            pattern["level"] = min(levels[key])
            pattern["codes"] = sorted(codes[key])
            if key not in full:
                pattern["short"] = True
        out.append(pattern)
    return out


def local_patterns(patterns: Iterable[dict], home_regions: Sequence[str]) -> list[dict]:
    """Patterns without the short forms of county-level and lower divisions outside the home regions
    (division-code prefixes, e.g. "22" for Jilin): 新建 (新建区, Nanchang), 太平, 和平 and 光明 are
    common words in a Jilin paper far more often than places. Full names stay (新建区, 和平区), and
    so do short forms of provinces and prefectures (湖南, 长春). No home regions: no filtering."""
    if not home_regions:
        return list(patterns)
    home = tuple(home_regions)
    out = []
    for p in patterns:
        if p.get("short") and int(p.get("level", 0) or 0) >= 3 and not any(c.startswith(home) for c in p.get("codes", ())):
            continue
        out.append(p)
    return out


class Gazetteer:
    """Exact string matching of many names: a dict from the first two characters to name lengths."""

    def __init__(self, patterns: Iterable[dict] = ()) -> None:
        self.entries: dict[str, list[tuple[str, str, int]]] = {}
        self._lengths: dict[str, list[int]] = {}
        self.add(patterns)

    def add(self, patterns: Iterable[dict]) -> None:
        for p in patterns:
            name = p["pattern"]
            if not isinstance(name, str) or len(name) < MIN_NAME:
                continue
            entry = (p["label"], p.get("id", "") or "", int(p.get("level", 0) or 0))
            found = self.entries.setdefault(name, [])
            if entry not in found:
                found.append(entry)
                found.sort()
        lengths: dict[str, set[int]] = defaultdict(set)
        for name in self.entries:
            lengths[name[:2]].add(len(name))
        self._lengths = {k: sorted(v, reverse=True) for k, v in lengths.items()}

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def get(self, name: str) -> list[tuple[str, str, int]]:
        return self.entries.get(name, [])

    def matches(self, text: str) -> list[tuple[int, int, str, str, int]]:
        """(start, end, label, id, level) of every name found, overlapping ones included."""
        out = []
        lengths = self._lengths
        entries = self.entries
        size = len(text)
        for i in range(size - 1):
            ls = lengths.get(text[i : i + 2])
            if ls is None:
                continue
            for n in ls:
                if i + n > size:
                    continue  # a slice past the end is shorter than n: it would match a shorter name
                found = entries.get(text[i : i + n])
                if found:
                    for label, iri, level in found:
                        out.append((i, i + n, label, iri, level))
        return out

    def to_patterns(self) -> list[dict]:
        out = []
        for name in sorted(self.entries):
            for label, iri, level in self.entries[name]:
                p = {"label": label, "pattern": name, "id": iri}
                if level:
                    p["level"] = level
                out.append(p)
        return out
