"""Per-band statistics of a dataset, for normalisation."""

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..datasets import ACKDDataset
from ..datasets.ackd import Sample


class PseudoRGBView:
    """The pseudo-RGB views of a dataset's MS images, for their statistics."""

    def __init__(self, dataset: ACKDDataset, transform: nn.Module) -> None:
        """Initialize a new PseudoRGBView instance.

        Args:
            dataset: An MS dataset.
            transform: (B, C, H, W) MS -> (B, 3, H, W) pseudo-RGB.
        """
        self.dataset = dataset
        self.transform = transform
        self.folder = dataset.folder

    def __len__(self) -> int:
        """Length of the wrapped dataset."""
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        """The sample with its image turned into pseudo-RGB (3, H, W)."""
        sample = dict(self.dataset[index])
        sample['image'] = self.transform(sample['image'][None].float())[0]
        return sample


def band_statistics(
    dataset: ACKDDataset | Any, max_samples: int, seed: int
) -> tuple[Tensor, Tensor]:
    """Per-band mean and standard deviation over (a sample of) a dataset.

    Args:
        dataset: Dataset returning ``image`` (C, H, W).
        max_samples: Read at most this many images (a seeded random subset).
        seed: Seed of the subset.

    Returns:
        Mean and standard deviation, each (C,), float32; std is at least 1e-6.
    """
    if len(dataset) == 0:
        raise ValueError(
            f'cannot compute statistics of an empty dataset ({dataset.folder})'
        )
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=g)[:max_samples].sort().values
    total = torch.zeros((), dtype=torch.float64)
    sums: Tensor | None = None
    squares: Tensor | None = None
    for i in order.tolist():
        image = dataset[i]['image'].double().flatten(1)
        s, q = image.sum(dim=1), (image**2).sum(dim=1)
        sums = s if sums is None else sums + s
        squares = q if squares is None else squares + q
        total += image.shape[1]
    assert sums is not None and squares is not None
    mean = sums / total
    var = (squares / total - mean**2).clamp_min(0)
    return mean.float(), var.sqrt().clamp_min(1e-6).float()


def tensor_or_none(values: Sequence[float] | None) -> Tensor | None:
    """A float32 tensor of *values*, or None."""
    return None if values is None else torch.tensor(list(values), dtype=torch.float32)
