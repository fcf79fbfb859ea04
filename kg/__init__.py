"""kg: knowledge graphs from Chinese local-governance news.

`kg.load(folder)` (see `kg.api`) gives a built graph to notebooks and scripts.
"""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    # the notebook API is imported on first use, so `import kg` stays light for the CLI
    if name in ("load", "KG"):
        from kg import api

        return getattr(api, name)
    raise AttributeError(name)
