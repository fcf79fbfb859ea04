"""kg query: the shipped SPARQL files answer their questions; user values arrive as bound values."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.cli import main
from kg.errors import QueryError
from kg.query import parameters, query_files, run_query, variables, with_values

DATA = Path(__file__).parent / "data"
LD = DATA / "ld_out"  # a small build: tests/data/ld_doc.txt through the real graph and RDF stages
QUERIES = [p.stem for p in query_files()]


def column(result, name: str) -> list:
    columns, rows = result
    i = columns.index(name)
    return [row[i] for row in rows]


def test_query_files_are_shipped_and_documented():
    assert set(QUERIES) >= {
        "programmes-by-place",
        "authors-of",
        "policies-by-organisation",
        "communities-in-place",
        "articles-mentioning",
        "relations-with-evidence",
    }
    for path in query_files():
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# ") and "?" in text.splitlines()[0], f"{path.name}: open with the question it answers"
        for name in parameters(text):
            assert name in variables(text), f"{path.name}: # bind: {name} is not a variable of the query"


@pytest.mark.parametrize("name", QUERIES)
def test_query_runs_on_fixture_and_engines_agree(name):
    columns, rows = run_query(name, LD)
    assert rows, f"{name}: no rows on the fixture"
    again = run_query(name, LD, engine="rdflib")
    assert again[0] == columns
    assert sorted(map(repr, again[1])) == sorted(map(repr, rows))


@pytest.mark.parametrize(
    "name, bindings, col, expected",
    [
        ("communities-in-place", {"place": "铁西区"}, "communityName", ["东煤社区"]),
        ("communities-in-place", {"place": "铁东区"}, "communityName", []),
        ("communities-in-place", {"place": "kgr:place/220302"}, "communityName", ["东煤社区"]),  # an IRI
        ("authors-of", {"topic": "双报到"}, "authorName", ["孙晓楠", "于德涛"]),
        ("authors-of", {"topic": "红心物业"}, "authorName", ["于德涛"]),
        ("policies-by-organisation", {"issuer": "铁西区委社会工作部"}, "policyName", ["破解基层治理“小马拉大车”突出问题任务清单"]),
        ("articles-mentioning", {"name": "铁西区民政局"}, "written", ["铁西区民政局"]),
        ("entities", {"class": "Person"}, "name", ["孙晓楠", "于德涛"]),
    ],
)
def test_query_bound_value_selects_rows(name, bindings, col, expected):
    for engine in ("oxigraph", "rdflib"):
        assert sorted(set(column(run_query(name, LD, bindings=bindings, engine=engine), col))) == sorted(expected)


def test_query_programmes_by_place_rolls_up_to_the_district():
    columns, rows = run_query("programmes-by-place", LD, bindings={"place": "铁东区"})
    got = {(r[columns.index("programmeName")], r[columns.index("actorName")]) for r in rows}
    # 铁东区 runs 红心物业 through its street 北门街道; the district itself is named too
    assert ("红心物业", "北门街道") in got
    unbound = column(run_query("programmes-by-place", LD), "placeName")
    assert set(unbound) == {"铁西区", "铁东区"}  # county-level divisions only


def test_query_relations_read_the_reification():
    columns, rows = run_query("relations-with-evidence", LD, bindings={"predicate": "issuedPolicy"})
    assert len(rows) == 1
    row = dict(zip(columns, rows[0]))
    assert row["subjectName"] == "中共四平市铁西区委社会工作部"
    assert row["confidence"] == pytest.approx(0.85) and row["cue"] == "印发"
    assert row["sentence"].startswith("铁西区委社会工作部印发《破解基层治理")
    assert (row["begin"], row["end"]) == (50, 85)
    every = run_query("relations-with-evidence", LD)
    assert "cooccursWith" not in column(every, "predicateName")
    assert all(0 <= c <= 1 for c in column(every, "confidence"))


# -- user values are bound values, never query text -------------------------------------------------

HOSTILE = [
    '铁西区" } UNION { ?community ?p ?o } #',
    "铁西区' } } SELECT * WHERE { ?s ?p ?o",
    '"} ; DROP ALL ; #',
    "a\\\" }\n} # \\u0022",
    "}}}{{{",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_query_hostile_value_stays_a_value(value, engine):
    # quotes and braces that would end the string and the group if pasted into the text
    assert run_query("communities-in-place", LD, bindings={"place": value}, engine=engine)[1] == []


def test_query_value_with_quotes_matches_exactly():
    # the policy title holds “ ” quotes; an ASCII quote and brace in a value match only themselves
    q = 'SELECT ?p WHERE { ?p skos:prefLabel ?l FILTER (STR(?l) = STR(?name)) }'
    title = "破解基层治理“小马拉大车”突出问题任务清单"
    assert column(run_query(q, LD, bindings={"name": title}), "p") == ["https://w3id.org/kg/id/policy/xiaomalachache"]
    assert run_query(q, LD, bindings={"name": title + '" } #'})[1] == []


def test_query_values_block_opens_the_where_group_only():
    text = '# { not here\nPREFIX ex: <http://example.org/#>\nSELECT ?x ("{" AS ?b) WHERE { ?x ?p ?name }'
    out = with_values(text, {"name": ox.Literal('a"}')})
    assert out.endswith('WHERE {\n  VALUES (?name) { ("a\\"}") }\n ?x ?p ?name }')
    assert out.startswith(text.split("WHERE")[0])


def test_query_bind_unknown_variable_is_an_error():
    with pytest.raises(QueryError, match=r"no variable \?nope"):
        run_query("communities-in-place", LD, bindings={"nope": "x"})


# -- the command line ----------------------------------------------------------------------------------


def test_query_cli_prints_a_table(capsys):
    assert main(["query", "communities-in-place", "--data", str(LD), "--bind", "place=铁西区"]) == 0
    out = capsys.readouterr().out
    assert "东煤社区" in out and "四平市铁西区站前街道东煤社区" in out and "(1 row)" in out
    assert "kgr:place/220302-t01-v001" in out  # IRIs written short in a table


def test_query_cli_csv_and_json(capsys):
    args = ["query", str(Path(__file__).parent.parent / "queries" / "authors-of.rq"), "--data", str(LD)]
    assert main([*args, "--bind", "topic=双报到", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["authorName"] for r in rows} == {"孙晓楠", "于德涛"}
    assert all(r["author"].startswith("https://w3id.org/kg/id/new/person/") for r in rows)
    assert main([*args, "--bind", "topic=双报到", "--format", "json"]) == 0
    assert {r["authorName"] for r in json.loads(capsys.readouterr().out)} == {"孙晓楠", "于德涛"}


def test_query_cli_takes_sparql_text_and_a_kg_ttl_file(capsys):
    text = "SELECT (COUNT(?p) AS ?n) WHERE { ?p a kgo:Programme }"
    assert main(["query", text, "--data", str(LD / "kg.ttl"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 2}]


@pytest.mark.parametrize(
    "args, message",
    [
        (["SELECT ?x WHERE { ?x ?y }"], r"<query>: not valid SPARQL"),
        (["no-such-query"], r"no-such-query: no such query file.*communities-in-place"),
        (["communities-in-place", "--data", "/nonexistent/out"], r"/nonexistent/out: no such file or folder"),
        (["communities-in-place", "--bind", "town=x"], r"no variable \?town"),
    ],
)
def test_query_cli_errors_name_the_problem(args, message, capsys):
    if "--data" not in args:
        args = [*args, "--data", str(LD)]
    assert main(["query", *args]) == 1
    assert re.search(message, capsys.readouterr().err)


def test_query_bad_sparql_in_a_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.rq"
    bad.write_text("SELECT ?x WHERE { ?x ", encoding="utf-8")
    with pytest.raises(QueryError, match=re.escape(str(bad))):
        run_query(bad, LD)


# -- the seeds: what a user asks, answered by a real build -------------------------------------------


@pytest.fixture(scope="module")
def seeds_store(seeds_build):
    from kg.query import load_store

    return load_store(seeds_build.out)


@pytest.mark.parametrize("name", QUERIES)
def test_query_seeds_every_file_has_rows_and_engines_agree(seeds_build, seeds_store, name):
    columns, rows = run_query(name, seeds_store)
    assert rows, f"{name}: no rows on the seeds"
    again = run_query(name, seeds_build.out, engine="rdflib")
    assert again[0] == columns and sorted(map(repr, again[1])) == sorted(map(repr, rows))


def test_query_seeds_communities_of_tiexi(seeds_store):
    communities = column(run_query("communities-in-place", seeds_store, bindings={"place": "铁西区"}), "communityName")
    assert "东煤社区" in communities
    # none of them lies in another district
    tiedong = column(run_query("communities-in-place", seeds_store, bindings={"place": "铁东区"}), "communityName")
    assert not set(communities) & set(tiedong)


def test_query_seeds_tiedong_runs_red_heart_property(seeds_store):
    programmes = column(run_query("programmes-by-place", seeds_store, bindings={"place": "铁东区"}), "programmeName")
    assert "红心物业" in programmes
    assert "双报到" in programmes


def test_query_seeds_authors(seeds_store):
    def authors(topic: str) -> set[str]:
        return set(column(run_query("authors-of", seeds_store, bindings={"topic": topic}), "authorName"))

    assert "孙晓楠" in authors("铁西区委社会工作部")
    assert "于德涛" in authors("护航春耕")
    assert "高野鹏" in authors("双报到")  # byline of “三联三抓”驱动“双报到”


def test_query_seeds_policy_issued_by_social_work_department(seeds_store):
    result = run_query("policies-by-organisation", seeds_store, bindings={"issuer": "铁西区委社会工作部"})
    assert "破解基层治理“小马拉大车”突出问题任务清单" in column(result, "policyName")
    assert all(s and "《" in s for s in column(result, "sentence"))  # each with the sentence that says so


def test_query_seeds_articles_mentioning_a_body_with_sentences(seeds_store):
    columns, rows = run_query("articles-mentioning", seeds_store, bindings={"name": "铁西区委社会工作部"})
    assert len({r[columns.index("article")] for r in rows}) >= 1 and len(rows) >= 2
    for r in rows:
        row = dict(zip(columns, r))
        assert row["written"] in row["sentence"].replace("\n", "")


def test_query_seeds_relations_have_confidence_and_sentence(seeds_store):
    columns, rows = run_query("relations-with-evidence", seeds_store)
    assert {"runsProgramme", "issuedPolicy", "author"} <= set(column((columns, rows), "predicateName"))
    for r in rows:
        row = dict(zip(columns, r))
        assert 0 <= row["confidence"] <= 1 and row["sentence"] and row["begin"] < row["end"]


def test_query_cli_defaults_to_kg_output(monkeypatch, capsys):
    monkeypatch.setenv("KG_OUTPUT", str(LD))
    assert main(["query", "entities", "--bind", "class=Programme", "--format", "json"]) == 0
    assert {r["name"] for r in json.loads(capsys.readouterr().out)} == {"双报到", "红心物业"}


def test_query_bind_invalid_iri_is_an_error():
    with pytest.raises(QueryError, match="not a valid IRI"):
        run_query("communities-in-place", LD, bindings={"place": "<http://a b>"})


def test_query_variables_ignore_comments_and_see_past_iris():
    text = "# ?commented\nSELECT ?a WHERE { ?a <http://example.org/#p> ?b } # ?c"
    assert variables(text) == {"a", "b"}
