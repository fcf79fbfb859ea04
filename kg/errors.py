"""The one error family of kg: every failure a user can cause is a KGError."""

from __future__ import annotations


class KGError(Exception):
    """Base class for errors raised by kg. Only `kg.cli` catches it."""


class InputError(KGError):
    """An input file cannot be read as a text document."""


class OntologyError(KGError):
    """An ontology file is malformed or inconsistent."""


class ConfigError(KGError):
    """A pipeline configuration or model path is unusable."""


class GoldError(KGError):
    """A gold annotation file breaks the format of the annotation guidelines."""


class ValidationError(KGError):
    """A built graph does not conform to the SHACL shapes."""


class OutputError(KGError):
    """The output folder cannot be written safely (locked, not a folder, …)."""


class QueryError(KGError):
    """A SPARQL query cannot be parsed or run."""
