"""Batches fetched whole (the DataLoader's ``__getitems__`` protocol)."""

from collections.abc import Sequence
from typing import Any

from torch import Tensor
from torch.utils.data import default_collate

Sample = dict[str, Tensor]


class FetchedBatch(list[Sample]):
    """The samples of one batch fetched at once, and the batch they make.

    A dataset's ``__getitems__`` returns it: a list of samples, as the
    DataLoader expects (any collate function works on it), that also holds
    :attr:`collated`, the same samples as one batch, so that
    :func:`collate_fetched` hands the batch on without copying every image a
    second time. Each sample's tensors are views into :attr:`collated`.
    """

    def __init__(self, collated: Sample) -> None:
        """Initialize a new FetchedBatch instance.

        Args:
            collated: The batch: tensors with the sample dimension first, (B, ...).
        """
        size = len(next(iter(collated.values())))
        super().__init__(
            {key: value[i] for key, value in collated.items()} for i in range(size)
        )
        self.collated = collated

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> 'FetchedBatch':
        """Collate samples fetched one by one (a stack of each key).

        Args:
            samples: Samples with the same keys.

        Returns:
            The batch.
        """
        return cls(default_collate(list(samples)))


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
