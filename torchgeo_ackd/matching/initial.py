"""Initial pairing of Self-supervised Semantic Matching.

After the matcher is trained on MS images only, every real RGB training image
is embedded with the pseudo-RGB encoder M_G, every MS gallery image with the
MS encoder M_V, and each RGB image is paired with the MS image of its class of
highest cosine similarity. The engine takes the two embedding functions and
the two loaders; it knows no task and no datamodule.
"""

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from .embed import compute_embeddings
from .search import match_cosine
from .sharding import shard_loader

Batch = dict[str, Tensor]


def initial_pairing(
    embed_ms: Callable[[Tensor], Tensor],
    embed_rgb: Callable[[Tensor], Tensor],
    gallery: DataLoader,  # type: ignore[type-arg]
    students: DataLoader,  # type: ignore[type-arg]
    gallery_targets: Tensor,
    student_targets: Tensor,
    transform: Callable[[Batch], Batch] | None = None,
    chunk_size: int = 4096,
    device: torch.device | str = 'cpu',
    ms_embedding: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Pair every RGB training sample with its most similar same-class MS sample.

    Put the matcher in eval mode first (and, under :mod:`torch.distributed`,
    give every rank rank 0's buffers with
    :func:`~torchgeo_ackd.matching.embed.broadcast_buffers`): each rank embeds
    its shard of both loaders, the embeddings are gathered and every rank
    returns the same pairing.

    Args:
        embed_ms: Normalised MS batch (B, C, H, W) -> embeddings (B, D).
        embed_rgb: Normalised RGB batch (B, 3, H, W) -> embeddings (B, D).
        gallery: Loader of the MS gallery; batches hold ``image_ms``, ``index``.
        students: Loader of the RGB training set; batches hold ``image_rgb``,
            ``index``.
        gallery_targets: (N_t,) class of each gallery sample.
        student_targets: (N_s,) class of each student sample.
        transform: Applied to each batch on the device (normalisation).
        chunk_size: Students per similarity matrix product.
        device: Device of the forward passes.
        ms_embedding: (N_t, D) gallery embeddings already computed with
            *embed_ms* (e.g. for another use of the same gallery); the
            gallery loader is then not read.

    Returns:
        ``(pairing, scores)`` on the CPU: (N_s,) long gallery index of each
        student's match, and (N_s,) float32 cosine similarity of each pair.

    Raises:
        ValueError: If a student class has no gallery sample.
    """

    def embed(
        forward: Callable[[Tensor], Tensor],
        loader: DataLoader,  # type: ignore[type-arg]
        targets: Tensor,
        key: str,
    ) -> Tensor:
        return compute_embeddings(
            forward,
            shard_loader(loader),
            len(targets),
            key=key,
            device=device,
            transform=transform,
        )

    if ms_embedding is None:
        ms_embedding = embed(embed_ms, gallery, gallery_targets, 'image_ms')
    rgb_embedding = embed(embed_rgb, students, student_targets, 'image_rgb')
    pairing, scores = match_cosine(
        rgb_embedding,
        student_targets.to(rgb_embedding.device),
        ms_embedding,
        gallery_targets.to(ms_embedding.device),
        chunk_size=chunk_size,
    )
    return pairing.cpu(), scores.float().cpu()
