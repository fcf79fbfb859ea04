"""SHACL shapes compiled to SPARQL and run by pyoxigraph: the validator of large builds.

pySHACL checks one focus node at a time in Python over rdflib: about 15k triples a second, so
the million triples of a year of a newspaper take minutes. Here each constraint of a shape
becomes one SPARQL SELECT that returns the focus nodes (and values) breaking it, and
pyoxigraph's engine evaluates it over the whole graph at once: the seeds x200 (1.4 M triples)
are checked in seconds. The results are those pySHACL gives (tests/test_shacl.py compares the
two engines on every broken fixture and on real builds).

The SHACL Core components kg's shapes use are compiled, and a few more (see `_value_ok` and
`_property_checks`); SHACL-AF SPARQL targets (`sh:SPARQLTarget`) run as subqueries. A shapes file
with a component outside that set is refused with its name, never silently ignored.

    >>> store = load_store([Path("output/kg.ttl"), Path("output/mentions.trig")])  # doctest: +SKIP
    >>> results = validate_store(store, Path("ontology/shapes.ttl"))  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache, partial
from pathlib import Path

import pyoxigraph as ox

from kg.errors import ValidationError

SH = "http://www.w3.org/ns/shacl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
TYPE = f"<{RDF}type>"
SUBCLASS = f"<{RDFS}subClassOf>"

# the lexical forms a well-typed literal of these datatypes has (XML Schema 1.1, whitespace collapsed)
_LEXICAL = {
    XSD + "integer": r"^[+-]?[0-9]+$",
    XSD + "decimal": r"^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)$",
    XSD + "boolean": r"^(true|false|1|0)$",
}
_NODE_KIND = {
    "IRI": "isIRI({v})",
    "BlankNode": "isBlank({v})",
    "Literal": "isLiteral({v})",
    "BlankNodeOrIRI": "!isLiteral({v})",
    "BlankNodeOrLiteral": "!isIRI({v})",
    "IRIOrLiteral": "!isBlank({v})",
}
_COMPARE = {"minInclusive": ">=", "maxInclusive": "<=", "minExclusive": ">", "maxExclusive": "<"}
_PAIR = {"lessThan": "<", "lessThanOrEquals": "<="}
# what a shape may say besides its constraints
_ANNOTATIONS = {
    "path", "message", "severity", "name", "description", "order", "group", "deactivated", "targetClass",
    "targetNode", "targetSubjectsOf", "targetObjectsOf", "target", "declare", "prefixes", "defaultValue",
}
_ANNOTATION_IRIS = {RDF + "type", RDFS + "comment", RDFS + "label", RDFS + "seeAlso"}


@dataclass(frozen=True, slots=True)
class Check:
    """One compiled constraint: the query that lists what breaks it, and how to report it."""

    shape: str  # the IRI of the shape, "" for a blank node
    component: str  # e.g. "minCount"
    severity: str  # Violation, Warning or Info
    path: str  # the result path as text (compact), "" for a node shape
    message: str
    query: str  # SELECT ?this ?value
    target: str = ""  # the group of `query` that selects the focus nodes (its shape's targets), verbatim


@dataclass(frozen=True, slots=True)
class Finding:
    """One row of a check: the focus node and the offending value (when the component has one)."""

    check: Check
    focus: ox.NamedNode | ox.BlankNode
    value: ox.NamedNode | ox.BlankNode | ox.Literal | None


class _Shapes:
    """The shapes graph as subject -> predicate -> objects, with RDF lists read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.triples: dict = defaultdict(lambda: defaultdict(list))
        try:
            for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE):
                self.triples[q.subject][q.predicate.value].append(q.object)
        except (SyntaxError, OSError) as err:
            raise ValidationError(f"{path}: cannot read the shapes: {err}") from err

    def objects(self, s, local: str) -> list:
        return self.triples.get(s, {}).get(SH + local, [])

    def value(self, s, local: str):
        found = self.objects(s, local)
        return found[0] if found else None

    def list(self, node) -> list:
        out = []
        while node is not None and not (isinstance(node, ox.NamedNode) and node.value == RDF + "nil"):
            first = self.triples.get(node, {}).get(RDF + "first")
            if not first:
                raise ValidationError(f"{self.path}: {node} is not a well-formed RDF list")
            out.append(first[0])
            rest = self.triples[node].get(RDF + "rest")
            node = rest[0] if rest else None
        return out

    def name(self, node) -> str:
        return node.value if isinstance(node, ox.NamedNode) else ""

    def where(self, node) -> str:
        """How an error names a shape: its IRI, or the message of a blank one."""
        if isinstance(node, ox.NamedNode):
            return f"<{node.value}>"
        message = self.value(node, "message")
        return f"the shape {message.value!r}" if message is not None else "a blank shape"


def term(t) -> str:
    """A term in SPARQL syntax."""
    if isinstance(t, ox.NamedNode):
        return f"<{t.value}>"
    if isinstance(t, ox.Literal):
        text = t.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        if t.language:
            return f'"{text}"@{t.language}'
        return f'"{text}"^^<{t.datatype.value}>'
    raise ValidationError(f"a blank node ({t}) cannot be a constant of a shape")


class _Compiler:
    def __init__(self, shapes: _Shapes, subclasses) -> None:
        self.s = shapes
        self.subclasses = subclasses  # class IRI -> the IRIs of it and its subclasses in the data
        self.fresh = (f"?_v{i}" for i in itertools.count())
        self.prefixes: dict[str, str] = {}
        self._open: set = set()  # the shapes being compiled: a shape that refers to itself is refused
        self.owned = False  # the focus nodes only those marked in the graph `OWN` (`compile_breaches(owned=)`)
        self.own_classes: frozenset[str] | None = None  # the classes those may have, if known

    # -- paths, targets ---------------------------------------------------------------------

    def path(self, node) -> str:
        """The SPARQL property path of a sh:path."""
        if isinstance(node, ox.NamedNode):
            return f"<{node.value}>"
        if self.s.triples.get(node, {}).get(RDF + "first"):
            return "/".join(self.path(x) for x in self.s.list(node))
        for local, fmt in (("inversePath", "^({})"), ("zeroOrMorePath", "({})*"), ("oneOrMorePath", "({})+"), ("zeroOrOnePath", "({})?")):
            inner = self.s.value(node, local)
            if inner is not None:
                return fmt.format(self.path(inner))
        alternatives = self.s.value(node, "alternativePath")
        if alternatives is not None:
            return "(" + "|".join(self.path(x) for x in self.s.list(alternatives)) + ")"
        raise ValidationError(f"{self.s.path}: a sh:path the validator does not know: {node}")

    def hop(self, s: str, node, o: str) -> str:
        """Triple patterns from `s` along the sh:path `node` to `o`. A sequence path becomes a
        chain through fresh variables: pyoxigraph plans a chain well and a `a/b` path inside
        NOT EXISTS badly (a minute instead of a millisecond on the seeds x20)."""
        if not isinstance(node, ox.NamedNode) and self.s.triples.get(node, {}).get(RDF + "first"):
            steps = self.s.list(node)
            names = [s, *(next(self.fresh) for _ in steps[:-1]), o]
            return " ".join(self.hop(a, step, b) for a, step, b in zip(names, steps, names[1:]))
        return f"{s} {self.path(node)} {o} ."

    def path_text(self, node) -> str:
        from kg.query import compact

        if isinstance(node, ox.NamedNode):
            return compact(node.value)
        if self.s.triples.get(node, {}).get(RDF + "first"):
            return "/".join(self.path_text(x) for x in self.s.list(node))
        inverse = self.s.value(node, "inversePath")
        return f"^{self.path_text(inverse)}" if inverse is not None else "(complex path)"

    def instance_of(self, v: str, *classes: str) -> str:
        """A pattern true when `v` is an instance of one of the classes or of one of their subclasses."""
        c = next(self.fresh)
        values = " ".join(f"<{x}>" for x in sorted({x for cls in classes for x in self.subclasses(cls)}))
        return f"{v} {TYPE} {c} . VALUES {c} {{ {values} }}"

    def targets(self, shape) -> str | None:
        parts = []
        classes = [cls.value for cls in self.s.objects(shape, "targetClass")]
        # a class that is also a node shape targets its own instances (implicit class target)
        if self.s.triples.get(shape, {}).get(RDF + "type") and any(
            t.value == RDFS + "Class" for t in self.s.triples[shape][RDF + "type"]
        ):
            classes.append(shape.value)
        if self.owned and self.own_classes is not None:  # no focus node marked own is of the others
            classes = [cls for cls in classes if not self.own_classes.isdisjoint(self.subclasses(cls))]
        if classes:  # one pass over the types for all the classes (nif:String, nif:Phrase … share instances)
            parts.append(self.instance_of("?this", *classes))
        for node in self.s.objects(shape, "targetNode"):
            parts.append(f"VALUES ?this {{ {term(node)} }}")
        for p in self.s.objects(shape, "targetSubjectsOf"):
            parts.append(f"?this <{p.value}> {next(self.fresh)} .")
        for p in self.s.objects(shape, "targetObjectsOf"):
            parts.append(f"{next(self.fresh)} <{p.value}> ?this .")
        for target in self.s.objects(shape, "target"):
            select = self.s.value(target, "select")
            if select is None:
                raise ValidationError(f"{self.s.path}: {self.s.where(shape)}: a sh:target the validator does not know (only sh:SPARQLTarget)")
            for decl in self.s.objects(target, "prefixes"):
                for d in self.s.objects(decl, "declare"):
                    self.prefixes[self.s.value(d, "prefix").value] = self.s.value(d, "namespace").value
            parts.append(f"{{ {select.value} }}")
        if not parts:
            return None
        union = " UNION ".join(f"{{ {p} }}" for p in parts)
        if self.owned:
            union = f"{{ {union} }} {_OWNED}"
        return f"{{ SELECT DISTINCT ?this WHERE {{ {union} }} }}"

    # -- constraints ------------------------------------------------------------------------

    def _value_ok(self, shape, local: str, obj, v: str) -> str | None:
        """A SPARQL expression true when the value node `v` meets the component; None when
        `local` is not a component on single value nodes."""
        if local == "nodeKind":
            return _NODE_KIND[obj.value.removeprefix(SH)].format(v=v)
        if local == "datatype":
            ok = f"(isLiteral({v}) && datatype({v}) = <{obj.value}>"
            lexical = _LEXICAL.get(obj.value)
            return ok + (f' && REGEX(STR({v}), "{lexical}"))' if lexical else ")")
        if local == "class":
            return f"EXISTS {{ {self.instance_of(v, obj.value)} }}"
        if local == "in":
            return "(" + " || ".join(f"sameTerm({v}, {term(x)})" for x in self.s.list(obj)) + ")" if self.s.list(obj) else "false"
        if local == "hasValue":
            return f"sameTerm({v}, {term(obj)})"
        if local in ("minLength", "maxLength"):
            op = "<" if local == "minLength" else ">"
            return f"(!isBlank({v}) && !(STRLEN(STR({v})) {op} {int(obj.value)}))"
        if local == "pattern":
            flags = self.s.value(shape, "flags")
            extra = f", {term(ox.Literal(flags.value))}" if flags is not None else ""
            return f"(!isBlank({v}) && REGEX(STR({v}), {term(ox.Literal(obj.value))}{extra}))"
        if local == "languageIn":
            tags = " || ".join(f"langMatches(lang({v}), {term(ox.Literal(t.value))})" for t in self.s.list(obj))
            return f"(isLiteral({v}) && ({tags or 'false'}))"
        if local in _COMPARE:
            return f"COALESCE({v} {_COMPARE[local]} {term(obj)}, false)"
        if local == "node":
            return self.conforms(obj, v)
        if local == "not":
            return f"!({self.conforms(obj, v)})"
        if local in ("or", "and", "xone"):
            branches = [self.conforms(x, v) for x in self.s.list(obj)]
            if local == "or":
                return "(" + " || ".join(branches) + ")" if branches else "false"
            if local == "and":
                return "(" + " && ".join(branches) + ")" if branches else "true"
            return "((" + " + ".join(f"IF({b}, 1, 0)" for b in branches) + ") = 1)" if branches else "false"
        return None

    def conforms(self, shape, v: str) -> str:
        """A SPARQL expression true when node `v` conforms to `shape` (for sh:or, sh:node …)."""
        if shape in self._open:
            raise ValidationError(f"{self.s.path}: {self.s.where(shape)} refers to itself; recursive shapes are not validated")
        self._open.add(shape)
        try:
            parts = []
            path = self.s.value(shape, "path")
            for local, obj in self._components(shape):
                if path is None:
                    ok = self._value_ok(shape, local, obj, v)
                    if ok is None:
                        raise ValidationError(f"{self.s.path}: {self.s.where(shape)}: sh:{local} is not validated inside another shape")
                    parts.append(ok)
                else:
                    parts.append(self._property_ok(shape, local, obj, v, path))
            for prop in self.s.objects(shape, "property"):
                parts.append(self.conforms(prop, v))
            return "(" + " && ".join(parts) + ")" if parts else "true"
        finally:
            self._open.discard(shape)

    def _property_ok(self, shape, local: str, obj, v: str, path) -> str:
        """A property constraint inside another shape, as an expression on the focus `v`."""
        w = next(self.fresh)
        ok = None if local == "hasValue" else self._value_ok(shape, local, obj, w)
        if ok is not None:
            return f"NOT EXISTS {{ {self.hop(v, path, w)} FILTER(!({ok})) }}"
        if local == "minCount" and int(obj.value) <= 1:
            return f"EXISTS {{ {self.hop(v, path, w)} }}" if int(obj.value) == 1 else "true"
        if local == "maxCount" and int(obj.value) == 0:
            return f"NOT EXISTS {{ {self.hop(v, path, w)} }}"
        if local == "hasValue":
            return f"EXISTS {{ {self.hop(v, path, term(obj))} }}"
        if local == "qualifiedValueShape":
            low = self.s.value(shape, "qualifiedMinCount")
            high = self.s.value(shape, "qualifiedMaxCount")
            if high is None and low is not None and int(low.value) <= 1:
                inner = self.conforms(obj, w)
                return f"EXISTS {{ {self.hop(v, path, w)} FILTER({inner}) }}" if int(low.value) == 1 else "true"
        raise ValidationError(f"{self.s.path}: {self.s.where(shape)}: sh:{local} is not validated inside another shape")

    def _components(self, shape) -> Iterator[tuple[str, object]]:
        for p, objs in sorted(self.s.triples.get(shape, {}).items()):
            if p in _ANNOTATION_IRIS or not p.startswith(SH):
                continue
            local = p.removeprefix(SH)
            if local in _ANNOTATIONS or local in ("property", "flags", "qualifiedMinCount", "qualifiedMaxCount", "qualifiedValueShapesDisjoint", "closed", "ignoredProperties"):
                continue
            for obj in objs:
                yield local, obj

    def _check(self, shape, component: str, path_node, query: str, *, owner=None, target: str = "") -> Check:
        owner = owner if owner is not None else shape
        severity = self.s.value(shape, "severity")
        message = self.s.value(shape, "message")
        return Check(
            shape=self.s.name(owner),
            component=component,
            severity=severity.value.removeprefix(SH) if severity is not None else "Violation",
            path="" if path_node is None else self.path_text(path_node),
            message=message.value if message is not None else f"does not meet sh:{component}",
            query=query,
            target=target if target in query else "",
        )

    def _target(self, shape) -> str | None:
        """The group selecting the focus nodes of a shape; None when it has no targets or is deactivated."""
        if _true(self.s.value(shape, "deactivated")):
            return None
        target = self.targets(shape)
        if target is not None and _true(self.s.value(shape, "closed")):
            raise ValidationError(f"{self.s.path}: {self.s.where(shape)}: sh:closed is not validated by this engine")
        return target

    def _node_oks(self, shape) -> list[tuple[str, str]]:
        """(component, expression true when the focus node ?this meets it) for a node shape's own constraints."""
        if self.s.value(shape, "path") is not None:
            return []
        oks = []
        for local, obj in self._components(shape):
            ok = self._value_ok(shape, local, obj, "?this")
            if ok is None:
                raise ValidationError(f"{self.s.path}: {self.s.where(shape)}: sh:{local} is not validated by this engine")
            oks.append((local, ok))
        return oks

    def _properties(self, shape) -> Iterator[tuple[object, object]]:
        """(property shape, its sh:path): the shape itself when it has a path, then its active sh:property shapes."""
        path = self.s.value(shape, "path")
        if path is not None:  # a property shape with targets of its own
            yield shape, path
        for prop in self.s.objects(shape, "property"):
            if _true(self.s.value(prop, "deactivated")):
                continue
            p = self.s.value(prop, "path")
            if p is None:
                raise ValidationError(f"{self.s.path}: {self.s.where(prop)}: a property shape without sh:path")
            yield prop, p

    def node_checks(self, shape) -> Iterator[Check]:
        """The checks of a shape with targets: its own constraints and those of its properties."""
        target = self._target(shape)
        if target is None:
            return
        for local, ok in self._node_oks(shape):
            yield self._check(shape, local, None, f"SELECT ?this ?value WHERE {{ {target} BIND(?this AS ?value) FILTER(!({ok})) }}", target=target)
        for prop, path in self._properties(shape):
            yield from self._property_checks(prop, target, path, owner=prop)

    def breach(self, shape) -> list[str] | None:
        """Graph patterns with a row when some focus node of `shape` breaks one of its constraints
        (None: the shape has no targets), for a check that asks only whether a small graph conforms
        (`_any_row` makes them one query).

        A query per constraint pays for its planning and selects the focus nodes again: on one
        document's graph that was most of the 7 ms of the 46 per-document checks. Here the tests
        on the values of one path share one pass (a value breaks the shape when it fails any of
        them), and the focus nodes are joined once with all the passes over values (and pairs of
        values); the counts of single-predicate paths share one grouping. A focus node without
        values is missing from a pass, so the counts, the node's own tests and the other
        constraints (with their own query) select the focus nodes themselves."""
        target = self._target(shape)
        if target is None:
            return None
        on_values, own = [], []
        counts = []  # (predicate, min, max) of the minCount and maxCount of single-predicate paths
        node_oks = [ok for _, ok in self._node_oks(shape)]
        if node_oks:
            own.append(f"{target} FILTER({_any_fails(node_oks)})")
        for prop, path in self._properties(shape):
            oks = []
            for local, obj in self._components(prop):
                ok = None if local == "hasValue" else self._value_ok(prop, local, obj, "?value")
                if ok is not None:
                    oks.append(ok)
                elif (pair := self._pair_pattern(local, obj, path)) is not None:
                    on_values.append(pair)
                elif local in ("minCount", "maxCount") and isinstance(path, ox.NamedNode):
                    n = str(int(obj.value))
                    counts.append((path.value, n, "UNDEF") if local == "minCount" else (path.value, "UNDEF", n))
                else:
                    query = self._property_query(prop, local, obj, target, path)
                    if query is not None:
                        own.append(f"{{ {query} }}")
            if oks:
                on_values.append(f"{self.hop('?this', path, '?value')} FILTER({_any_fails(oks)})")
        if on_values:
            own.insert(0, f"{target} {' UNION '.join(f'{{ {b} }}' for b in on_values)}")
        # a predicate whose only count is sh:minCount 1 is asked for one triple, as an anti-join: a
        # check over part of a graph then needs one such triple a subject (`read_predicates`)
        capped = {p for p, _, high in counts if high != "UNDEF"}
        for p, low, _ in counts:
            if low == "1" and p not in capped:
                own.append(f"{target} MINUS {{ ?this <{p}> ?_any }}")
        counts = [c for c in counts if not (c[1] == "1" and c[0] not in capped)]
        if counts:
            rows = " ".join(f"(<{p}> {low} {high})" for p, low, high in counts)
            predicates = " ".join(dict.fromkeys(f"<{p}>" for p, _, _ in counts))
            own.append(
                f"{target} VALUES (?_p ?_min ?_max) {{ {rows} }} OPTIONAL {{ SELECT ?this ?_p (COUNT(DISTINCT ?_v) AS ?_n) "
                f"WHERE {{ ?this ?_p ?_v VALUES ?_p {{ {predicates} }} }} GROUP BY ?this ?_p }} "
                "FILTER((BOUND(?_min) && COALESCE(?_n, 0) < ?_min) || (BOUND(?_max) && COALESCE(?_n, 0) > ?_max))"
            )
        return own or None

    def _property_checks(self, shape, target: str, path_node, *, owner) -> Iterator[Check]:
        for local, obj in self._components(shape):
            q = self._property_query(shape, local, obj, target, path_node)
            if q is not None:
                yield self._check(shape, local, path_node, q, owner=owner, target=target)

    def _pair_pattern(self, local: str, obj, path_node) -> str | None:
        """For a component comparing the values of a path with those of a property of the focus
        node ?this (sh:disjoint, sh:lessThan …), the pattern of the pairs that break it; else None."""
        if local == "disjoint":
            return f"{self.hop('?this', path_node, '?value')} ?this <{obj.value}> ?value"
        if local in _PAIR:
            return f"{self.hop('?this', path_node, '?value')} ?this <{obj.value}> ?_w . FILTER(!COALESCE(?value {_PAIR[local]} ?_w, false))"
        return None

    def _property_query(self, shape, local: str, obj, target: str, path_node) -> str | None:
        """The query listing the focus nodes (of `target`) whose values along `path_node` break
        the component; None when the component asks nothing (sh:uniqueLang false …)."""
        hop = lambda s, o: self.hop(s, path_node, o)
        # sh:hasValue of a property: some value is it (of a node shape: the node is it)
        ok = None if local == "hasValue" else self._value_ok(shape, local, obj, "?value")
        if ok is not None:
            return f"SELECT ?this ?value WHERE {{ {target} {hop('?this', '?value')} FILTER(!({ok})) }}"
        if local in ("minCount", "maxCount"):
            n = int(obj.value)
            if local == "minCount" and n == 1:
                # MINUS is an anti-join; NOT EXISTS over a path of two steps is re-run per focus node
                return f"SELECT ?this WHERE {{ {target} MINUS {{ {hop('?this', '?_any')} }} }}"
            if local == "minCount":
                return (
                    f"SELECT ?this WHERE {{ {target} OPTIONAL {{ SELECT ?this (COUNT(DISTINCT ?_v) AS ?n) "
                    f"WHERE {{ {hop('?this', '?_v')} }} GROUP BY ?this }} FILTER(COALESCE(?n, 0) < {n}) }}"
                )
            return (
                f"SELECT ?this WHERE {{ {{ SELECT ?this (COUNT(DISTINCT ?_v) AS ?n) WHERE {{ {target} {hop('?this', '?_v')} }} "
                f"GROUP BY ?this }} FILTER(?n > {n}) }}"
            )
        if local == "hasValue":
            return f"SELECT ?this WHERE {{ {target} FILTER NOT EXISTS {{ {hop('?this', term(obj))} }} }}"
        if local == "uniqueLang":
            if not _true(obj):
                return None
            return (
                f"SELECT ?this WHERE {{ {{ SELECT ?this ?_l (COUNT(DISTINCT ?_v) AS ?n) WHERE {{ {target} {hop('?this', '?_v')} "
                f'BIND(LCASE(LANG(?_v)) AS ?_l) FILTER(?_l != "") }} GROUP BY ?this ?_l }} FILTER(?n > 1) }}'
            )
        if local == "equals":
            raise ValidationError(f"{self.s.path}: {self.s.where(shape)}: sh:equals is not validated by this engine")
        pair = self._pair_pattern(local, obj, path_node)
        if pair is not None:
            return f"SELECT ?this ?value WHERE {{ {target} {pair} }}"
        if local == "qualifiedValueShape":
            inner = self.conforms(obj, "?_v")
            low = self.s.value(shape, "qualifiedMinCount")
            high = self.s.value(shape, "qualifiedMaxCount")
            counted = (
                f"OPTIONAL {{ SELECT ?this (COUNT(DISTINCT ?_v) AS ?n) WHERE {{ {hop('?this', '?_v')} FILTER({inner}) }} GROUP BY ?this }}"
            )
            bad = []
            if low is not None:
                bad.append(f"COALESCE(?n, 0) < {int(low.value)}")
            if high is not None:
                bad.append(f"COALESCE(?n, 0) > {int(high.value)}")
            if not bad:
                return None
            return f"SELECT ?this WHERE {{ {target} {counted} FILTER({' || '.join(bad)}) }}"
        raise ValidationError(f"{self.s.path}: {self.s.where(shape)}: sh:{local} is not validated by this engine")


def _true(node) -> bool:
    return isinstance(node, ox.Literal) and node.value in ("true", "1")


def _any_fails(oks: Sequence[str]) -> str:
    """An expression true when one of `oks` is false, as `FILTER(!(ok))` lists a row when it is: an
    error in one (which lists nothing) does not hide another's failure, since `error || true` is true."""
    return " || ".join(f"!({ok})" for ok in oks)


PER_DOCUMENT = "https://w3id.org/kg/shapes#perDocument"

# The graph that marks a document's own IRIs (`(iri, OWN, OWN)`) for the shapes compiled with
# `owned=True`: those not selected by `per_document` run on these focus nodes only.
OWN = ox.NamedNode("urn:kg:shacl:own")
_OWNED = f"GRAPH <{OWN.value}> {{ ?this <{OWN.value}> <{OWN.value}> }}"


def _compiled(c: _Compiler, shapes: _Shapes, per_document: bool | None, owned: bool | Collection[str], compile_one) -> list:
    """`compile_one(shape)` for the shapes `per_document` selects, then, when `owned` (and
    `per_document` selects some only), for the others on the focus nodes marked in `OWN`: all
    of them (True), or those of these classes (a collection of class IRIs: no node marked own has
    another class, and a class target of none of them selects none)."""
    out = [x for shape in _roots(shapes, per_document) for x in compile_one(shape)]
    if owned and per_document is not None:
        c.owned = True
        c.own_classes = None if owned is True else frozenset(owned)
        try:
            out += [x for shape in _roots(shapes, not per_document) for x in compile_one(shape)]
        finally:
            c.owned, c.own_classes = False, None
    return out


def compile_shapes(path: Path, subclasses, *, per_document: bool | None = None, owned: bool | Collection[str] = False) -> list[Check]:
    """Every constraint of the shapes with targets in `path`, as SPARQL checks.

    `per_document`: True, only the shapes marked `kgsh:perDocument true`; False, only the others;
    None, all. `owned`: and the shapes it leaves out too, on the focus nodes marked in the graph
    `OWN` only (a document's own IRIs, kg.validate.owner); a collection of class IRIs: the only
    classes those nodes have (`_compiled`).
    """
    shapes = _Shapes(path)
    c = _Compiler(shapes, subclasses)
    checks = _compiled(c, shapes, per_document, owned, c.node_checks)
    head = _prefix_lines(c)
    return [Check(x.shape, x.component, x.severity, x.path, x.message, head + x.query, x.target) for x in checks]


def compile_breaches(path: Path, subclasses, *, per_document: bool | None = None, one: bool = False, owned: bool | Collection[str] = False) -> list[str]:
    """The shapes with targets in `path` as a few SPARQL queries, one a shape, each with a row when
    something breaks it (`_Compiler.breach`): a graph conforms when none returns a row, as when
    none of `compile_shapes`'s checks does. For small graphs, where a query per constraint costs
    more than its work (a document's, kg.validate.DocumentCheck); `per_document` and `owned` as there.

    `one`: all the shapes in a single query (a union of theirs), for a graph checked with no
    thread to spare: on a document of the seeds, 7.1 ms to parse, plan and run instead of 7.4 for
    the five of the per-document shapes."""
    shapes = _Shapes(path)
    c = _Compiler(shapes, subclasses)
    breaches = [b for b in _compiled(c, shapes, per_document, owned, lambda shape: [c.breach(shape)]) if b is not None]
    queries = [_any_row([p for b in breaches for p in b])] if one and breaches else [_any_row(b) for b in breaches]
    head = _prefix_lines(c)
    return [head + q for q in queries]


def _any_row(patterns: Sequence[str]) -> str:
    """A query with a row when one of the graph patterns has one."""
    return f"SELECT ?this WHERE {{ {' UNION '.join(f'{{ {p} }}' for p in patterns)} }} LIMIT 1"


def breaks(store: ox.Store, query: str) -> bool:
    """Whether a query of `compile_breaches` has a row in the store (the union of its graphs): some
    focus node breaks its shape. True for a query that is not valid SPARQL (a broken sh:select):
    the checks of `compile_shapes` then say which shape."""
    try:
        return next(iter(store.query(query, use_default_graph_as_union=True)), None) is not None
    except SyntaxError:
        return True


def _roots(shapes: _Shapes, per_document: bool | None) -> list:
    """The node and property shapes of the file, sorted (blank ones last); `per_document` as in `compile_shapes`."""
    kinds = {SH + "NodeShape", SH + "PropertyShape"}
    return sorted(
        (
            s
            for s, po in shapes.triples.items()
            if any(t.value in kinds for t in po.get(RDF + "type", []))
            and (per_document is None or per_document == any(_true(t) for t in po.get(PER_DOCUMENT, [])))
        ),
        key=lambda s: (isinstance(s, ox.BlankNode), str(s)),
    )


def _prefix_lines(c: _Compiler) -> str:
    """The PREFIX lines of the namespaces the shapes' SPARQL targets declare."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(c.prefixes.items()))


def load_store(files: Sequence[Path], extra: Iterable[ox.Triple] = ()) -> ox.Store:
    """An in-memory store of the files (Turtle into the default graph, TriG with its graphs)."""
    from kg.query import _FORMAT_OF

    store = ox.Store()
    for f in files:
        fmt = _FORMAT_OF.get(f.suffix, ox.RdfFormat.TURTLE)
        try:
            # `load`, not `bulk_load`: into a store in memory it is as fast or faster, and holds less
            # while it parses (x200's kg.ttl: 179 MB instead of 278; mentions.trig: 335 MB instead of 556)
            if fmt in (ox.RdfFormat.TRIG, ox.RdfFormat.N_QUADS):
                store.load(path=str(f), format=fmt)
            else:
                store.load(path=str(f), format=fmt, to_graph=ox.DefaultGraph())
        except (SyntaxError, OSError, ValueError) as err:
            raise ValidationError(f"{f}: not valid RDF: {err}") from err
    add_triples(store, extra)
    return store


def add_triples(store: ox.Store, triples: Iterable[ox.Triple]) -> None:
    """Triples into the store's default graph."""
    store.extend([ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples])


def subclass_closure(store: ox.Store):
    """class IRI -> the IRIs of it and its subclasses in the store (`compile_shapes`'s `subclasses`)."""

    @cache
    def subclasses(cls: str) -> tuple[str, ...]:
        rows = store.query(f"SELECT DISTINCT ?c WHERE {{ ?c {SUBCLASS}* <{cls}> }}", use_default_graph_as_union=True)
        return tuple(sorted({cls, *(r["c"].value for r in rows if isinstance(r["c"], ox.NamedNode))}))

    return subclasses


def validate_store(
    store: ox.Store, shapes: Path, *, threads: int | None = None, per_document: bool | None = None, owned: bool | Collection[str] = False
) -> list[Finding]:
    """What breaks the shapes in the store (the union of its graphs is the data graph);
    `per_document` and `owned` as in `compile_shapes`.

    The checks run in `threads` threads (default: one per CPU): pyoxigraph evaluates a query
    without the GIL, so two cores check the seeds x200 in a third of the time of one.
    """
    from concurrent.futures import ThreadPoolExecutor

    subclasses = subclass_closure(store)

    def ask(check: Check, text: str):
        try:
            return store.query(text, use_default_graph_as_union=True)
        except SyntaxError as err:  # a compiler defect or a broken sh:select: say which
            raise ValidationError(f"{shapes}: the check of {check.shape or 'a shape'} ({check.component}) is not valid SPARQL: {err}") from err

    def run(check: Check) -> list[Finding]:
        rows = ask(check, check.query)
        has_value = any(v.value == "value" for v in rows.variables)
        return [Finding(check, row["this"], row["value"] if has_value else None) for row in rows]

    if store.contains_named_graph(FOCUS):
        raise ValidationError(f"the data holds the graph <{FOCUS.value}>, which the validator keeps for itself")
    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        # a graph that breaks nothing, as a build's output nearly always, is told so by one query a
        # shape (`compile_breaches`), which costs 0.6 of the checks that say what breaks (the
        # corpus-wide shapes over the seeds x200: 0.7 CPU s instead of 1.2); they run only then
        if not any(pool.map(partial(breaks, store), compile_breaches(shapes, subclasses, per_document=per_document, owned=owned))):
            return []
        checks = compile_shapes(shapes, subclasses, per_document=per_document, owned=owned)
        with _focus_nodes(store, checks, pool, ask) as focused:
            return [f for found in pool.map(run, focused) for f in found]


# Each shape's focus nodes are selected once and kept in a graph of their own while its checks
# run, instead of each check selecting them again: the string shape's target (a DISTINCT over a
# UNION of three classes) was evaluated by each of its thirteen checks. On the seeds x200 the
# checks take a fifth less CPU (15.9 s -> 13.0 s in one thread).
FOCUS = ox.NamedNode("urn:kg:shacl:focus")


@contextmanager
def _focus_nodes(store: ox.Store, checks: Sequence[Check], pool, ask) -> Iterator[list[Check]]:
    """The checks rewritten to read their shape's focus nodes from the graph `FOCUS`, which holds
    them for the duration: `?this <urn:kg:shacl:focus> <urn:kg:shacl:focus:N>` for the N-th target.

    The targets are all selected before any is stored, so a SPARQL target with a variable
    predicate never sees another's focus nodes, and the checks match only the predicates of
    their paths, never this one. A target that selects a literal (which cannot be a subject)
    is left in its checks. The store is left as it was found (`validate_store` refuses data that
    holds the graph already). `ask(check, query)` runs a query.
    """
    owners: dict[str, Check] = {}
    for c in checks:
        if c.target:
            owners.setdefault(c.target, c)
    if not owners:
        yield list(checks)
        return

    def select(owner: Check) -> list:
        return [row["this"] for row in ask(owner, f"{_head(owner.query)}SELECT ?this WHERE {{ {owner.target} }}")]

    marks: dict[str, ox.NamedNode] = {}
    try:
        for i, (target, nodes) in enumerate(zip(owners, pool.map(select, owners.values()), strict=True)):
            if not any(isinstance(n, ox.Literal) for n in nodes):
                marks[target] = ox.NamedNode(f"{FOCUS.value}:{i}")
                store.extend([ox.Quad(n, FOCUS, marks[target], FOCUS) for n in nodes])
        yield [
            replace(c, query=c.query.replace(c.target, f"{{ GRAPH <{FOCUS.value}> {{ ?this <{FOCUS.value}> <{marks[c.target].value}> }} }}"))
            if c.target in marks else c
            for c in checks
        ]
    finally:
        store.remove_graph(FOCUS)


def _head(query: str) -> str:
    """The PREFIX lines a compiled query starts with."""
    lines = query.splitlines(keepends=True)
    return "".join(itertools.takewhile(lambda line: line.startswith("PREFIX "), lines))


# What the compiled checks can read, for a check over part of a graph (kg.validate's projected parts).
# A graph G' that holds every triple of G whose predicate is in `read_predicates(queries)` breaks one
# of the queries whenever G does: the patterns that must see all of their matches read only those
# predicates, and the others sit under a negation (FILTER NOT EXISTS, MINUS), where fewer matches
# can only add rows. So a G' that breaks nothing proves that G breaks nothing; a G' that breaks
# something says nothing about G, which is then checked whole.
_POS, _NEG, _ANY = 1, -1, 0  # a pattern's effect on the rows: more matches, more rows; fewer; either
_SAME_PATTERN = ("Filter", "Join", "Union", "Extend", "Distinct", "Reduced", "OrderBy", "Graph", "ToMultiSet")
_NEW_SCOPE = ("SelectQuery", "AskQuery", "Project")


@dataclass(frozen=True, slots=True)
class Reads:
    """What a check over part of a graph must keep of it (`read_predicates`): every triple whose
    predicate is in `whole`; and of the triples on a predicate in `exists`, which the checks only
    ask to exist (`?this p ?any` in a MINUS, nothing else on its object), at least one for each
    subject that has some: which one, or how many, changes no answer.

    Of the rdf:type triples (when rdf:type is in `whole`), those whose class is in `classes` or
    starts with one of `class_prefixes`; all of them where `classes` is None."""

    whole: frozenset[str]
    exists: frozenset[str] = frozenset()
    classes: frozenset[str] | None = None
    class_prefixes: frozenset[str] = frozenset()

    def keeps_type(self, cls: str) -> bool:
        """Whether an rdf:type triple of this class is kept."""
        return self.classes is None or cls in self.classes or cls.startswith(tuple(self.class_prefixes))


def read_predicates(queries: Sequence[str]) -> Reads | None:
    """The IRIs of the predicates the queries read in patterns that must see all of their matches
    (rdflib's algebra of each query, walked with the polarity of each pattern), those they only
    test for a subject apart, and the classes whose rdf:type triples they read; None when one
    reads triples of any predicate there (a variable predicate that no VALUES of its group bounds,
    a negated property path, an operator this walk does not know)."""
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    walk = _Walk()
    for q in queries:
        try:
            algebra = translateQuery(parseQuery(q)).algebra
        except Exception:  # noqa: BLE001 - a query rdflib cannot read is one this cannot bound
            return None
        if not walk.reads(algebra, _POS, {}, top=True):
            return None
    classes = None if walk.any_class else frozenset(walk.classes)
    return Reads(frozenset(walk.found), frozenset(walk.exists - walk.found), classes, frozenset(walk.prefixes) if classes is not None else frozenset())


class _Walk:
    """What `read_predicates` gathers over the queries' algebra."""

    def __init__(self) -> None:
        self.found: set[str] = {RDFS + "subClassOf"}  # the class closure (`subclass_closure`) reads these
        self.exists: set[str] = set()  # predicates only tested for a subject (a MINUS of one pattern)
        self.classes: set[str] = set()  # the objects of the rdf:type patterns, where bounded
        self.prefixes: set[str] = set()  # the prefixes a FILTER bounds the objects of others to
        self.any_class = False  # some rdf:type pattern that must see all its matches has an unbounded object

    def reads(self, node, polarity: int, bound: dict, *, top: bool = False, prefixed: dict | None = None) -> bool:
        """Add the predicates `node` reads where `polarity` needs all matches; False when unbounded.
        `bound`: variable -> the IRIs a VALUES of the enclosing group allows it (it joins every row);
        `prefixed`: variable -> the prefix a FILTER around the pattern holds its IRI to."""
        from rdflib.paths import Path as RdfPath
        from rdflib.term import URIRef, Variable

        name = getattr(node, "name", None)
        if name == "Minus" and polarity == _POS and (p := _existence_test(node)) is not None:
            self.exists.add(p)
            return self.reads(node.p1, polarity, bound)
        if name == "GroupGraphPatternSub":  # an EXISTS that rdflib left untranslated (one in a subquery)
            from rdflib.plugins.sparql.algebra import translateGroupGraphPattern

            return self.reads(translateGroupGraphPattern(node), polarity, bound)
        if name == "BGP":
            for _, p, o in node.triples:
                if isinstance(p, URIRef):
                    self.found.add(str(p))
                    if str(p) == RDF + "type":
                        self._class(o, polarity, bound, prefixed or {})
                elif polarity == _NEG:
                    continue  # fewer matches under a negation: more rows, never fewer
                elif isinstance(p, Variable) and p in bound:
                    self.found.update(bound[p])
                    self.any_class = self.any_class or RDF + "type" in bound[p]
                elif isinstance(p, RdfPath):
                    path: set[str] = set()
                    if not _path_reads(p, path):
                        return False
                    self.found.update(path)
                    self.any_class = self.any_class or RDF + "type" in path
                else:
                    return False
            return True
        if name in ("values", "TrueFilter"):
            return True
        if name == "Slice" and not (top and (node.start or 0) == 0):
            return self.reads(node.p, _ANY, {})  # a LIMIT inside: which rows survive depends on all
        if name in ("Slice", *_NEW_SCOPE):
            return self.reads(node.p, polarity, {}, top=top and name != "Project")
        if name in _SAME_PATTERN:
            if name == "Join":
                bound = {**bound, **_values_bound(node.p1), **_values_bound(node.p2)}
                return self.reads(node.p1, polarity, bound, prefixed=prefixed) and self.reads(node.p2, polarity, bound, prefixed=prefixed)
            if name == "Union":
                return self.reads(node.p1, polarity, bound, prefixed=prefixed) and self.reads(node.p2, polarity, bound, prefixed=prefixed)
            if name == "Filter":
                # the rows it lets through hold each variable it bounds to a prefix, whatever the
                # patterns under it match (these keep each row's variables: no aggregate, no subquery)
                prefixed = {**(prefixed or {}), **_prefixes(node.expr)}
            ok = self.reads(node.p, polarity, bound, prefixed=prefixed)
            if name == "Filter":
                ok = ok and self.expr_reads(node.expr, polarity)
            elif name == "Extend":
                ok = ok and self.expr_reads(node.expr, _ANY)
            return ok
        if name == "LeftJoin":
            return self.reads(node.p1, polarity, bound) and self.reads(node.p2, _ANY, {}) and self.expr_reads(node.expr, _ANY)
        if name == "Minus":
            return self.reads(node.p1, polarity, bound) and self.reads(node.p2, -polarity, {})
        if name in ("Group", "AggregateJoin"):
            return self.reads(node.p, _ANY, {})  # counts and the like: fewer matches may add or drop rows
        return False

    def _class(self, o, polarity: int, bound: dict, prefixed: dict) -> None:
        """The classes an rdf:type pattern with object `o` reads."""
        from rdflib.term import Variable

        if not isinstance(o, Variable):
            self.classes.add(str(o))
        elif o in bound:
            self.classes.update(bound[o])
        elif o in prefixed:
            self.prefixes.add(prefixed[o])
        elif polarity != _NEG:  # under a negation, fewer matches add rows only
            self.any_class = True

    def expr_reads(self, expr, polarity: int) -> bool:
        """The patterns of the EXISTS in a filter expression: under ! the polarity turns, under && and ||
        it holds, inside any other function it is either."""
        name = getattr(expr, "name", None)
        if name is None:
            if isinstance(expr, (list, tuple)):
                return all(self.expr_reads(e, polarity) for e in expr)
            return True  # a variable or a term
        if name == "Builtin_EXISTS":
            return self.reads(expr.graph, polarity, {})
        if name == "Builtin_NOTEXISTS":
            return self.reads(expr.graph, -polarity, {})
        if name == "UnaryNot":
            return self.expr_reads(expr.expr, -polarity)
        if name in ("ConditionalOrExpression", "ConditionalAndExpression"):
            return self.expr_reads(expr.expr, polarity) and self.expr_reads(expr.other or [], polarity)
        return all(self.expr_reads(v, _ANY) for k, v in expr.items() if k != "_vars")


def _prefixes(expr) -> dict:
    """Variable -> the prefix a FILTER expression holds its IRI to: a conjunct `REGEX(STR(?v), "^…")`
    whose pattern is a plain prefix (escaped dots at most), with no flags."""
    import re

    from rdflib.term import Literal, Variable

    name = getattr(expr, "name", None)
    if name == "ConditionalAndExpression":
        out = {}
        for e in [expr.expr, *(expr.other or [])]:
            out.update(_prefixes(e))
        return out
    if name != "Builtin_REGEX" or expr.flags is not None:  # (a CompValue's `get` answers a missing key with the key)
        return {}
    text, pattern = expr.text, expr.pattern
    if getattr(text, "name", None) == "Builtin_STR":
        text = text.arg
    if not isinstance(text, Variable) or not isinstance(pattern, Literal):
        return {}
    m = re.fullmatch(r"\^((?:[^\\.^$*+?()\[\]{}|]|\\\.)+)", str(pattern))
    return {text: m.group(1).replace("\\.", ".")} if m else {}


def _existence_test(minus) -> str | None:
    """The predicate of a MINUS whose right side is one triple pattern `s <p> ?o` with ?o nowhere on
    its left: it removes the rows whose subject has a triple on p, whichever and however many."""
    from rdflib.term import URIRef, Variable

    right = minus.p2
    if getattr(right, "name", None) != "BGP" or len(right.triples) != 1:
        return None
    _, p, o = right.triples[0]
    left = minus.p1
    while getattr(left, "name", None) == "Minus":
        left = left.p1  # its rows bind the variables of its left side only
    names = getattr(left, "_vars", None)  # those of a pattern (rdflib's algebra: all it mentions)
    if not isinstance(p, URIRef) or not isinstance(o, Variable) or names is None or o in names:
        return None
    return str(p)


def _values_bound(node) -> dict:
    """Variable -> IRIs, for each variable that an inline VALUES (`node`) binds to an IRI in every row."""
    from rdflib.term import URIRef

    if getattr(node, "name", None) == "ToMultiSet":
        node = node.p
    if getattr(node, "name", None) != "values":
        return {}
    rows = node.res
    names = set().union(*(row.keys() for row in rows)) if rows else set()
    return {v: {str(row[v]) for row in rows} for v in names if all(isinstance(row.get(v), URIRef) for row in rows)}


def _path_reads(path, found: set[str]) -> bool:
    """The IRIs of a property path (sequences, alternatives, inverses, one or more); False for a
    negated one and for one that may have no step."""
    from rdflib.paths import AlternativePath, InvPath, MulPath, SequencePath
    from rdflib.term import URIRef

    if isinstance(path, URIRef):
        found.add(str(path))
        return True
    if isinstance(path, (SequencePath, AlternativePath)):
        return all(_path_reads(p, found) for p in path.args)
    if isinstance(path, InvPath):
        return _path_reads(path.arg, found)
    if isinstance(path, MulPath):
        # `*` and `?` also match a path of length zero, from any node of the graph: fewer triples,
        # fewer nodes, fewer matches
        return path.mod == "+" and _path_reads(path.path, found)
    return False
