"""Decoding a split's images once into one tensor, every value kept exact."""

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

_NUMPY_DTYPES = {
    torch.uint8: np.uint8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.float32: np.float32,
}


def storage(
    first: np.ndarray,  # type: ignore[type-arg]
    size: int | None,
) -> tuple[tuple[int, ...], torch.dtype]:
    """Shape and type of one decoded image, from a split's first image.

    Args:
        first: (C, H, W) the first image as stored.
        size: The side the dataset resizes its images to (None: none).

    Returns:
        Images to be resized: resized, as float32 (what the dataset computes
        from the file); others as stored, in the smallest type that holds the
        stored values exactly: uint8 as uint8, other integers of up to 16 bits
        as int16 (uint16 reflectance x 10000 fits), anything else as float32.
    """
    if size is not None and first.shape[-2:] != (size, size):
        return (first.shape[0], size, size), torch.float32
    if first.dtype == np.uint8:
        return first.shape, torch.uint8
    if first.dtype.kind in 'iu' and first.dtype.itemsize <= 2:
        return first.shape, torch.int16
    return first.shape, torch.float32


def decode_files(
    files: Sequence[Path],
    read: Callable[[Path], np.ndarray],  # type: ignore[type-arg]
    size: int | None,
    resize: Callable[[Tensor], Tensor],
) -> Tensor | None:
    """Every image of *files*, decoded into one (N, C, H, W) tensor.

    Args:
        files: The images (at least one).
        read: Reads one file as stored, (C, H, W).
        size: The side the dataset resizes to (None: none).
        resize: (C, H, W) float32 -> the dataset's size.

    Returns:
        The images (int16 values that do not fit are stored as int32), or
        None if the images differ in size and the dataset does not resize.
    """
    first = read(files[0])
    shape, dtype = storage(first, size)
    store = torch.empty((len(files), *shape), dtype=dtype)
    for i, path in enumerate(files):
        array = first if i == 0 else read(path)
        if dtype == torch.float32 and size is not None:
            store[i] = resize(torch.from_numpy(array.astype(np.float32)))
            continue
        if array.shape != first.shape:
            return None
        if store.dtype == torch.int16 and (
            array.max(initial=0) > 32767 or array.min(initial=0) < -32768
        ):
            store = store.to(torch.int32)  # rare: keep every value exact
        store[i] = torch.from_numpy(array.astype(_NUMPY_DTYPES[store.dtype]))
    return store
