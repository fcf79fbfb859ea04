"""The ontology as kg reads it: concepts with IRIs, NER labels, Chinese labels and aliases.

Everything named here comes from Turtle files in `ontology/`; no concept name is written in Python.
The files are parsed with pyoxigraph (fast, with line numbers in its errors); the result is cached
on disk by the files' content hash, so a build pays for parsing once.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from kg.errors import OntologyError
from kg.output import pickled, pickled_path

KGO = "https://w3id.org/kg/ontology#"
KGR = "https://w3id.org/kg/id/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SCHEMA = "https://schema.org/"
ORG = "http://www.w3.org/ns/org#"
PROV = "http://www.w3.org/ns/prov#"

_PREF = SKOS + "prefLabel"
_ALT = SKOS + "altLabel"
_HIDDEN = SKOS + "hiddenLabel"
_SUBCLASS = RDFS + "subClassOf"
_CONTAINED = SCHEMA + "containedInPlace"
_SUBORG = ORG + "subOrganizationOf"
_SERVES = KGO + "servesPlace"
_LEVEL = KGO + "adminLevel"
_CODE = KGO + "divisionCode"
_FULL = KGO + "fullName"
_NER_LABEL = KGO + "nerLabel"
_DERIVED = PROV + "wasDerivedFrom"
_CACHE_VERSION = "2"  # bump when Ontology gains a field: old pickles lack it


@dataclass(slots=True)
class Concept:
    """A node of the ontology, as the NER and the linker need it."""

    iri: str
    cls: str  # its kgo class IRI
    label: str  # NER label: PERSON, ORG, PLACE, PROGRAMME, POLICY
    pref: str  # skos:prefLabel@zh: the full official name
    alts: tuple[str, ...] = ()
    place: str | None = None  # schema:containedInPlace
    org: str | None = None  # org:subOrganizationOf
    serves: str | None = None  # kgo:servesPlace
    level: int | None = None  # kgo:adminLevel, for administrative divisions
    code: str | None = None
    full_name: str | None = None
    derived_from: tuple[str, ...] = ()  # documents a corpus-derived concept was read from

    @property
    def names(self) -> tuple[str, ...]:
        """Every Chinese name of the concept: prefLabel first, then aliases."""
        return (self.pref, *self.alts)


@dataclass(slots=True)
class Ontology:
    """All concepts, with indexes by name and by parent."""

    concepts: dict[str, Concept]
    class_labels: dict[str, str]  # class IRI → NER label
    by_name: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    home: list[str] = field(default_factory=list)  # the region the ontology is about, finest first
    # where `load_ontology` keeps it and under which key: what is made from it can be kept beside it
    cache: tuple[Path, str] | None = None

    def __post_init__(self) -> None:
        names: dict[str, list[str]] = defaultdict(list)
        kids: dict[str, list[str]] = defaultdict(list)
        for iri in sorted(self.concepts):
            c = self.concepts[iri]
            for name in dict.fromkeys(c.names):
                names[name].append(iri)
            for parent in (c.place, c.org):
                if parent:
                    kids[parent].append(iri)
        self.by_name = dict(names)
        self.children = dict(kids)
        self.home = self._home_region()

    def _home_region(self) -> list[str]:
        """The places most curated bodies serve: the region this ontology is about, finest first."""
        counts: Counter = Counter()
        for c in self.concepts.values():
            if c.label == "ORG" and c.serves:
                for p in [c.serves, *self.ancestors(c.serves)]:
                    counts[p] += 1
        if not counts:
            return []
        top = max(counts.values())
        region = [p for p, n in counts.items() if n * 4 >= top]
        return sorted(region, key=lambda p: -(self.concepts[p].level or 0) if p in self.concepts else 0)

    def rank(self, c: Concept, places: Sequence[str]) -> tuple:
        """How well a concept agrees with salient places (an article's, else the home region):
        in them at all, in the home region, nearest to the most salient, how many, coarser, IRI."""
        up = set(self.ancestors(c.iri)) | {c.iri, c.serves or ""}
        hits = [n for n, p in enumerate(places) if p in up]
        return (
            bool(hits),
            sum(1 for h in self.home if h in up),
            -min(hits) if hits else -99,
            len(hits),
            -(c.level or 9),  # a coarser division is the likelier reading of a bare name
            c.iri,
        )

    def place_prefix(self, name: str) -> Concept | None:
        """The place a name starts with (铁西区环卫站 → 四平市铁西区), the home region's homonym first."""
        for end in range(min(len(name) - 1, 12), 1, -1):
            found = self.lookup(name[:end], "PLACE")
            if found:
                return max(found, key=lambda c: self.rank(c, self.home))
        return None

    def lookup(self, name: str, label: str | None = None) -> list[Concept]:
        """Concepts with this exact name (and NER label, when given), sorted by IRI."""
        found = [self.concepts[i] for i in self.by_name.get(name, ())]
        return [c for c in found if label is None or c.label == label]

    def ancestors(self, iri: str) -> list[str]:
        """Places (and parent bodies) above a concept, nearest first."""
        out: list[str] = []
        seen = {iri}
        c = self.concepts.get(iri)
        while c is not None:
            parent = c.place or c.org or c.serves
            if parent is None or parent in seen:
                break
            out.append(parent)
            seen.add(parent)
            c = self.concepts.get(parent)
        return out

    def without_documents(self, doc_ids: Iterable[str]) -> Ontology:
        """A copy without the corpus-derived concepts read only from these documents (for CV)."""
        drop = {KGR + "doc/" + d for d in doc_ids}
        keep = {
            iri: c
            for iri, c in self.concepts.items()
            if not c.derived_from or not set(c.derived_from) <= drop
        }
        return Ontology(keep, self.class_labels)


def ontology_files(directory: Path) -> list[Path]:
    """The Turtle files of an ontology folder, sorted (SHACL shapes are not concepts)."""
    if not directory.is_dir():
        raise OntologyError(f"{directory}: no such ontology folder.")
    files = sorted(p for p in directory.glob("*.ttl") if not p.name.startswith("shapes"))
    if not files:
        raise OntologyError(f"{directory}: holds no .ttl files; an ontology needs at least schema.ttl.")
    return files


def load_ontology(directory: Path, *, cache_dir: Path | None = None) -> Ontology:
    """Read every `*.ttl` of the folder into an Ontology; errors name the file and line."""
    files, folder, key = _kept(directory, cache_dir)
    # a read-only ontology folder still works, only slower
    onto = pickled(folder, "ontology", key, lambda: _parse(files))
    onto.cache = (folder, key)
    return onto


def read_before(directory: Path) -> bool:
    """Whether the ontology in the folder, as its files are now, was read before and kept (in its
    `.cache`): it then loads without an error, and a build can load it later."""
    try:
        _, folder, key = _kept(directory, None)
    except OntologyError:
        return False
    return pickled_path(folder, "ontology", key).is_file()


def _kept(directory: Path, cache_dir: Path | None) -> tuple[list[Path], Path, str]:
    """The ontology's files, and the folder and key of its kept parse."""
    files = ontology_files(directory)
    digest = hashlib.sha256(_CACHE_VERSION.encode())
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return files, cache_dir or directory / ".cache", digest.hexdigest()[:20]


def _parse(files: list[Path]) -> Ontology:
    triples: list[tuple[str, str, object, Path]] = []
    for path in files:
        try:
            with path.open("rb") as fh:
                for quad in ox.parse(fh, format=ox.RdfFormat.TURTLE, base_iri=KGR):
                    triples.append((_term(quad.subject), quad.predicate.value, quad.object, path))
        except SyntaxError as err:
            line = f"line {err.lineno}" if getattr(err, "lineno", None) else "unknown line"
            raise OntologyError(f"{path}:{err.lineno or '?'}: malformed Turtle ({line}): {err.msg}") from err
        except UnicodeDecodeError as err:
            raise OntologyError(f"{path}: not UTF-8 ({err.reason}); Turtle files must be UTF-8.") from err

    subclass: dict[str, set[str]] = defaultdict(set)
    ner: dict[str, str] = {}
    declared: set[str] = set()
    for s, p, o, _ in triples:
        if p == _SUBCLASS and isinstance(o, ox.NamedNode):
            subclass[s].add(o.value)
        elif p == _NER_LABEL and isinstance(o, ox.Literal):
            ner[s] = o.value
        elif p == RDF_TYPE and isinstance(o, ox.NamedNode) and o.value in (OWL_CLASS, RDFS + "Class"):
            declared.add(s)
    class_labels = {c: lab for c in declared | set(ner) if (lab := _class_label(c, subclass, ner))}
    if not class_labels:
        raise OntologyError(f"{files[0].parent}: no class carries kgo:nerLabel; is schema.ttl missing?")

    props: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    where: dict[str, Path] = {}
    for s, p, o, path in triples:
        props[s][p].append(o)
        if p == RDF_TYPE:
            where.setdefault(s, path)

    concepts: dict[str, Concept] = {}
    for iri in sorted(props):
        types = [o.value for o in props[iri].get(RDF_TYPE, ()) if isinstance(o, ox.NamedNode)]
        ours = [t for t in types if t.startswith(KGO)]
        if not ours or iri in declared or any(t in (OWL_CLASS, RDFS + "Class") for t in types):
            continue
        typed = [t for t in ours if t in class_labels]
        if not typed:
            if any(t in declared or t in subclass for t in ours):
                continue  # an instance of a schema class that is not an entity (an Article, a Statement)
            raise OntologyError(
                f"{_at(where[iri], ours[0].removeprefix(KGO))}: {iri} has type {ours[0]}, which is not a class of the schema; "
                f"valid classes: {', '.join(sorted(c.removeprefix(KGO) for c in class_labels))}."
            )
        cls = max(typed, key=lambda t: len(_ancestors(t, subclass)))
        pref = _zh(props[iri].get(_PREF, ()))
        if not pref:
            raise OntologyError(f"{_at(where[iri], _local(iri))}: {iri} has no skos:prefLabel@zh; every concept needs one.")
        alts = tuple(sorted({a for a in _zh_all(props[iri].get(_ALT, ())) if a != pref[0]}))
        concepts[iri] = Concept(
            iri=iri,
            cls=cls,
            label=class_labels[cls],
            pref=pref[0],
            alts=alts,
            place=_iri(props[iri].get(_CONTAINED)),
            org=_iri(props[iri].get(_SUBORG)),
            serves=_iri(props[iri].get(_SERVES)),
            level=int(lv[0].value) if (lv := props[iri].get(_LEVEL)) else None,
            code=c[0].value if (c := props[iri].get(_CODE)) else None,
            full_name=f[0].value if (f := props[iri].get(_FULL)) else None,
            derived_from=tuple(sorted(o.value for o in props[iri].get(_DERIVED, ()) if isinstance(o, ox.NamedNode))),
        )
    _check_aliases(concepts, where)
    return Ontology(concepts, class_labels)


def _check_aliases(concepts: dict[str, Concept], where: dict[str, Path]) -> None:
    """An alias claimed by two nodes under one parent cannot be told apart by any context."""
    owners: dict[tuple[str, str, str | None], str] = {}
    for iri, c in sorted(concepts.items()):
        for alt in c.alts:
            key = (alt, c.label, c.place or c.org or c.serves)
            other = owners.setdefault(key, iri)
            if other != iri and not concepts[other].derived_from and not c.derived_from:
                raise OntologyError(
                    f"{_at(where[iri], chr(34) + alt + chr(34))}: alias {alt!r} is claimed by {other} and {iri}, which share a parent; "
                    "give the alias to one of them only."
                )


def _local(iri: str) -> str:
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _at(path: Path, needle: str) -> str:
    """`file:line` of the last line that holds the term an error is about (Turtle has no positions
    after parsing, so the text is searched; the file alone when the term is not found)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return str(path)
    hits = [n for n, line in enumerate(lines, 1) if needle in line]
    return f"{path}:{hits[-1]}" if hits else str(path)


def _class_label(cls: str, subclass: dict[str, set[str]], ner: dict[str, str]) -> str | None:
    for c in [cls, *_ancestors(cls, subclass)]:
        if c in ner:
            return ner[c]
    return None


def _ancestors(cls: str, subclass: dict[str, set[str]]) -> list[str]:
    out, todo = [], sorted(subclass.get(cls, ()))
    while todo:
        c = todo.pop(0)
        if c not in out:
            out.append(c)
            todo.extend(sorted(subclass.get(c, ())))
    return out


def _term(node: object) -> str:
    return node.value if isinstance(node, ox.NamedNode) else f"_:{node}"


def _iri(objs: list | None) -> str | None:
    named = sorted(o.value for o in objs or () if isinstance(o, ox.NamedNode))
    return named[0] if named else None


def _zh(objs: Iterable) -> list[str]:
    return sorted(o.value for o in objs if isinstance(o, ox.Literal) and (o.language or "").startswith("zh"))


def _zh_all(objs: Iterable) -> list[str]:
    return [o.value for o in objs if isinstance(o, ox.Literal) and (o.language or "zh").startswith("zh")]
