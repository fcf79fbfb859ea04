"""`kg.load(folder)`: a built graph for notebooks and scripts, read from its RDF.

One object gives the same graph in the forms a notebook wants, each made on first use:

- `.rdf`: an rdflib Graph of kg.ttl; `.dataset`: an rdflib Dataset with the mentions of
  mentions.trig, one named graph per article (its default graph is the union);
- `.nx`: a networkx MultiDiGraph whose node IDs are the IRIs of the RDF and whose edges are keyed
  by predicate (`runsProgramme`, `containedInPlace` …), with confidence and evidence;
- `.entities`, `.articles`, `.mentions`, `.relations`: pandas DataFrames;
- `.query(sparql, **bindings)`: a DataFrame of a SPARQL query, a file or a name in queries/;
- `.interactive(nodes)`: an offline pyvis view of part of the graph, to show inline in a notebook.

Everything is read from the files of the folder, never by running the pipeline again.

    >>> import kg
    >>> g = kg.load("output/")  # doctest: +SKIP
    >>> g.query("communities-in-place", place="铁西区")  # doctest: +SKIP
    >>> g.relations.query("predicate == 'runsProgramme'").sort_values("confidence")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from functools import cached_property
from pathlib import Path

import networkx as nx
import pandas as pd
import pyoxigraph as ox

from kg.query import PREFIXES, data_files, default_output, load_dataset, load_store, run_query

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "ontology" / "schema.ttl"
KGO = PREFIXES["kgo"]
ARTICLE = "ARTICLE"

# predicates between nodes, by the key kg.graph gives them (schema:mentions has its own table)
_ENTITY_CLASSES = ("Person", "Organisation", "Place", "AdminDivision", "Site", "Programme", "Policy")

_ENTITIES = """
SELECT ?entity ?cls ?label ?mentions ?new ?level ?code WHERE {
  VALUES ?cls { %s }
  ?entity a ?cls ; skos:prefLabel ?label .
  OPTIONAL { ?entity kgo:mentionCount ?mentions }
  OPTIONAL { ?entity kgo:isNew ?new }
  OPTIONAL { ?entity kgo:adminLevel ?level }
  OPTIONAL { ?entity kgo:divisionCode ?code }
}""" % " ".join(f"kgo:{c}" for c in _ENTITY_CLASSES)

_ALIASES = "SELECT ?entity ?alias WHERE { ?entity skos:altLabel ?alias }"

_ARTICLES = """
SELECT ?article ?doc ?headline ?start ?end WHERE {
  ?article a kgo:Article ; schema:headline ?headline ; schema:isPartOf ?d ;
           nif:beginIndex ?start ; nif:endIndex ?end .
  ?d schema:identifier ?doc .
}"""

_AUTHORS = "SELECT ?article ?author WHERE { ?article a kgo:Article ; schema:author ?author }"

_MENTIONS = """
SELECT ?article ?doc ?start ?end ?text ?entity ?label ?sentence ?sentence_start ?sentence_end WHERE {
  GRAPH ?article {
    ?mention a kgo:Mention ; nif:beginIndex ?start ; nif:endIndex ?end ; nif:anchorOf ?text ;
             nif:referenceContext ?d ; itsrdf:taIdentRef ?entity ; kgo:nerLabel ?label .
    OPTIONAL { ?mention kgo:sentence ?s . ?s nif:anchorOf ?sentence ; nif:beginIndex ?sentence_start ;
                                                nif:endIndex ?sentence_end }
  }
  ?d schema:identifier ?doc .
}"""

_RELATIONS = """
SELECT ?subject ?predicate ?object ?statement ?confidence ?count ?sentence ?doc ?start ?end WHERE {
  ?subject ?predicate ?object .
  FILTER (?predicate IN (%s))
  OPTIONAL {
    ?statement rdf:subject ?subject ; rdf:predicate ?predicate ; rdf:object ?object ;
               kgo:confidence ?confidence ; kgo:count ?count .
    OPTIONAL {
      ?statement kgo:evidence ?evidence .
      ?evidence nif:anchorOf ?sentence ; nif:beginIndex ?start ; nif:endIndex ?end ; nif:referenceContext ?d .
      ?d schema:identifier ?doc .
    }
  }
}"""

_CUES = "SELECT ?statement ?cue WHERE { ?statement a kgo:Statement ; kgo:cue ?cue }"


def load(folder: str | Path | None = None) -> KG:
    """The built graph in `folder` (default: `$KG_OUTPUT`, else `output/`).

    Raises QueryError when the folder holds no kg.ttl: build it first (`kg build seeds --out FOLDER`,
    or `kg.build.ensure_built(Path(FOLDER))`).
    """
    folder = Path(folder) if folder is not None else default_output()
    data_files(folder)  # fail now, with the folder's name, rather than on first use
    return KG(folder)


class KG:
    """A built graph: rdflib, networkx and pandas views of the RDF files of one output folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"KG({str(self.folder)!r}: {len(self.entities)} entities, {len(self.articles)} articles, " \
               f"{len(self.mentions)} mentions, {len(self.relations)} relation rows)"

    # -- RDF ------------------------------------------------------------------------------------
    @cached_property
    def rdf(self):
        """kg.ttl as an rdflib Graph: entities, articles, relations and their reified statements."""
        from rdflib import Graph

        g = Graph()
        for prefix, ns in PREFIXES.items():
            g.bind(prefix, ns)
        return g.parse(data_files(self.folder)[0], format="turtle")

    @cached_property
    def dataset(self):
        """kg.ttl and mentions.trig as an rdflib Dataset: one named graph per article, default = union."""
        return load_dataset(self.folder)

    @cached_property
    def store(self) -> ox.Store:
        """The same data in a pyoxigraph Store: what `.query` and the tables run on (fast)."""
        return load_store(self.folder)

    def query(self, sparql: str | Path, *, engine: str = "oxigraph", **bindings: str) -> pd.DataFrame:
        """A SPARQL query as a DataFrame: text, a .rq file, or the name of a query in queries/.

        Keyword arguments give values to the query's variables, as bound values (never pasted
        into the text): `g.query("authors-of", topic="双报到")`. `engine="rdflib"` runs it through
        rdflib over `.dataset`, with the same rows.
        """
        data = self.dataset if engine == "rdflib" else self.store
        columns, rows = run_query(sparql, data, bindings=bindings, engine=engine)
        return pd.DataFrame(rows, columns=columns)

    def _select(self, sparql: str) -> pd.DataFrame:
        columns, rows = run_query(sparql, self.store)
        return pd.DataFrame(rows, columns=columns)

    # -- tables ---------------------------------------------------------------------------------
    @cached_property
    def entities(self) -> pd.DataFrame:
        """One row per entity: iri, label, kind (PERSON, ORG, PLACE, PROGRAMME, POLICY), class,
        aliases, mentions (how often the corpus names it), new (found in text only), level, code."""
        df = self._select(_ENTITIES)
        aliases: dict[str, list[str]] = defaultdict(list)
        for iri, alias in self._select(_ALIASES).itertuples(index=False):
            aliases[iri].append(alias)
        kinds = class_kinds()
        out = pd.DataFrame(
            {
                "iri": df["entity"],
                "label": df["label"],
                "kind": [kinds.get(c, "") for c in df["cls"]],
                "class": [c.removeprefix(KGO) for c in df["cls"]],
                "aliases": [sorted(aliases.get(i, ())) for i in df["entity"]],
                "mentions": df["mentions"].fillna(0).astype(int),
                "new": df["new"].fillna(False).astype(bool),
                "level": df["level"].astype("Int64"),
                "code": df["code"],
            }
        )
        return out.sort_values("iri", ignore_index=True)

    @cached_property
    def articles(self) -> pd.DataFrame:
        """One row per article: iri, doc, headline, start, end (offsets into the document), authors (IRIs)."""
        df = self._select(_ARTICLES).rename(columns={"article": "iri"})
        authors: dict[str, list[str]] = defaultdict(list)
        for article, author in self._select(_AUTHORS).itertuples(index=False):
            authors[article].append(author)
        df["authors"] = [sorted(authors.get(a, ())) for a in df["iri"]]
        return df.sort_values(["doc", "start"], ignore_index=True)

    @cached_property
    def mentions(self) -> pd.DataFrame:
        """One row per mention (mentions.trig): article, doc, start, end, text, entity (IRI), label
        (NER label), sentence with its start and end. Empty when the folder has no mentions.trig."""
        columns = ["article", "doc", "start", "end", "text", "entity", "label", "sentence", "sentence_start", "sentence_end"]
        if len(data_files(self.folder)) < 2:
            return pd.DataFrame(columns=columns)
        df = self._select(_MENTIONS)[columns]
        return df.sort_values(["doc", "start", "end"], ignore_index=True)

    @cached_property
    def relations(self) -> pd.DataFrame:
        """One row per relation and evidence sentence: subject, subject_label, predicate (key, e.g.
        runsProgramme), object, object_label, confidence, count, cues, sentence, doc, start, end,
        source ("text" for a relation read from a sentence, "ontology" for one the ontology states)
        and statement (the IRI of the reified kgo:Statement). schema:mentions is in `.mentions`."""
        keys = predicate_keys()
        listed = ", ".join(f"<{iri}>" for iri, key in sorted(keys.items()) if key != "mentions")
        df = self._select(_RELATIONS % listed)
        cues: dict[str, list[str]] = defaultdict(list)
        for statement, cue in self._select(_CUES).itertuples(index=False):
            cues[statement].append(cue)
        labels = self._labels()
        out = pd.DataFrame(
            {
                "subject": df["subject"],
                "subject_label": [labels.get(s, "") for s in df["subject"]],
                "predicate": [keys[p] for p in df["predicate"]],
                "object": df["object"],
                "object_label": [labels.get(o, "") for o in df["object"]],
                "confidence": df["confidence"].astype(float),
                "count": df["count"].astype("Int64"),
                "cues": [sorted(cues.get(s, ())) if isinstance(s, str) else [] for s in df["statement"]],
                "sentence": df["sentence"],
                "doc": df["doc"],
                "start": df["start"].astype("Int64"),
                "end": df["end"].astype("Int64"),
                "source": ["text" if isinstance(s, str) else "ontology" for s in df["statement"]],
                "statement": df["statement"],
            }
        )
        return out.sort_values(["predicate", "subject", "object", "doc", "start"], ignore_index=True, na_position="first")

    def _labels(self) -> dict[str, str]:
        labels = dict(zip(self.entities["iri"], self.entities["label"]))
        labels.update(zip(self.articles["iri"], self.articles["headline"]))
        return labels

    # -- networkx -------------------------------------------------------------------------------
    @cached_property
    def nx(self) -> nx.MultiDiGraph:
        """The graph as networkx: node IDs are the IRIs of the RDF, edges keyed by predicate.

        Entity nodes carry type (PERSON … POLICY), label, aliases, mentions, new, cls, level, code;
        article nodes type ARTICLE, label (the headline), doc, start, end. Every edge carries
        confidence, count, evidence [(doc, start, end) …], cues and source ("text" or "ontology"),
        as kg.graph builds them; article → entity edges (mentions) have the mentions as evidence.
        """
        g = nx.MultiDiGraph()
        for row in self.articles.itertuples(index=False):
            g.add_node(row.iri, type=ARTICLE, label=row.headline, aliases=[], mentions=0, new=False,
                       doc=row.doc, start=int(row.start), end=int(row.end))
        for row in self.entities.to_dict("records"):
            attrs = dict(type=row["kind"], label=row["label"], aliases=list(row["aliases"]),
                         mentions=int(row["mentions"]), new=bool(row["new"]), cls=KGO + row["class"])
            if not pd.isna(row["level"]):
                attrs["level"] = int(row["level"])
            if isinstance(row["code"], str):
                attrs["code"] = row["code"]
            g.add_node(row["iri"], **attrs)
        edges: dict[tuple[str, str, str], dict] = {}
        for row in self.relations.itertuples(index=False):
            if row.subject not in g or row.object not in g:
                continue
            e = edges.setdefault(
                (row.subject, row.object, row.predicate),
                {"confidence": 1.0 if row.source == "ontology" else float(row.confidence),
                 "count": 0 if pd.isna(row.count) else int(row.count),
                 "evidence": [], "cues": list(row.cues), "source": row.source},
            )
            if isinstance(row.doc, str):
                e["evidence"].append((row.doc, int(row.start), int(row.end)))
        for row in self.mentions.itertuples(index=False):
            e = edges.setdefault((row.article, row.entity, "mentions"),
                                 {"confidence": 1.0, "count": 0, "evidence": [], "cues": [], "source": "text"})
            e["evidence"].append((row.doc, int(row.start), int(row.end)))
            e["count"] = len(e["evidence"])
        for (s, o, key), data in sorted(edges.items()):
            if s in g and o in g:
                data["evidence"].sort()
                g.add_edge(s, o, key=key, **data)
        return g



    # -- interactive view -----------------------------------------------------------------------
    def interactive(self, nodes=None, *, height: int = 600, limit: int = 60):
        """An interactive pyvis view of some nodes and the relations among them, to show inline.

        `nodes` are IRIs (default: the `limit` entities with the most neighbours). Colours and
        shapes are those of the HTML pages; the page is self-contained (vis-network inline, nothing
        fetched from the web) and shown in an iframe of its own, so it works offline.

        >>> g.interactive(g.entities.query("kind == 'PROGRAMME'")["iri"])  # doctest: +SKIP
        """
        from IPython.display import HTML
        from pyvis.network import Network

        from kg.html import FONT, SEED, rel_style, type_style

        if nodes is None:
            degree = {n: d for n, d in nx.Graph(self.nx).degree() if self.nx.nodes[n]["type"] != ARTICLE}
            nodes = sorted(degree, key=lambda n: (-degree[n], n))[:limit]
        keep = [n for n in dict.fromkeys(nodes) if n in self.nx]
        net = Network(height=f"{height}px", width="100%", directed=True, cdn_resources="in_line")
        for n in keep:
            a = self.nx.nodes[n]
            st = type_style(a["type"])
            net.add_node(n, label=a["label"], title=f"{a['label']} ({st.zh} {st.en})\n{n}", shape=st.shape,
                         color=st.colour, value=1 + self.nx.degree(n))
        for s, o, key, data in sorted(self.nx.subgraph(keep).edges(keys=True, data=True)):
            st = rel_style(key)
            conf = f", confidence {data['confidence']:.2f}" if data.get("source") == "text" else ""
            net.add_edge(s, o, title=f"{st.zh} {st.en}{conf}", color=st.colour, dashes=st.dashes,
                         arrows="to" if st.arrow else "")
        net.set_options(json.dumps({
            "layout": {"randomSeed": SEED},
            "physics": {"stabilization": {"iterations": 300}},
            "nodes": {"font": {"face": FONT}, "scaling": {"min": 8, "max": 30}},
            "interaction": {"hover": True},
        }))
        page = offline_page(net)
        # an iframe of its own: the page's scripts run in Jupyter, JupyterLab and VS Code alike
        return HTML(f'<div><iframe srcdoc="{html.escape(page)}" style="width:100%; height:{height + 20}px; '
                    f'border:0"></iframe></div>')


def offline_page(net) -> str:
    """A pyvis network as one self-contained HTML page: vis-network inline, nothing fetched from the web."""
    page = net.generate_html()
    # pyvis links Bootstrap from a CDN for menus a plain network does not have: drop the links
    return _REMOTE.sub("", page)


_REMOTE = re.compile(r'<(link|script)\b[^>]*\b(?:href|src)="https?://[^"]*"[^>]*>(?:\s*</script>)?', re.S)


def predicate_keys() -> dict[str, str]:
    """Predicate IRI → the key kg.graph uses for it (runsProgramme, containedInPlace …)."""
    from kg.rdf import PREDICATE_IRI

    return {iri: key for key, iri in PREDICATE_IRI.items()}


def class_kinds(schema: Path = SCHEMA_FILE) -> dict[str, str]:
    """Class IRI → NER label (PERSON, ORG, PLACE, PROGRAMME, POLICY), inherited along rdfs:subClassOf."""
    label, parents = {}, defaultdict(list)
    for quad in ox.parse(path=str(schema), format=ox.RdfFormat.TURTLE):
        if quad.predicate.value == KGO + "nerLabel":
            label[quad.subject.value] = quad.object.value
        elif quad.predicate.value == PREFIXES["rdfs"] + "subClassOf":
            parents[quad.subject.value].append(quad.object.value)

    def kind(cls: str, seen: frozenset = frozenset()) -> str:
        if cls in label:
            return label[cls]
        for parent in parents.get(cls, ()):
            if parent not in seen and (found := kind(parent, seen | {cls})):
                return found
        return ""

    return {c: k for c in set(label) | set(parents) if (k := kind(c))}


__all__ = ["KG", "class_kinds", "load", "offline_page", "predicate_keys"]
