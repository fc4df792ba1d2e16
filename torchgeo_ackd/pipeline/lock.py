"""One pipeline per output folder: a lock file with the holder's PID and host."""

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The lock file inside ``--out``.
LOCK_FILE = '.pipeline.lock'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _try_create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    holder = {'pid': os.getpid(), 'host': socket.gethostname(), 'since': time.time()}
    with os.fdopen(fd, 'w') as f:
        json.dump(holder, f)
    return True


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.pipeline.lock`` while the pipeline writes into *out*.

    A lock left by a process that no longer runs on this host is taken over,
    with a message. A lock held by a live process, or by another host, is an
    error that names the holder.

    Args:
        out: The output folder (created if needed).

    Yields:
        Nothing; the lock is released on exit.

    Raises:
        RuntimeError: If another pipeline holds the lock.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    while not _try_create(path):
        try:
            holder = json.loads(path.read_text())
            pid, host = int(holder['pid']), str(holder['host'])
        except (OSError, ValueError, KeyError, TypeError):
            holder, pid, host = {}, -1, '?'
            # Being written by a process that has just created it?
            if path.exists() and time.time() - path.stat().st_mtime < 5:
                time.sleep(0.2)
                continue
        since = time.strftime(
            '%Y-%m-%d %H:%M:%S', time.localtime(float(holder.get('since', 0)))
        )
        if (host == socket.gethostname() and not _alive(pid)) or pid == -1:
            print(
                f'[lock] {path}: taking over a stale lock (PID {pid} on {host}, '
                f'since {since}, no longer runs)',
                flush=True,
            )
            path.unlink(missing_ok=True)
            continue
        raise RuntimeError(
            f'{out} is in use by another pipeline (PID {pid} on {host}, since '
            f'{since}): wait for it, or choose another --out. If that process is '
            f'gone (e.g. on another machine), delete {path}'
        )
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
