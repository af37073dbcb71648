"""The Dask cluster of a :class:`~aiotune.backends.dask.DaskBackend` session: connecting.

An asynchronous client of a running scheduler, or of a LocalCluster started for
the session, whose workers leave the tuner's session (so a terminal's Ctrl-C
reaches only the tuner).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..errors import MAIN_GUARD_ADVICE, AiotuneError, InvalidArgumentError

_WORKER_SETUP = "aiotune.backends._dask_worker"
"""The preload module (its ``dask_setup``) of the workers of a LocalCluster started here."""


def _import_distributed() -> tuple[Any, Any]:
    """``(Client, LocalCluster)``; raises InvalidArgumentError without Dask or outside asyncio."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise InvalidArgumentError("DaskBackend needs the asyncio backend of anyio") from None
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise InvalidArgumentError(
            "DaskBackend needs Dask's distributed package: pip install 'aiotune[dask]'"
        ) from exc
    return Client, LocalCluster


async def connect(
    stack: contextlib.AsyncExitStack,
    cluster_cls: Any,
    client_cls: Any,
    scheduler_address: str | None,
) -> Any:
    """An asynchronous client of ``scheduler_address`` (or of a LocalCluster started here)."""
    address: Any = scheduler_address
    if address is None:
        import dask.config

        preload = [*dask.config.get("distributed.worker.preload", []), _WORKER_SETUP]
        try:
            address = await stack.enter_async_context(
                cluster_cls(
                    asynchronous=True,
                    host="127.0.0.1",
                    dashboard_address=":0",
                    preload=preload,  # its workers leave our session: no Ctrl-C for them
                )
            )
        except Exception as exc:
            raise AiotuneError(
                f"DaskBackend could not start a local Dask cluster ({type(exc).__name__}: "
                f"{exc}); its workers import the main script, so if the tuning script "
                f"runs the Tuner unguarded, {MAIN_GUARD_ADVICE}"
            ) from exc
    return await stack.enter_async_context(
        client_cls(address, asynchronous=True, set_as_default=False)
    )
