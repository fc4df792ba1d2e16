"""A dataset view that renames the image key."""

from collections.abc import Sequence

from torch.utils.data import Dataset

from .ackd import ACKDDataset
from .batch import FetchedBatch, Sample


class RenamedDataset(Dataset[Sample]):
    """A view of a dataset that renames its ``image`` key (e.g. to ``image_ms``)."""

    def __init__(self, dataset: ACKDDataset, key: str) -> None:
        """Initialize a new RenamedDataset instance.

        Args:
            dataset: Dataset to wrap.
            key: New name of the ``image`` key.
        """
        self.dataset = dataset
        self.key = key

    def __len__(self) -> int:
        """Length of the wrapped dataset."""
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        """Return the wrapped sample with ``image`` renamed.

        Args:
            index: Sample index.

        Returns:
            The sample, with its image under :attr:`key`.
        """
        sample = dict(self.dataset[index])
        sample[self.key] = sample.pop('image')
        return sample

    def __getitems__(self, indices: Sequence[int]) -> FetchedBatch:
        """Return the wrapped samples of one batch with ``image`` renamed.

        Args:
            indices: Sample indexes.

        Returns:
            The samples and their batch (:meth:`ACKDDataset.__getitems__`).
        """
        batch = dict(self.dataset.__getitems__(indices).collated)
        batch[self.key] = batch.pop('image')
        return FetchedBatch(batch)
