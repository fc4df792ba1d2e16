"""Cross-view retrieval accuracy: how well two embeddings of the same samples agree."""

import torch
import torch.nn.functional as F
from torch import Tensor


def nearest_neighbours(
    query: Tensor, gallery: Tensor, chunk_size: int = 4096
) -> Tensor:
    """Index of each query's most cosine-similar gallery row (ties: lowest index).

    Args:
        query: (N_q, D) embeddings.
        gallery: (N_g, D) embeddings.
        chunk_size: Queries per matrix product (memory: chunk_size x N_g).

    Returns:
        (N_q,) long gallery indices.
    """
    query = F.normalize(query.float(), dim=1)
    gallery_t = F.normalize(gallery.float(), dim=1).T
    return torch.cat(
        [
            (query[lo : lo + chunk_size] @ gallery_t).argmax(dim=1)
            for lo in range(0, len(query), chunk_size)
        ]
    )


def retrieval_top1(
    query: Tensor,
    gallery: Tensor,
    labels: Tensor | None = None,
    chunk_size: int = 4096,
) -> tuple[Tensor, Tensor | None]:
    """Top-1 cosine retrieval of each sample's other view, and of its class.

    Rows i of ``query`` and ``gallery`` are two views of one sample; query i hits
    when it retrieves row i (instance accuracy, chance 1 / N) or a row with label i
    (class accuracy). Ties go to the lowest index.

    Args:
        query: (N, D) query embeddings (e.g. pseudo-RGB).
        gallery: (N, D) gallery embeddings (e.g. MS), same order.
        labels: Optional (N,) integer class of each sample.
        chunk_size: Queries per matrix product (memory: chunk_size x N).

    Returns:
        Scalar float32 instance accuracy in [0, 1], and the class accuracy
        (``None`` without labels).

    Raises:
        ValueError: If the shapes differ or are empty.
    """
    if query.shape != gallery.shape or query.ndim != 2 or query.shape[0] == 0:
        raise ValueError(
            'query and gallery must be non-empty (N, D) tensors of equal shape, got '
            f'{tuple(query.shape)} and {tuple(gallery.shape)}'
        )
    if labels is not None and labels.shape != (len(query),):
        raise ValueError(
            f'labels must have shape ({len(query)},), got {tuple(labels.shape)}'
        )
    best = nearest_neighbours(query, gallery, chunk_size)
    own = torch.arange(len(query), device=query.device)
    instance = (best == own).float().mean()
    if labels is None:
        return instance, None
    return instance, (labels[best] == labels).float().mean()


def nearest_class_accuracy(
    query: Tensor,
    query_labels: Tensor,
    gallery: Tensor,
    gallery_labels: Tensor,
    chunk_size: int = 4096,
) -> Tensor:
    """Top-1 class accuracy of cosine retrieval over the whole gallery (all classes).

    A zero-shot measure that needs no pairs, e.g. the matcher's RGB (M_G) queries
    against its MS gallery (M_V).

    Args:
        query: (N_q, D) query embeddings.
        query_labels: (N_q,) integer classes.
        gallery: (N_g, D) gallery embeddings.
        gallery_labels: (N_g,) integer classes.
        chunk_size: Queries per matrix product.

    Returns:
        Scalar float32 accuracy in [0, 1].
    """
    if query.ndim != 2 or gallery.ndim != 2 or query.shape[1] != gallery.shape[1]:
        raise ValueError(
            'query and gallery must be (N, D) tensors of one width, got '
            f'{tuple(query.shape)} and {tuple(gallery.shape)}'
        )
    best = nearest_neighbours(query, gallery, chunk_size)
    hits = gallery_labels.to(best.device)[best] == query_labels.to(best.device)
    return hits.float().mean()
