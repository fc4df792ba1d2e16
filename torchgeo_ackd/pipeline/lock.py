"""One pipeline per output folder: an operating-system file lock (``filelock``).

Released when its holder exits or is killed (no stale lock); the holder writes its
PID, host and start time beside it, so a refused pipeline can name it.
"""

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

#: The lock file inside ``--out``.
LOCK_FILE = '.pipeline.lock'
#: Who holds the lock (PID, host, since), written once the lock is held.
HOLDER_FILE = '.pipeline.holder.json'


def _holder(out: Path) -> str:
    """The holder of *out*'s lock, as its holder file says (or 'unknown')."""
    try:
        holder = json.loads((out / HOLDER_FILE).read_text())
        since = time.strftime(
            '%Y-%m-%d %H:%M:%S', time.localtime(float(holder['since']))
        )
        return f'PID {int(holder["pid"])} on {holder["host"]}, since {since}'
    except (OSError, ValueError, KeyError, TypeError):
        return 'holder unknown'


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.pipeline.lock`` while the pipeline writes into *out*.

    Args:
        out: The output folder (created if needed).

    Yields:
        Nothing; the lock is released on exit.

    Raises:
        RuntimeError: If another pipeline holds the lock, naming it.
    """
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(out / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RuntimeError(
            f'{out} is in use by another pipeline ({_holder(out)}): wait for it, '
            'or choose another --out'
        ) from None
    try:
        holder = dict(pid=os.getpid(), host=socket.gethostname(), since=time.time())
        (out / HOLDER_FILE).write_text(json.dumps(holder))
        yield
    finally:
        (out / HOLDER_FILE).unlink(missing_ok=True)
        lock.release()
