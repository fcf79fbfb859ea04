"""`kg query`: SPARQL over a built graph, the answers as a table, CSV or JSON.

The data is a build folder (kg.ttl and, when present, mentions.trig with one named graph per
article; the default graph of a query is the merge of all of them) or one RDF file. Queries are files (`queries/*.rq`, or the name of one: `kg query communities-in-place`) or
text. A value the user gives (`--bind place=铁西区`) reaches the query as a bound value of the
variable `?place`, never as text pasted into the query, so no value can change the query.

    kg query communities-in-place --bind place=铁西区
    kg query "SELECT ?s WHERE { ?s a kgo:Programme }" --format csv

pyoxigraph runs the queries (fast); `engine="rdflib"` gives the same rows through rdflib.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox

from kg.errors import KGError, QueryError

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "queries"
KG_FILE = "kg.ttl"
MENTIONS_FILE = "mentions.trig"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
FORMATS = ("table", "csv", "json")
ENGINES = ("oxigraph", "rdflib")

# The prefixes of the exports, known to every query (a query may still declare its own).
PREFIXES = {
    "kgo": "https://w3id.org/kg/ontology#",
    "kgr": "https://w3id.org/kg/id/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": XSD,
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "schema": "https://schema.org/",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "nif": "http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#",
    "itsrdf": "http://www.w3.org/2005/11/its/rdf#",
    "dct": "http://purl.org/dc/terms/",
}

_FORMAT_OF = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".trig": ox.RdfFormat.TRIG,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".rdf": ox.RdfFormat.RDF_XML,
}
_QUERY_WORD = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)

Row = tuple[object, ...]


def _one_line(err: Exception) -> str:
    """A parser's message on one line: the CLI prints one line per problem."""
    return " ".join(str(err).split())


def default_output() -> Path:
    """The build folder to read: `$KG_OUTPUT`, else `output/`."""
    return Path(os.environ.get("KG_OUTPUT") or "output")


def data_files(data: Path) -> list[Path]:
    """The RDF files of a build folder (kg.ttl, then mentions.trig when present), or the one file given."""
    data = Path(data)
    if data.is_dir():
        kg = data / KG_FILE
        if not kg.is_file():
            raise QueryError(f"{data}: holds no {KG_FILE}; build it first with `kg build SEEDS --out {data}`.")
        mentions = data / MENTIONS_FILE
        return [kg, mentions] if mentions.is_file() else [kg]
    if not data.is_file():
        raise QueryError(f"{data}: no such file or folder; give a build folder or an RDF file (.ttl, .trig, .nt, .jsonld).")
    if data.suffix not in _FORMAT_OF:
        raise QueryError(f"{data}: unknown RDF format {data.suffix!r}; valid: {', '.join(sorted(_FORMAT_OF))}.")
    return [data]


def load_store(data: Path) -> ox.Store:
    """An in-memory pyoxigraph store of a build: the named graphs of mentions.trig, and a default graph
    that merges every triple of kg.ttl and mentions.trig (a set: a triple in two graphs counts once)."""
    store = ox.Store()
    for path in data_files(data):
        try:
            store.bulk_load(path=str(path), format=_FORMAT_OF[path.suffix])
        except SyntaxError as err:
            raise QueryError(f"{path}: not valid RDF: {err}") from err
        except OSError as err:
            raise QueryError(f"{path}: cannot be read ({err}).") from err
    # pyoxigraph's union default graph repeats a triple once per graph holding it (the evidence
    # sentences are in kg.ttl and in an article's graph); an explicit merge keeps set semantics
    store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    return store


def read_query(query: str | Path) -> tuple[str, str]:
    """The text of a query and where it comes from: a file, a name in queries/, or query text."""
    if isinstance(query, Path):
        return _read_file(query), str(query)
    text = query.strip()
    if _QUERY_WORD.search(text) and ("{" in text or text.upper().startswith(("ASK", "DESCRIBE"))):
        return text, "<query>"
    path = Path(text)
    if path.is_file():
        return _read_file(path), text
    named = QUERIES / (text if text.endswith(".rq") else f"{text}.rq")
    if "/" not in text and named.is_file():
        return _read_file(named), str(named)
    names = ", ".join(p.stem for p in query_files()) or "none"
    raise QueryError(f"{text}: no such query file, and not SPARQL text; the queries in {QUERIES}: {names}.")


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise QueryError(f"{path}: no such query file.") from err
    except (OSError, UnicodeDecodeError) as err:
        raise QueryError(f"{path}: cannot be read as UTF-8 text ({err}).") from err


def query_files() -> list[Path]:
    """The query files shipped with kg, sorted."""
    return sorted(QUERIES.glob("*.rq"))


def parameters(text: str) -> list[str]:
    """The values a query file takes, from its `# bind: NAME …` comment lines."""
    return re.findall(r"^#\s*bind:\s*(\w+)", text, flags=re.MULTILINE)


def variables(text: str) -> set[str]:
    """The variable names a query uses (outside comments and strings, roughly: enough to check a bind)."""
    lines = (_IRI.sub("", line) for line in text.splitlines())  # an IRI may hold a '#'
    body = "\n".join(line.split("#", 1)[0] for line in lines)
    return set(re.findall(r"[?$]([A-Za-z_][\w]*)", body))


def term(value: str) -> ox.NamedNode | ox.Literal:
    """The RDF term a user's value stands for: `<iri>`, `kgr:…` (a known prefix) or `http…` → IRI, else a string.

    >>> term("铁西区")
    <Literal value=铁西区 datatype=<NamedNode value=http://www.w3.org/2001/XMLSchema#string>>
    >>> term("kgr:place/220302").value
    'https://w3id.org/kg/id/place/220302'
    """
    if value.startswith("<") and value.endswith(">"):
        return ox.NamedNode(value[1:-1])
    prefix, sep, local = value.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        return ox.NamedNode(PREFIXES[prefix] + local)
    if re.match(r"^(https?|urn):\S+$", value):
        return ox.NamedNode(value)
    return ox.Literal(value)


def run_query(
    query: str | Path,
    data: Path | ox.Store | None = None,
    *,
    bindings: Mapping[str, str | ox.NamedNode | ox.Literal] | None = None,
    engine: str = "oxigraph",
) -> tuple[list[str], list[Row]]:
    """Run a SPARQL query over a build; return its column names and rows of Python values.

    IRIs come back as strings, numbers as int or float, booleans as bool, text as str, unbound as None.
    `bindings` give values to the query's variables (`{"name": "铁西区"}`): each arrives as the
    one row of a `VALUES` block at the head of the query's WHERE group, written as an escaped RDF
    term, so FILTERs see it and no value can change the query.

    >>> cols, rows = run_query("SELECT ?name WHERE { ?p a kgo:Programme ; skos:prefLabel ?name }",
    ...                        "output/")  # doctest: +SKIP
    """
    text, source = read_query(query)
    if engine not in ENGINES:
        raise QueryError(f"unknown query engine {engine!r}; valid: {', '.join(ENGINES)}.")
    text = with_values(text, _bindings(text, source, bindings or {}), source=source)
    if engine == "rdflib":
        return _run_rdflib(text, source, data)
    store = data if isinstance(data, ox.Store) else load_store(Path(data) if data is not None else default_output())
    try:
        result = store.query(text, prefixes=PREFIXES)
    except SyntaxError as err:
        raise QueryError(f"{source}: not valid SPARQL: {_one_line(err)}") from err
    except (OSError, ValueError, TypeError, RuntimeError) as err:
        raise QueryError(f"{source}: the query failed: {err}") from err
    if isinstance(result, ox.QueryBoolean):
        return ["ask"], [(bool(result),)]
    if isinstance(result, ox.QuerySolutions):
        columns = [v.value for v in result.variables]
        return columns, [tuple(_py(s[c]) for c in columns) for s in result]
    return ["subject", "predicate", "object"], sorted(tuple(_py(x) for x in t) for t in result)


def with_values(text: str, bound: Mapping[str, ox.NamedNode | ox.Literal], *, source: str = "<query>") -> str:
    """The query with `VALUES (?a ?b) { (term term) }` opening its WHERE group; the text itself when nothing is bound.

    Terms are written by pyoxigraph, escaped as in N-Triples: quotes, braces or newlines in a value
    stay inside its string.

    >>> print(with_values('SELECT ?x WHERE { ?x ?p ?name }', {"name": ox.Literal('a" } #')}))
    SELECT ?x WHERE {
      VALUES (?name) { ("a\\" } #") }
     ?x ?p ?name }
    """
    if not bound:
        return text
    at = _where_brace(text)
    if at is None:
        raise QueryError(f"{source}: found no WHERE {{ … }} group to give the bound values to.")
    names = " ".join(f"?{k}" for k in bound)
    values = " ".join(str(v) for v in bound.values())
    return f"{text[: at + 1]}\n  VALUES ({names}) {{ ({values}) }}\n{text[at + 1 :]}"


_STRING = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'', re.S)
_IRI = re.compile(r'<[^<>"{}|^`\\\s]*>')
_WORD = re.compile(r"[?$]?[A-Za-z_][\w\-.:]*")


def _where_brace(text: str) -> int | None:
    """The offset of the brace that opens the WHERE group (comments, strings and IRIs skipped)."""
    i, depth, form, where = 0, 0, "", False
    while i < len(text):
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = len(text) if end == -1 else end
            continue
        if c in "\"'":
            m = _STRING.match(text, i)
            i = m.end() if m else i + 1
            continue
        if c == "<" and (m := _IRI.match(text, i)):
            i = m.end()
            continue
        if c.isalpha() or c in "?$_":
            m = _WORD.match(text, i)
            word = m.group().upper()
            if depth == 0 and word in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE") and not form:
                form = word
            elif depth == 0 and word == "WHERE":
                where = True
            i = m.end()
            continue
        if c == "{":
            if depth == 0 and (where or form != "CONSTRUCT"):
                return i
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    return None


def _bindings(text: str, source: str, bindings: Mapping[str, object]) -> dict[str, ox.NamedNode | ox.Literal]:
    used = variables(text)
    out = {}
    for name, value in bindings.items():
        if name not in used:
            have = ", ".join(sorted(f"?{v}" for v in used)) or "none"
            raise QueryError(f"{source}: --bind {name}=…: the query has no variable ?{name}; its variables: {have}.")
        try:
            out[name] = value if isinstance(value, (ox.NamedNode, ox.Literal)) else term(str(value))
        except ValueError as err:
            raise QueryError(f"--bind {name}={value}: not a valid IRI ({err}); write a name, or an IRI as <…>.") from err
    return out


def _run_rdflib(text: str, source: str, data):
    """The same query through rdflib, over a Dataset whose default graph is the union of all graphs."""
    from rdflib import Dataset, Graph

    if isinstance(data, (Dataset, Graph)):
        ds = data
    else:
        ds = load_dataset(Path(data) if data is not None else default_output())
    try:
        with warnings.catch_warnings():
            # rdflib 7's SPARQL engine calls Dataset methods that rdflib itself deprecates (GRAPH ?g)
            warnings.filterwarnings("ignore", r"Dataset\.\w+ is deprecated", DeprecationWarning)
            result = ds.query(text, initNs=PREFIXES)
            rows = list(result)
    except Exception as err:  # rdflib raises pyparsing and assorted errors for a bad query
        raise QueryError(f"{source}: not valid SPARQL or the query failed: {_one_line(err)}") from err
    if result.type == "ASK":
        return ["ask"], [(bool(result.askAnswer),)]
    if result.type == "SELECT":
        columns = [str(v) for v in result.vars]
        return columns, [tuple(_py_rdflib(row[i]) for i in range(len(columns))) for row in rows]
    return ["subject", "predicate", "object"], sorted(tuple(_py_rdflib(x) for x in t) for t in rows)


def rdflib_quads(path: Path, error: type[KGError] = QueryError) -> Iterator[tuple]:
    """(graph name or None, subject, predicate, object) of an RDF file as rdflib terms, parsed by
    pyoxigraph (fast); each repeated term is converted once. Errors name the file."""
    terms: dict = {}

    def term(t):
        found = terms.get(t)
        if found is None:
            found = terms[t] = to_rdflib(t)
        return found

    try:
        with path.open("rb") as fh:
            for quad in ox.parse(fh, format=_FORMAT_OF.get(path.suffix, ox.RdfFormat.TURTLE)):
                name = None if isinstance(quad.graph_name, ox.DefaultGraph) else term(quad.graph_name)
                yield name, term(quad.subject), term(quad.predicate), term(quad.object)
    except SyntaxError as err:
        raise error(f"{path}: not valid RDF: {err}") from err
    except OSError as err:
        raise error(f"{path}: cannot be read ({err}).") from err


def load_dataset(data: Path):
    """An rdflib Dataset of a build: kg.ttl in the default graph, one named graph per article of
    mentions.trig; its default graph for queries is the union. Parsed by pyoxigraph (fast)."""
    from rdflib import Dataset

    ds = Dataset(default_union=True)
    for prefix, ns in PREFIXES.items():
        ds.bind(prefix, ns)
    graphs: dict = {None: ds.default_graph}
    for path in data_files(data):
        for name, s, p, o in rdflib_quads(path):
            if name not in graphs:
                graphs[name] = ds.graph(name)
            graphs[name].add((s, p, o))
    return ds


def to_rdflib(t):
    """A pyoxigraph term as an rdflib term."""
    from rdflib import BNode, Literal, URIRef

    if isinstance(t, ox.NamedNode):
        return URIRef(t.value)
    if isinstance(t, ox.BlankNode):
        return BNode(t.value)
    if t.language:
        return Literal(t.value, lang=t.language)
    if t.datatype.value == XSD + "string":
        return Literal(t.value)
    return Literal(t.value, datatype=URIRef(t.datatype.value))


def _py(t) -> object:
    """A Python value for a pyoxigraph term: IRI → str, typed literal → int/float/bool/str."""
    if t is None:
        return None
    if isinstance(t, (ox.NamedNode, ox.BlankNode)):
        return t.value if isinstance(t, ox.NamedNode) else f"_:{t.value}"
    return _value(t.value, None if t.language else t.datatype.value)


def _py_rdflib(t) -> object:
    from rdflib import BNode, URIRef

    if t is None:
        return None
    if isinstance(t, URIRef):
        return str(t)
    if isinstance(t, BNode):
        return f"_:{t}"
    return _value(str(t), None if t.language else (str(t.datatype) if t.datatype else XSD + "string"))


_INTEGERS = {XSD + n for n in ("integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger")}


def _value(lexical: str, datatype: str | None) -> object:
    try:
        if datatype in _INTEGERS:
            return int(lexical)
        if datatype in (XSD + "decimal", XSD + "double", XSD + "float"):
            return float(Decimal(lexical)) if datatype == XSD + "decimal" else float(lexical)
        if datatype == XSD + "boolean":
            return lexical in ("true", "1")
    except (ValueError, ArithmeticError):
        pass  # an ill-typed literal is shown as written
    return lexical


# -- output ---------------------------------------------------------------------------------------


def compact(iri: str) -> str:
    """An IRI with a known prefix written short (kgr:place/220302), for tables."""
    for prefix, ns in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def format_table(columns: Sequence[str], rows: Iterable[Row], *, width: int = 60) -> str:
    """A plain-text table, aligned for Chinese (wide) characters, long cells cut at `width` columns."""
    rows = [[_cell(v, width) for v in row] for row in rows]
    widths = [max([_width(c)] + [_width(r[i]) for r in rows]) for i, c in enumerate(columns)]
    lines = ["  ".join(_pad(c, w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _cell(value: object, width: int) -> str:
    if value is None:
        return ""
    text = compact(value) if isinstance(value, str) and re.match(r"^(https?|urn):", value) else str(value)
    text = " ".join(text.split())
    if _width(text) > width:
        out, w = [], 0
        for ch in text:
            w += _width(ch)
            if w > width - 1:
                break
            out.append(ch)
        text = "".join(out) + "…"
    return text


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def write_result(columns: Sequence[str], rows: Sequence[Row], fmt: str, out=None) -> None:
    """Print a result as a table, CSV (full IRIs) or JSON (a list of objects, full IRIs)."""
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    elif fmt == "json":
        out.write(json.dumps([dict(zip(columns, row)) for row in rows], ensure_ascii=False, indent=1) + "\n")
    else:
        out.write(format_table(columns, rows) + "\n")


# -- command line ---------------------------------------------------------------------------------


def _bind_arg(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=VALUE, e.g. place=铁西区")
    return name, value


def _query(args: argparse.Namespace) -> int:
    data = Path(args.data) if args.data else default_output()
    columns, rows = run_query(args.query, data, bindings=dict(args.bind))
    write_result(columns, rows, args.format)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `kg query FILE_OR_TEXT [--data OUT] [--bind k=v …] [--format table|csv|json]`."""
    names = ", ".join(p.stem for p in query_files())
    q = subparsers.add_parser(
        "query",
        help="run a SPARQL query over a built graph",
        description=f"Run a SPARQL query over a built graph. Shipped queries: {names or 'none'}.",
    )
    q.add_argument("query", help="a .rq file, the name of a query in queries/, or SPARQL text")
    q.add_argument("--data", default=None, help="build folder or RDF file (default: $KG_OUTPUT or output/)")
    q.add_argument("--bind", action="append", type=_bind_arg, default=[], metavar="NAME=VALUE",
                   help="give the query variable ?NAME a value (a string; <iri> or kgr:… for an IRI)")
    q.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    q.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    q.set_defaults(func=_query)
