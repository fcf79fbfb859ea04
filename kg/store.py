"""Stores for large graphs: an embedded pyoxigraph store on disk, and a SPARQL 1.1 server.

- `load_store(out)`: `out/kg.ttl` in the default graph and `out/mentions.trig` in its named graphs
  (one per article), bulk-loaded into an on-disk Oxigraph store at `out/store/`, reused as long as
  the build outputs are the same bytes. `kg query` runs on it through `query_store`.
- `dump(store, path)`: N-Triples / Turtle of the default graph, N-Quads / TriG of everything,
  written by Oxigraph's own serializer (the fastest correct writer we have; rdflib is ~50x slower).
- `push(out, endpoint)`: `kg push --endpoint URL`, the SPARQL 1.1 Graph Store HTTP Protocol. kg.ttl
  is PUT into one named graph per build, `<https://w3id.org/kg/build/<sha256(kg.ttl)[:16]>>`, and
  into a stable alias graph, `<https://w3id.org/kg/graph/latest>` by default. A PUT replaces the
  graph in one step on the server, so pushing twice leaves no duplicates and a query never sees
  half a graph. `URL` is the server's Graph Store endpoint (Oxigraph: `http://host:7878/store`,
  Fuseki: `http://host:3030/<dataset>/data`).

This module never imports spaCy.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kg.errors import KGError, QueryError

STORE = "store"  # the store's folder inside the output folder
_DB = "oxigraph"  # the Oxigraph (RocksDB) folder inside it
_STAMP = "source.json"  # what it was loaded from
SOURCES = ("kg.ttl", "mentions.trig")
BUILD_GRAPH = "https://w3id.org/kg/build/"
LATEST_GRAPH = "https://w3id.org/kg/graph/latest"
_FORMATS = {
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".ttl": ox.RdfFormat.TURTLE,
    ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG,
}


class StoreError(KGError):
    """A store cannot be loaded, opened or written, or a SPARQL server refused a graph."""


# ---------------------------------------------------------------------------------------------
# The embedded store


def store_path(out: Path, path: Path | None = None) -> Path:
    """Where the store of an output folder lives: `path`, or `out/store`."""
    return Path(path) if path is not None else Path(out) / STORE


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fingerprint(out: Path) -> dict[str, str]:
    stamp = {"pyoxigraph": ox.__version__}
    for name in SOURCES:
        f = out / name
        if f.is_file():
            stamp[name] = _sha256(f)
    return stamp


def _read_stamp(where: Path) -> dict | None:
    try:
        return json.loads((where / _STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextmanager
def _locked(where: Path):
    """One loader at a time per store folder (RocksDB allows one writer)."""
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.parent / f".{where.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def load_store(out: Path, *, path: Path | None = None, read_only: bool = False) -> ox.Store:
    """The Oxigraph store of a build: kg.ttl in the default graph, mentions.trig in named graphs.

    Loaded with the bulk loader into `path` (default `out/store`) the first time, and reused while
    kg.ttl and mentions.trig are the same bytes; a changed build is loaded afresh beside the old
    store and swapped in. `read_only` opens it so that several processes can query it at once.
    """
    out = Path(out)
    ttl = out / "kg.ttl"
    if not ttl.is_file():
        raise StoreError(f"{out}: no kg.ttl here; run `kg build --out {out}` first.")
    where = store_path(out, path)
    with _locked(where):
        stamp = _fingerprint(out)
        if _read_stamp(where) != stamp or not (where / _DB).is_dir():
            _load_into(where, out, stamp)
    return _open(where / _DB, read_only=read_only)


def _load_into(where: Path, out: Path, stamp: dict[str, str]) -> None:
    tmp = where.parent / f".{where.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        store = _open(tmp / _DB, read_only=False)
        try:
            store.bulk_load(path=out / "kg.ttl", format=ox.RdfFormat.TURTLE, to_graph=ox.DefaultGraph())
            if (out / "mentions.trig").is_file():
                store.bulk_load(path=out / "mentions.trig", format=ox.RdfFormat.TRIG)
            store.flush()
        except SyntaxError as err:
            raise StoreError(f"{out}: the graph cannot be parsed ({err}); rebuild it with `kg build`.") from err
        except OSError as err:
            raise StoreError(f"{tmp}: cannot write the store ({err}).") from err
        finally:
            del store  # closes RocksDB before the folder is moved
        (tmp / _STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        old = where.parent / f".{where.name}.{os.getpid()}.old"
        if where.exists():
            where.rename(old)
        tmp.rename(where)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _open(db: Path, *, read_only: bool) -> ox.Store:
    try:
        return ox.Store.read_only(str(db)) if read_only else ox.Store(str(db))
    except OSError as err:
        raise StoreError(
            f"{db}: cannot open the store ({err}); another kg process may hold it, or remove the folder to reload it."
        ) from err


def dump(store: ox.Store, path: Path) -> Path:
    """Write the store to `path` through Oxigraph's serializer; the format comes from the suffix.

    `.nt` and `.ttl` hold the default graph (the content of kg.ttl), `.nq` and `.trig` everything.
    """
    from kg.rdf import prefixes

    path = Path(path)
    fmt = _FORMATS.get(path.suffix)
    if fmt is None:
        raise StoreError(f"{path}: unknown export format; use one of {', '.join(sorted(_FORMATS))}.")
    options: dict = {}
    if not fmt.supports_datasets:
        options["from_graph"] = ox.DefaultGraph()
    if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG):
        options["prefixes"] = prefixes()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        store.dump(str(tmp), fmt, **options)
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"{path}: cannot write the export ({err}).") from err
    return path


def query_store(
    store: ox.Store,
    sparql: str,
    bindings: Mapping[str, object] | None = None,
    *,
    union: bool = True,
    prefixes: Mapping[str, str] | None = None,
):
    """Run a SPARQL query on a store: QuerySolutions (SELECT), QueryBoolean (ASK) or QueryTriples.

    `bindings` pre-binds variables (by name, without `?`) to terms: pyoxigraph terms, rdflib terms
    or plain Python values (a str becomes a plain literal, an int an xsd:integer …). As in `kg query`,
    the default graph is the union of all graphs (kg.ttl and every article's mentions); with
    `union=False` it is kg.ttl alone. `prefixes` are declared for the query (e.g. kg.rdf.PREFIXES).
    """
    substitutions = {ox.Variable(name.lstrip("?$")): _term(value) for name, value in (bindings or {}).items()}
    try:
        try:
            return store.query(sparql, substitutions=substitutions or None, use_default_graph_as_union=union, prefixes=prefixes)
        except RuntimeError:
            # Oxigraph substitutes (SEP-0007) only variables a SELECT projects; bind the others
            # the way rdflib's initBindings does, as a VALUES block opening the WHERE group.
            return store.query(_with_values(sparql, substitutions), use_default_graph_as_union=union, prefixes=prefixes)
    except (SyntaxError, RuntimeError) as err:
        raise QueryError(f"the query cannot be parsed or run: {err}") from err
    except OSError as err:
        raise StoreError(f"the store cannot be read: {err}") from err


# What may hold a brace that is not one: strings, IRIs, comments.
_OPAQUE = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r'|<[^<>"{}|^`\\\s]*>'
    r"|#[^\n]*"
)


def _with_values(sparql: str, substitutions: dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal]) -> str:
    """The query with `VALUES (?a ?b) { (x y) }` first in its WHERE group.

    >>> _with_values("SELECT ?s WHERE { ?s ?p ?o }", {ox.Variable("p"): ox.NamedNode("http://x")})
    'SELECT ?s WHERE { VALUES (?p) { (<http://x>) } ?s ?p ?o }'
    """
    names = " ".join(str(v) for v in substitutions)
    values = " ".join(str(t) for t in substitutions.values())
    block = f" VALUES ({names}) {{ ({values}) }}"
    # A CONSTRUCT template comes before the WHERE group (except in the short form CONSTRUCT WHERE).
    template = re.search(r"\bCONSTRUCT\s*\{", _OPAQUE.sub(" ", sparql), re.IGNORECASE) is not None
    depth, i = 0, 0
    while i < len(sparql):
        m = _OPAQUE.match(sparql, i)
        if m:
            i = m.end()
            continue
        if sparql[i] == "{":
            if depth == 0 and not template:
                return sparql[: i + 1] + block + sparql[i + 1 :]
            depth += 1
        elif sparql[i] == "}" and depth:
            depth -= 1
            template = template and depth > 0
        i += 1
    raise QueryError("cannot bind variables: the query has no WHERE group.")


def _term(value: object) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """A pyoxigraph term for a binding value."""
    if isinstance(value, ox.NamedNode | ox.BlankNode | ox.Literal):
        return value
    from rdflib.term import BNode, Literal, URIRef  # the notebook API's terms

    if isinstance(value, URIRef):
        return ox.NamedNode(str(value))
    if isinstance(value, BNode):
        return ox.BlankNode(str(value))
    if isinstance(value, Literal):
        if value.language:
            return ox.Literal(str(value), language=value.language)
        if value.datatype:
            return ox.Literal(str(value), datatype=ox.NamedNode(str(value.datatype)))
        return ox.Literal(str(value))
    if isinstance(value, bool | int | float | str):
        return ox.Literal(value)
    raise QueryError(f"cannot bind {value!r}: give an IRI (rdflib URIRef or pyoxigraph NamedNode), a literal or a str/int/float/bool.")


# ---------------------------------------------------------------------------------------------
# A SPARQL 1.1 server, through the Graph Store HTTP Protocol


@dataclass(frozen=True, slots=True)
class PushReport:
    """What `push` sent: the graphs it replaced and the size of each upload."""

    endpoint: str
    graphs: tuple[str, ...]
    bytes: int


def build_graph_iri(out: Path) -> str:
    """The named graph of one build: stable for the same kg.ttl bytes."""
    return BUILD_GRAPH + _sha256(Path(out) / "kg.ttl")[:16]


def graph_url(endpoint: str, graph: str) -> str:
    """The Graph Store Protocol URL of a named graph (indirect identification, `?graph=`)."""
    sep = "&" if urllib.parse.urlsplit(endpoint).query else "?"
    return f"{endpoint}{sep}{urllib.parse.urlencode({'graph': graph})}"


def push(
    out: Path,
    endpoint: str,
    *,
    graph: str | None = None,
    alias: str | None = LATEST_GRAPH,
    timeout: float = 300.0,
) -> PushReport:
    """PUT kg.ttl into the named graph of this build and into `alias` (None: none) at `endpoint`.

    Each PUT replaces the whole graph on the server in one step; other graphs are left alone.
    """
    out = Path(out)
    ttl = out / "kg.ttl"
    if not ttl.is_file():
        raise StoreError(f"{out}: no kg.ttl here; run `kg build --out {out}` first.")
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StoreError(f"{endpoint}: not an http(s) URL; give the Graph Store endpoint, e.g. http://localhost:7878/store.")
    graphs = [graph or build_graph_iri(out)]
    if alias and alias not in graphs:
        graphs.append(alias)
    for g in graphs:
        for bad in ("<", ">", " ", '"'):
            if bad in g:
                raise StoreError(f"{g}: not an IRI (it holds {bad!r}); give an absolute IRI for --graph/--alias.")
        _put(graph_url(endpoint, g), ttl, timeout=timeout)
    return PushReport(endpoint, tuple(graphs), ttl.stat().st_size)


def _put(url: str, path: Path, *, timeout: float) -> None:
    size = path.stat().st_size
    with path.open("rb") as fh:
        request = urllib.request.Request(
            url,
            data=fh,
            method="PUT",
            headers={"Content-Type": "text/turtle; charset=utf-8", "Content-Length": str(size)},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as err:
            body = err.read(500).decode("utf-8", "replace").strip()
            raise StoreError(
                f"{url}: the server answered HTTP {err.code} {err.reason}" + (f": {body}" if body else "")
                + "; check that the URL is the Graph Store endpoint (Oxigraph: /store, Fuseki: /<dataset>/data)."
            ) from err
        except urllib.error.URLError as err:
            raise StoreError(f"{url}: cannot reach the endpoint ({err.reason}); check the URL and that the server runs.") from err
        except (TimeoutError, socket.timeout) as err:
            raise StoreError(f"{url}: no answer within {timeout:g} s; raise --timeout or check the server.") from err
        except (ConnectionError, http.client.HTTPException) as err:
            raise StoreError(f"{url}: the connection failed ({err}); check the server.") from err


# ---------------------------------------------------------------------------------------------
# The command line


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`kg push` and `kg store`."""
    p = sub.add_parser("push", help="load the graph into a SPARQL 1.1 server (Graph Store Protocol)")
    p.add_argument("out", nargs="?", default="output", help="output folder of a build (default: output)")
    p.add_argument("--endpoint", required=True, help="Graph Store endpoint URL, e.g. http://localhost:7878/store")
    p.add_argument("--graph", default=None, help=f"named graph IRI (default: {BUILD_GRAPH}<hash of kg.ttl>)")
    p.add_argument("--alias", default=LATEST_GRAPH, help=f"a stable graph that gets the same content (default: {LATEST_GRAPH})")
    p.add_argument("--no-alias", action="store_true", help="push only the build's graph")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each upload (default 300)")
    p.set_defaults(func=_push)

    s = sub.add_parser("store", help="load the graph into an embedded on-disk store; export it")
    s.add_argument("out", nargs="?", default="output", help="output folder of a build (default: output)")
    s.add_argument("--path", default=None, help="store folder (default: OUT/store)")
    s.add_argument("--dump", metavar="FILE", default=None, help="export: .nt/.ttl (kg.ttl's graph) or .nq/.trig (everything)")
    s.set_defaults(func=_store)


def _push(args: argparse.Namespace) -> int:
    report = push(
        Path(args.out),
        args.endpoint,
        graph=args.graph,
        alias=None if args.no_alias else args.alias,
        timeout=args.timeout,
    )
    graphs = ", ".join(f"<{g}>" for g in report.graphs)
    print(f"pushed {args.out}/kg.ttl ({report.bytes} bytes) to {report.endpoint}: {graphs}")
    return 0


def _store(args: argparse.Namespace) -> int:
    where = store_path(Path(args.out), Path(args.path) if args.path else None)
    store = load_store(Path(args.out), path=where)
    graphs = sum(1 for _ in store.named_graphs())
    print(f"store {where}: {len(store)} quads, {graphs} named graphs")
    if args.dump:
        dump(store, Path(args.dump))
        print(f"  wrote {args.dump}")
    return 0


__all__ = [
    "LATEST_GRAPH",
    "PushReport",
    "StoreError",
    "add_parser",
    "build_graph_iri",
    "dump",
    "load_store",
    "push",
    "query_store",
    "store_path",
]
