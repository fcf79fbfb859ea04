"""Per-document extraction on a Dask cluster, for archives one machine cannot take.

Each worker loads the pipeline once (kg.build keeps one extractor per process) and the results
come back in input order, so a Dask build writes the same bytes as a local one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from kg.errors import ConfigError


def dask_map(fn: Callable, args: Sequence[tuple], *, scheduler: str) -> Iterator:
    """Run `fn(*a)` for every `a` on the cluster at `scheduler`, yielding results in order."""
    try:
        from distributed import Client
    except ModuleNotFoundError as err:
        raise ConfigError("--dask needs the 'distributed' package: pip install 'dask[distributed]'.") from err
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except OSError as err:
        raise ConfigError(f"--dask {scheduler}: cannot reach the scheduler ({err}).") from err
    try:
        futures = client.map(lambda a: fn(*a), list(args), pure=False, batch_size=64)
        for future in futures:
            yield future.result()
    finally:
        client.close()
