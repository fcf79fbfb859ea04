"""Shared fixtures: the real ontology, the seeds, and one real build of them per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
SEEDS = ROOT / "seeds"
ONTOLOGY = ROOT / "ontology"
GOLD = DATA / "gold_seeds.jsonl"


@pytest.fixture(scope="session")
def onto():
    from kg.ontology import load_ontology

    return load_ontology(ONTOLOGY)


@pytest.fixture(scope="session")
def gold() -> dict[str, dict]:
    return {row["doc"]: row for row in map(json.loads, GOLD.read_text(encoding="utf-8").splitlines())}


@pytest.fixture(scope="session")
def seeds_build(tmp_path_factory):
    """One real `kg build` of the seeds, shared by the tests that read its outputs."""
    from kg.build import build

    out = tmp_path_factory.mktemp("build") / "out"
    report = build(SEEDS, out)
    return report


@pytest.fixture(scope="session")
def seeds_mentions(seeds_build) -> list[dict]:
    path = seeds_build.out / "mentions.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
