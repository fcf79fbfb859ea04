"""What an extraction process reads from disk at start instead of making: the gazetteer's patterns
(beside the ontology's cache) and the reach of jieba's words (beside its dictionary)."""

from __future__ import annotations

import shutil
from pathlib import Path

from kg.ner.gazetteer import cached_patterns, patterns_from
from kg.ner.lexicon import word_reach, word_reaches, word_tags
from kg.ontology import load_ontology

DATA = Path(__file__).parent / "data"


def test_kept_patterns_are_the_ontologys_and_follow_its_changes(tmp_path: Path) -> None:
    folder = tmp_path / "onto"
    shutil.copytree(DATA / "ner_ontology", folder, ignore=shutil.ignore_patterns(".cache"))
    onto = load_ontology(folder)
    assert cached_patterns(onto) == patterns_from(onto)
    assert list((folder / ".cache").glob("patterns-*.pickle"))  # kept
    assert cached_patterns(load_ontology(folder)) == patterns_from(onto)  # read back

    # a new name in the ontology: new patterns, not the kept ones
    ttl = next(p for p in sorted(folder.glob("*.ttl")) if "skos:prefLabel" in p.read_text(encoding="utf-8"))
    ttl.write_text(
        ttl.read_text(encoding="utf-8")
        + '\n<https://w3id.org/kg/resource/org/test-bureau> a <https://w3id.org/kg/ontology#Organisation> ;'
        ' <http://www.w3.org/2004/02/skos/core#prefLabel> "试验测绘局"@zh .\n',
        encoding="utf-8",
    )
    changed = load_ontology(folder)
    names = {p["pattern"] for p in cached_patterns(changed)}
    assert "试验测绘局" in names and cached_patterns(changed) == patterns_from(changed)
    assert len(list((folder / ".cache").glob("patterns-*.pickle"))) == 1  # the stale one removed


def test_an_ontology_made_in_memory_gets_its_patterns_made() -> None:
    onto = load_ontology(DATA / "ner_ontology").without_documents(["none"])
    assert onto.cache is None
    assert cached_patterns(onto) == patterns_from(onto)


def test_kept_word_reach_is_that_of_jiebas_words() -> None:
    first, last = word_reaches()
    assert (first, last) == word_reach(word_tags())
    assert first["中华"] >= 4 and last["中心"] >= 2  # 中华人民共和国, 服务中心 …
