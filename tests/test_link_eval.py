"""Linking scores: B-cubed and the pairwise scores a surface-string linker cannot pass."""

from __future__ import annotations

import json
import subprocess
import sys

from kg.link_eval import score_links

from .conftest import GOLD

GOLD_DOCS = {
    "a": [
        {"start": 0, "end": 3, "label": "PLACE", "text": "铁东区", "canonical": "四平市铁东区"},
        {"start": 5, "end": 7, "label": "PLACE", "text": "铁东", "canonical": "四平市铁东区"},
        {"start": 9, "end": 11, "label": "ORG", "text": "区委", "canonical": "中共四平市铁东区委员会"},
    ],
    "b": [
        {"start": 0, "end": 2, "label": "ORG", "text": "区委", "canonical": "中共四平市铁西区委员会"},
        {"start": 4, "end": 8, "label": "ORG", "text": "铁西区委", "canonical": "中共四平市铁西区委员会"},
    ],
}


def _pred(assign):
    return [{"doc": d, "start": e["start"], "end": e["end"], "label": e["label"], "entity": assign(d, e)}
            for d, es in GOLD_DOCS.items() for e in es]


def test_score_links_surface_linker_resolves_nothing():
    s = score_links(GOLD_DOCS, _pred(lambda d, e: e["text"]))
    assert s.alias_pairs == 2 and s.alias_recall == 0.0
    assert s.homonym_pairs == 1 and s.homonym_separation == 0.0
    assert s.pair_precision == 0.0


def test_score_links_perfect_linker_scores_one():
    s = score_links(GOLD_DOCS, _pred(lambda d, e: e["canonical"]))
    assert (s.bcubed_f1, s.alias_recall, s.homonym_separation, s.pair_precision) == (1.0, 1.0, 1.0, 1.0)


def test_score_links_counts_only_mentions_found_exactly():
    pred = _pred(lambda d, e: e["canonical"])
    pred[0]["end"] += 1  # a wrong boundary is not scored
    assert score_links(GOLD_DOCS, pred).mentions == 4


def test_cli_eval_prints_linking_scores(tmp_path):
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "kg.cli", "eval", "--gold", str(GOLD), "--json", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "alias recall" in run.stdout and "homonym separation" in run.stdout
    linking = json.loads(out.read_text(encoding="utf-8"))["linking"]
    assert linking["alias_recall"] >= 0.9 and linking["pair_precision"] >= 0.95
