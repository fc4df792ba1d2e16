"""Batches fetched whole (the DataLoader's ``__getitems__`` protocol)."""

from collections.abc import Sequence
from typing import Any, overload

from torch import Tensor
from torch.utils.data import default_collate

Sample = dict[str, Tensor]


class FetchedBatch(Sequence[Sample]):
    """The samples of one batch fetched at once, and the batch they make.

    A dataset's ``__getitems__`` returns it: a sequence of samples (any collate
    function works on it) holding :attr:`collated`, the same samples as one batch,
    which :func:`collate_fetched` hands on without copying the images again.
    Samples are made only when asked for, as views into :attr:`collated`.
    """

    def __init__(self, collated: Sample) -> None:
        """Initialize a new FetchedBatch instance.

        Args:
            collated: The batch: tensors with the sample dimension first, (B, ...).
        """
        self.collated = collated
        self._size = len(next(iter(collated.values())))

    def __len__(self) -> int:
        """Number of samples."""
        return self._size

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        """One sample (views into :attr:`collated`), or a list of them.

        Args:
            index: Sample position or slice.

        Returns:
            The sample(s).
        """
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if not -self._size <= index < self._size:
            raise IndexError(f'sample {index} of a batch of {self._size}')
        return {key: value[index] for key, value in self.collated.items()}


def collate_fetched(samples: Sequence[Any]) -> Any:
    """Collate a batch: a :class:`FetchedBatch` is already collated.

    Args:
        samples: The samples of one batch, from ``__getitem__`` or ``__getitems__``.

    Returns:
        The batch.
    """
    if isinstance(samples, FetchedBatch):
        return samples.collated
    return default_collate(list(samples))
