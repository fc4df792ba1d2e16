"""Split a sequential loader across distributed ranks for embedding."""

import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler


def shard_loader(loader: DataLoader) -> DataLoader:  # type: ignore[type-arg]
    """The same loader restricted to this rank's shard, when running distributed.

    Each rank then embeds only its part and :func:`compute_embeddings` gathers
    the rows, so every rank ends with the identical full result.

    Args:
        loader: An unshuffled loader over a map-style dataset.

    Returns:
        *loader* itself when ``torch.distributed`` is not initialised, else a
        copy with an unshuffled :class:`DistributedSampler`.
    """
    if (
        not (dist.is_available() and dist.is_initialized())
        or dist.get_world_size() == 1
    ):
        return loader
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=DistributedSampler(loader.dataset, shuffle=False),  # type: ignore[arg-type]
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
    )
