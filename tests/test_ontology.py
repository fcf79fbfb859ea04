"""Loading the ontology: the real one, and broken ones that must stop a build with file and line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg.errors import OntologyError
from kg.ontology import KGR, load_ontology

from .conftest import ONTOLOGY, SEEDS

TINY = Path(__file__).parent / "data" / "tiny_ontology"


def test_ontology_has_the_real_divisions_of_siping(onto):
    siping = onto.lookup("四平市", "PLACE")
    assert [c.code for c in siping] == ["220300"]
    dongmei = [c for c in onto.lookup("东煤社区", "PLACE")]
    assert len(dongmei) == 1
    assert [onto.concepts[a].pref for a in onto.ancestors(dongmei[0].iri)] == ["站前街道", "铁西区", "四平市", "吉林省"]


def test_ontology_keeps_homonyms_apart(onto):
    assert len(onto.lookup("胜利村", "PLACE")) > 10
    assert len(onto.lookup("铁西区", "PLACE")) >= 2


def test_ontology_without_documents_drops_corpus_entries_of_those_documents(onto):
    only = next(c for c in onto.concepts.values() if len(c.derived_from) == 1)
    shared = next(c for c in onto.concepts.values() if len(c.derived_from) > 1)
    doc = only.derived_from[0].removeprefix(KGR + "doc/")
    smaller = onto.without_documents([doc])
    assert only.iri not in smaller.concepts
    # an entry other pages support stays, whichever of its pages is held out
    assert shared.iri in onto.without_documents([shared.derived_from[0].removeprefix(KGR + "doc/")]).concepts
    assert all(c.iri in smaller.concepts for c in onto.concepts.values() if not c.derived_from)


def _broken(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "onto"
    shutil.copytree(TINY, folder)
    (folder / "broken.ttl").write_text(extra, encoding="utf-8")
    return folder


PREFIXES = """@prefix kgo: <https://w3id.org/kg/ontology#> .
@prefix kgr: <https://w3id.org/kg/id/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <https://schema.org/> .
"""


def test_ontology_malformed_turtle_names_file_and_line(tmp_path):
    folder = _broken(tmp_path, PREFIXES + 'kgr:x a kgo:Place ;\n  skos:prefLabel "甲"@zh\nkgr:y a kgo:Place .\n')
    with pytest.raises(OntologyError, match=r"broken\.ttl:\d+: malformed Turtle"):
        load_ontology(folder, cache_dir=tmp_path / "c")


def test_ontology_unknown_class_is_named_with_the_valid_ones(tmp_path):
    folder = _broken(tmp_path, PREFIXES + 'kgr:x a kgo:Plaec ; skos:prefLabel "甲"@zh .\n')
    with pytest.raises(OntologyError, match=r"broken\.ttl:5: .*Plaec.*not a class.*Organisation"):
        load_ontology(folder, cache_dir=tmp_path / "c")


def test_ontology_alias_claimed_twice_under_one_parent_is_refused(tmp_path):
    folder = _broken(
        tmp_path,
        PREFIXES
        + 'kgr:a a kgo:AdminDivision ; skos:prefLabel "甲村"@zh ; skos:altLabel "甲"@zh ; schema:containedInPlace kgr:place\\/220302 .\n'
        + 'kgr:b a kgo:AdminDivision ; skos:prefLabel "乙村"@zh ; skos:altLabel "甲"@zh ; schema:containedInPlace kgr:place\\/220302 .\n',
    )
    with pytest.raises(OntologyError, match="broken.ttl:6: alias .甲. is claimed by"):
        load_ontology(folder, cache_dir=tmp_path / "c")


def test_ontology_concept_without_label_is_refused(tmp_path):
    folder = _broken(tmp_path, PREFIXES + "kgr:x a kgo:Organisation .\n")
    with pytest.raises(OntologyError, match=r"broken\.ttl:5: .*no skos:prefLabel@zh"):
        load_ontology(folder, cache_dir=tmp_path / "c")


def test_cli_build_stops_on_a_broken_ontology_before_touching_the_output(tmp_path):
    folder = _broken(tmp_path, PREFIXES + "kgr:x a kgo:Place ;;; .\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "kg.ttl").write_text("previous", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "kg.cli", "build", str(SEEDS), "--out", str(out), "--ontology", str(folder)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1
    assert "broken.ttl:" in run.stderr and "Traceback" not in run.stderr
    assert (out / "kg.ttl").read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in out.iterdir()) == ["kg.ttl"]


def test_an_ontology_is_read_before_only_as_its_files_are_when_it_was_read(tmp_path):
    # a build loads an ontology read before once its workers are on their way, any other first
    from kg.ontology import read_before

    folder = tmp_path / "onto"
    shutil.copytree(Path(__file__).parent / "data" / "tiny_ontology", folder)
    assert not read_before(folder)
    load_ontology(folder)
    assert read_before(folder)
    with (folder / "instances.ttl").open("a", encoding="utf-8") as fh:
        fh.write("\n# changed\n")
    assert not read_before(folder)
    broken = _broken(tmp_path / "b", PREFIXES + "kgr:x a kgo:Place ;;; .\n")
    with pytest.raises(OntologyError):
        load_ontology(broken)
    assert not read_before(broken) and not read_before(tmp_path / "none")


def test_real_ontology_folder_loads(onto):
    assert len(onto.concepts) > 15000 and ONTOLOGY.is_dir()
