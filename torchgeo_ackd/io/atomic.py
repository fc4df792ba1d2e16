"""Write a file atomically: readers see the old file or the new one, never half."""

import fnmatch
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


@contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = 'wb', **kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary sibling of *path* for writing; rename it into place on success.

    The parent folder is created if needed. On an exception the temporary file
    is removed and any previous *path* is left untouched.

    Args:
        path: Final file path.
        mode: Write mode (``'wb'`` or ``'w'``).
        **kwargs: Passed to :func:`os.fdopen` (e.g. ``newline=''``).

    Yields:
        The open temporary file.
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f'.{os.path.basename(path)}.', suffix='.tmp'
    )
    try:
        # mkstemp creates 0600; give the file the mode any other output gets.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    crash_point(path)


#: Tests only: a glob; the process exits (status 99, no clean-up, like a kill)
#: right after a write whose path (or :func:`crash_point` label) matches it.
CRASH_ENV = 'TORCHGEO_ACKD_TEST_EXIT_AFTER'


def crash_point(label: str) -> None:
    """Exit at once if the tests asked to be killed right after *label*.

    Called after every atomic write and named pipeline step, to test recovery.

    Args:
        label: The path just written, or a step's name.
    """
    pattern = os.environ.get(CRASH_ENV)
    if pattern and fnmatch.fnmatch(label, pattern):
        print(f'[test] exiting right after {label}', flush=True)
        os._exit(99)


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
