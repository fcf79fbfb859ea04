"""The NER stage: spaCy `zh` (character segmentation) with a gazetteer, rules, a span classifier and a
resolver, assembled from `configs/ner.cfg`.

    nlp = load_nlp(ontology=Path("ontology"))
    spans = extract_spans(nlp, text)   # kg.mention.Span, offsets into `text`

The NER reads `NerView(text)` (mid-sentence line breaks removed) and maps every span back, so a
name cut by a page break keeps the break inside its span.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kg.corpus import NerView
from kg.errors import ConfigError
from kg.mention import Span
from kg.ontology import Ontology

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# spaCy and the components are imported where a pipeline is loaded or run, not with the package:
# `kg build` reads DEFAULT_CONFIG in its main process, which extracts nothing when workers do.

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "configs" / "ner.cfg"
_PATH_KEYS = ("paths.ontology", "paths.model", "paths.lexicon", "paths.pkuseg_model")

__all__ = ["DEFAULT_CONFIG", "load_nlp", "extract_spans", "pipe_spans", "spans_of"]


def load_nlp(
    config: Path = DEFAULT_CONFIG,
    *,
    ontology: Ontology | Path | str,
    overrides: dict | None = None,
) -> Language:
    """The NER pipeline from a config, initialized with the ontology's names (a folder or an Ontology).

    `overrides` are dotted config keys, e.g. {"paths.model": None, "nlp.pipeline": [...]}.
    """
    from spacy.util import load_config, load_model_from_config

    import kg.ner.components  # noqa: F401  (registers the factories)
    import kg.ner.gazetteer  # noqa: F401  (registers kg.ontology_patterns.v1)
    import kg.ner.lexicon  # noqa: F401  (registers kg.lexicon.v1, kg.surnames.v1)
    from kg.ner.gazetteer import cached_patterns

    config = Path(config)
    if not config.is_file():
        raise ConfigError(f"{config}: no such NER config; the default one is {DEFAULT_CONFIG}.")
    overrides = dict(overrides or {})
    if isinstance(ontology, Ontology):
        overrides["paths.ontology"] = None
    else:
        overrides["paths.ontology"] = str(ontology)
    try:
        cfg = load_config(config, overrides=overrides, interpolate=False)
    except Exception as err:  # confection raises several types for bad configs and overrides
        raise ConfigError(f"{config}: cannot read the NER config ({err}).") from err
    for key in _PATH_KEYS:
        section, name = key.split(".")
        value = cfg.get(section, {}).get(name)
        if isinstance(value, str) and value:
            cfg[section][name] = str(_resolve(Path(value), key))
    try:
        nlp = load_model_from_config(cfg.interpolate(), auto_fill=True)
    except Exception as err:
        raise ConfigError(f"{config}: cannot build the NER pipeline ({err}).") from err
    nlp.initialize()
    if isinstance(ontology, Ontology) and "gazetteer" in nlp.pipe_names:
        nlp.get_pipe("gazetteer").add_patterns(cached_patterns(ontology))
    return nlp


def _resolve(path: Path, key: str) -> Path:
    if path.is_absolute() or path.exists():
        return path
    if (ROOT / path).exists():
        return ROOT / path
    raise ConfigError(f"{path}: no such file or folder (config key {key}); give a path that exists.")


def spans_of(doc, view: NerView) -> list[Span]:
    """The doc's mentions with offsets mapped from the NER view back to the original text."""
    out = []
    for s in doc._.kg_spans or ():
        start, end = view.span(s.start, s.end)
        out.append(Span(start, end, s.label, s.source, s.kb_id))
    return sorted(out, key=lambda s: (s.start, s.end, s.label))


def extract_spans(nlp: Language, text: str) -> list[Span]:
    """Run the NER over NerView(text) and return non-overlapping spans with offsets into `text`
    (the original), sorted; Span.kb_id is the ontology IRI when a gazetteer name matched exactly."""
    from kg.ner.candidates import make_doc

    view = NerView(text)
    return spans_of(nlp(make_doc(nlp, view.text, tokens=False)), view)


def pipe_spans(nlp: Language, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[list[Span]]:
    """`extract_spans` over many texts, batched with nlp.pipe; one list per text, in order."""
    from kg.ner.candidates import make_doc

    views = (NerView(t) for t in texts)
    pending: list[NerView] = []

    def view_docs() -> Iterator[Doc]:
        for v in views:
            pending.append(v)
            yield make_doc(nlp, v.text, tokens=False)

    for doc in nlp.pipe(view_docs(), batch_size=batch_size):
        view = pending.pop(0)
        yield spans_of(doc, view)
