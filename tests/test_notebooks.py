"""The notebooks run top to bottom on a fresh build of the seeds and show its data."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def outputs(nb) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def shown(nb) -> str:
    """Everything a reader sees: streams, plain and HTML representations."""
    parts = []
    for o in outputs(nb):
        parts.append(o.get("text", ""))
        data = o.get("data", {})
        parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


def test_notebooks_exist():
    assert any(p.name == "explore.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert not outputs(nb), f"{path.name}: clear the outputs before committing"
    assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_seeds_build(path, seeds_build, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("KG_OUTPUT", str(seeds_build.out))  # the kernel inherits the environment
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    text = shown(nb)
    assert str(seeds_build.out) in text  # it read the fresh build, not output/
    for word in ("双报到", "铁西区", "东煤社区", "红心物业"):
        assert word in text, f"{path.name}: no output shows {word}"
    assert "<table" in text  # pandas tables
    assert any("image/png" in o.get("data", {}) for o in outputs(nb)), "no plot"
    assert "vis.Network" in text or "vis-network" in text, "no interactive graph"
    assert "https://" not in _script_sources(text), "the interactive graph must not load scripts from the web"
    stderr = [o.text for o in outputs(nb) if o.get("name") == "stderr"]
    assert not stderr, stderr


def _script_sources(text: str) -> str:
    import re

    return " ".join(re.findall(r"<script[^>]*\bsrc=[^>]*>", text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")))
