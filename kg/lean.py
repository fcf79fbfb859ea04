"""spaCy without its command line, for kg's own processes: imported, it defers `spacy.cli`.

`import spacy` imports `spacy.cli` (for `spacy.info`), and with it typer, click, weasel and the
module of every spaCy command: 0.25 s of the 0.6 s an extraction process spends importing before
it loads the pipeline, on the path a rebuild of one file waits for. kg's pipeline runs no spaCy
command. Until spaCy is imported, importing this module puts stand-ins for `spacy.cli` and
`spacy.cli.info` in `sys.modules`; the first thing asked of either imports the real module, so a
process that does run a command still gets it. The processes that import it first: the `kg`
command (`kg.cli.run`), the extraction pool's server (`kg.build.WORKER_MODULES`) and the worker
server (`kg.workers`). A library user's `import kg` leaves spaCy as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_DEFERRED = ("spacy.cli.info", "spacy.cli")


class _Deferred(types.ModuleType):
    """A stand-in for a module not imported yet: the first attribute asked of it imports the real one."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # what the import system probes (__spec__, __file__ …)
        return getattr(_real(self.__name__), name)


def _real(name: str) -> types.ModuleType:
    for stand_in in _DEFERRED:
        if isinstance(sys.modules.get(stand_in), _Deferred):
            del sys.modules[stand_in]
    return importlib.import_module(name)


def _info(*args: Any, **kwargs: Any) -> Any:
    """`spacy.info`: spaCy's, imported when called."""
    return _real("spacy.cli.info").info(*args, **kwargs)


def defer_spacy_cli() -> bool:
    """Put the stand-ins in place unless spaCy is imported already or not installed; whether it did."""
    if "spacy" in sys.modules or any(name in sys.modules for name in _DEFERRED):
        return False
    spec = importlib.util.find_spec("spacy")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        return False
    cli = _Deferred("spacy.cli")
    # its submodules stay importable by name (`import spacy.cli.download`), from spaCy's own folder
    cli.__path__ = [f"{location}/cli" for location in spec.submodule_search_locations]
    info = _Deferred("spacy.cli.info")
    info.info = _info  # what `import spacy` takes from it, without importing it
    sys.modules["spacy.cli"], sys.modules["spacy.cli.info"] = cli, info
    return True


defer_spacy_cli()
