"""Read files written by ``torch.save`` with errors that name the file.

``torch.load`` on an empty, truncated or foreign file fails deep inside torch (or
jsonargparse) without the file's name; these functions check first.
"""

import os
import zipfile
from pathlib import Path
from typing import Any


def check_torch_file(path: str | os.PathLike[str], what: str) -> Path:
    """Check that *path* looks like a whole file written by ``torch.save``.

    Cheap (it reads the file's end only): ``torch.save`` writes a zip archive,
    whose directory is the last thing written, so a truncated file has none.

    Args:
        path: The file.
        what: What it should be, for messages (e.g. ``'teacher checkpoint'``).

    Returns:
        *path* as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: If it does not exist.
        ValueError: If it is empty, truncated or not a torch file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{what} {str(path)!r} does not exist')
    size = path.stat().st_size
    if size == 0:
        raise ValueError(
            f'{what} {str(path)!r} is empty (0 bytes); expected a file written by '
            'torch.save (was the run killed while writing it?)'
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f'{what} {str(path)!r} ({size} bytes) is truncated or not a torch file: '
            'it lacks the zip directory that torch.save writes last'
        )
    return path


def read_torch_file(path: str | os.PathLike[str], what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, after :func:`check_torch_file`.

    Args:
        path: The file.
        what: What it should be, for messages.

    Returns:
        The loaded object.

    Raises:
        FileNotFoundError: If it does not exist.
        ValueError: If it is empty, truncated, not a torch file, or holds
            objects that ``weights_only=True`` refuses (e.g. a pickled class).
    """
    import torch

    path = check_torch_file(path, what)
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # Unpickling errors have many types.
        raise ValueError(
            f'{what} {str(path)!r} cannot be read with weights_only=True '
            f'({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ""})'
        ) from err
