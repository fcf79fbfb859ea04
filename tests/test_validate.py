"""kg validate: the SHACL shapes accept a good build and list what is wrong with a broken one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kg.cli import main
from kg.errors import ValidationError
from kg.validate import validate

DATA = Path(__file__).parent / "data"
GOOD = DATA / "ld_out"  # what kg build writes for tests/data/ld_doc.txt (see tests/data/ld_make.py)


def broken(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of the good fixture with one edit, which must apply."""
    out = tmp_path / "out"
    shutil.copytree(GOOD, out)
    text = (out / file).read_text(encoding="utf-8")
    if old not in text:
        raise LookupError(f"{file}: fixture text not found: {old!r}")
    (out / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return out


def test_validate_good_fixture_conforms():
    report = validate(GOOD)
    assert report.conforms and not report.results, [str(r) for r in report.results]
    assert report.check() is report
    assert report.triples > 500


def test_validate_cli_exits_zero_on_good_output(capsys):
    assert main(["validate", str(GOOD)]) == 0
    assert "conforms" in capsys.readouterr().out


def test_validate_cli_defaults_to_kg_output(monkeypatch, capsys):
    monkeypatch.setenv("KG_OUTPUT", str(GOOD))
    assert main(["validate"]) == 0


BROKEN = {
    # an entity without its Chinese label
    "no-preflabel": ("kg.ttl", '\tskos:prefLabel "双报到"@zh ;\n', "", "kgr:programme/shuangbaodao skos:prefLabel"),
    # a label in the wrong language
    "english-label": ("kg.ttl", 'skos:prefLabel "红心物业"@zh', 'skos:prefLabel "Red heart"@en', "kgr:programme/hongxin-wuye skos:prefLabel"),
    # a NIF string whose begin lies after its end
    "begin-after-end": (
        "kg.ttl",
        'kgr:doc\\/ld_doc\\#char\\=11\\,19 nif:anchorOf "本报记者 孙晓楠" ;\n\tnif:beginIndex 11',
        'kgr:doc\\/ld_doc\\#char\\=11\\,19 nif:anchorOf "本报记者 孙晓楠" ;\n\tnif:beginIndex 25',
        "kgr:doc/ld_doc#char=11,19 nif:beginIndex",
    ),
    # a negative offset in a mention
    "negative-begin": (
        "mentions.trig",
        '"孙晓楠" ;\n\t\tnif:beginIndex 16',
        '"孙晓楠" ;\n\t\tnif:beginIndex -16',
        "kgr:doc/ld_doc#char=16,19 nif:beginIndex",
    ),
    # a range past the end of its document
    "past-the-end": ("kg.ttl", "kgo:characters 142", "kgo:characters 100", "nif:endIndex lies past the end"),
    # a confidence above 1
    "confidence": ("kg.ttl", "kgo:confidence 0.8 ;", "kgo:confidence 1.5 ;", "kgo:confidence"),
    # a statement without evidence
    "no-evidence": ("kg.ttl", "\tkgo:evidence kgr:doc\\/ld_doc\\#char\\=50\\,85 .", "\tkgo:count 1 .", "kgo:evidence"),
    # a reified relation that is not asserted
    "unasserted": ("kg.ttl", "\tkgo:issuedPolicy kgr:policy\\/xiaomalachache ;\n", "", "is not asserted"),
    # a community outside the admin tree
    "no-parent": (
        "kg.ttl",
        "\tschema:containedInPlace kgr:place\\/220302-t01 ;\n\tkgo:adminLevel 5",
        "\tkgo:adminLevel 5",
        "kgr:place/220302-t01-v001: an administrative division below province level",
    ),
    # two classes on one entity
    "two-classes": (
        "kg.ttl",
        "kgr:programme\\/shuangbaodao a kgo:Programme ;",
        "kgr:programme\\/shuangbaodao a kgo:Programme , kgo:Policy ;",
        "kgr:programme/shuangbaodao rdf:type",
    ),
    # a mention that names no entity, and one that names an entity kg.ttl does not have
    "no-identref": (
        "mentions.trig",
        "\t\titsrdf:taIdentRef kgr:new\\/person\\/7aff2f134fcd6dbe ;\n",
        "",
        "kgr:doc/ld_doc#char=16,19 itsrdf:taIdentRef",
    ),
    "dangling-identref": (
        "mentions.trig",
        "itsrdf:taIdentRef kgr:new\\/person\\/7aff2f134fcd6dbe",
        "itsrdf:taIdentRef kgr:new\\/person\\/nobody",
        "itsrdf:taIdentRef/rdf:type",
    ),
    # an alias that repeats the preferred label (SKOS S13)
    "alias-is-label": ("kg.ttl", '\tskos:prefLabel "双报到"@zh ;', '\tskos:prefLabel "双报到"@zh ; skos:altLabel "双报到"@zh ;', "disjoint"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_validate_lists_the_violation(tmp_path, case):
    file, old, new, expected = BROKEN[case]
    report = validate(broken(tmp_path, file, old, new))
    assert not report.conforms
    lines = [str(r) for r in report.violations]
    assert any(expected in line for line in lines), lines
    with pytest.raises(ValidationError, match="not valid"):
        report.check()


def test_validate_cli_exits_nonzero_with_one_line_per_violation(tmp_path, capsys):
    out = broken(tmp_path, "kg.ttl", '\tskos:prefLabel "双报到"@zh ;\n', "")
    text = (out / "kg.ttl").read_text(encoding="utf-8")
    text = text.replace("kgo:confidence 0.8 ;", "kgo:confidence 1.5 ;", 1)
    (out / "kg.ttl").write_text(text, encoding="utf-8")
    assert main(["validate", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    violations = [line for line in err if line.startswith("kg: error: Violation:")]
    assert len(violations) == 2, err
    assert any("kgr:programme/shuangbaodao skos:prefLabel:" in line for line in violations)
    assert any("kgo:confidence:" in line and "(value: 1.5)" in line for line in violations)


def test_validate_level_inversion_is_a_warning(tmp_path, capsys):
    # a text-derived containment against the curated levels: reported, not fatal unless --strict
    out = broken(
        tmp_path,
        "kg.ttl",
        "kgr:place\\/220303 a kgo:AdminDivision ;",
        "kgr:place\\/220303 a kgo:AdminDivision ; schema:containedInPlace kgr:place\\/220303-t01 ;",
    )
    report = validate(out)
    assert report.conforms and [r.severity for r in report.results] == ["Warning"]
    assert main(["validate", str(out)]) == 0
    assert "Warning: kgr:place/220303 schema:containedInPlace" in capsys.readouterr().err
    assert main(["validate", "--strict", str(out)]) == 1


def test_validate_missing_output_says_so(tmp_path):
    with pytest.raises(ValidationError, match="holds no kg.ttl"):
        validate(tmp_path)


def test_validate_malformed_turtle_names_the_file(tmp_path):
    out = broken(tmp_path, "kg.ttl", "kgo:characters 142 .", "kgo:characters 142")
    with pytest.raises(ValidationError, match="kg.ttl: not valid RDF"):
        validate(out)


def test_validate_seeds_build_conforms(seeds_build):
    report = validate(seeds_build.out)
    assert report.conforms, "\n".join(map(str, report.violations[:30]))


def test_validate_seeds_build_is_fast(seeds_build):
    validate(seeds_build.out)  # the shapes and pySHACL are loaded once per process
    report = validate(seeds_build.out)
    # the build calls validate on every run: it must stay a small part of it
    assert report.seconds["total"] < 10, report.seconds
