"""An exclusive lease on a warehouse, so that one writing run at a time plans from and writes to its tables.

The lease is an advisory lock (`flock`) on `<warehouse>/_lease`, held for the whole run. The operating
system releases it when the holding process ends in any way, so a killed run leaves no stale lease
behind. The file also says who holds it (run, host, process, since when) for the message a waiting
run prints. Warehouses that are not on a local or mounted file system (catalog tables, object
stores) get no lease: there, every write's Delta application transaction keeps a second run from
committing what the first already did (see `TableStore.begin`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipelines.errors import WarehouseBusy
from pipelines.storage import is_local_warehouse

log = logging.getLogger(__name__)

LEASE_FILE = "_lease"
POLL_SECONDS = 0.5


def _holder(fd: int) -> str:
    """Who holds the lease, as the holder wrote it (the file may be empty for a moment)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
        held = json.loads(text)
        return f"run {held['run']} on {held['host']} (process {held['pid']}) since {held['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another run"


def _locked(fd: int, root: Path) -> bool:
    """Take the lock if it is free. A file system without locks (some FUSE mounts) counts as taken, with a
    warning: the Delta application transactions still keep a second run from committing twice."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:
        log.warning("no lease on %s (%s): Delta application transactions keep runs apart", root, error)
    return True


@contextmanager
def warehouse_lease(warehouse: str, wait_seconds: float, run: str) -> Iterator[None]:
    """Hold the warehouse's lease for the body; wait up to `wait_seconds` for it, then raise WarehouseBusy."""
    if not is_local_warehouse(warehouse):
        log.info("no lease for %s (not a local file system): Delta application transactions keep runs apart", warehouse)
        yield
        return
    root = Path(warehouse.removeprefix("file://"))
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LEASE_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        announced = False
        while not _locked(fd, root):
            holder = _holder(fd)
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse {root} is in use by {holder}; gave up after waiting {wait_seconds:g} s"
                    " (lease_wait_seconds)"
                )
            if not announced:
                log.warning("waiting up to %g s for %s to finish with %s", wait_seconds, holder, root)
                announced = True
            time.sleep(POLL_SECONDS)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, json.dumps({"run": run, "host": socket.gethostname(), "pid": os.getpid(), "since": since}).encode(), 0
        )
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
