"""CLIP-style symmetric InfoNCE with soft targets, the loss of the SSM matcher.

As in moein-shariatnia/OpenAI-CLIP (``CLIPModel.forward``), which the reference code
builds on: soft targets keep samples that look alike in both modalities from
being pushed apart as hard negatives.
"""

import math

import torch.nn.functional as F
from torch import Tensor


def clip_soft_infonce(
    ms_embedding: Tensor, rgb_embedding: Tensor, temperature: float = 1.0
) -> Tensor:
    """Symmetric soft-target InfoNCE between MS and (pseudo-)RGB embeddings.

    With ``m = ms_embedding`` and ``r = rgb_embedding`` (row i of both from the
    same scene)::

        logits  = r @ m^T / T
        targets = softmax((m @ m^T + r @ r^T) / 2 * T, dim=-1)
        loss    = mean_i( CE(logits[i], targets[i])
                          + CE(logits^T[i], targets^T[i]) ) / 2

    where ``CE(z, p) = -sum_j p_j log softmax(z)_j``, exactly as the reference:
    embeddings are not L2-normalised, T divides the logits but multiplies the
    target similarities, and the targets are not detached.

    Args:
        ms_embedding: (B, D) MS embeddings.
        rgb_embedding: (B, D) pseudo-RGB embeddings of the same B scenes, in order.
        temperature: T > 0 (reference: 1.0).

    Returns:
        Scalar loss in nats, the mean over the batch.

    Raises:
        TypeError: If an embedding is not a floating-point tensor.
        ValueError: If the shapes are not equal (B, D) with B >= 1, or the
            temperature is not a finite positive number.
    """
    for name, x in (('ms_embedding', ms_embedding), ('rgb_embedding', rgb_embedding)):
        if not isinstance(x, Tensor) or not x.is_floating_point():
            kind = x.dtype if isinstance(x, Tensor) else type(x).__name__
            raise TypeError(f'{name} must be a floating-point Tensor, got {kind}')
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(
                f'{name} must have shape (B, D) with B >= 1, got {tuple(x.shape)}'
            )
    if ms_embedding.shape != rgb_embedding.shape:
        raise ValueError(
            f'ms_embedding {tuple(ms_embedding.shape)} and rgb_embedding '
            f'{tuple(rgb_embedding.shape)} must have the same (B, D) shape'
        )
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not (math.isfinite(temperature) and temperature > 0)
    ):
        raise ValueError(
            f'temperature must be a finite number > 0, got {temperature!r}'
        )

    logits = rgb_embedding @ ms_embedding.T / temperature
    ms_similarity = ms_embedding @ ms_embedding.T
    rgb_similarity = rgb_embedding @ rgb_embedding.T
    targets = F.softmax((ms_similarity + rgb_similarity) / 2 * temperature, dim=-1)
    # Rows of `logits`: RGB queries over MS keys; of its transpose: the reverse.
    rgb_loss = -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1)
    ms_loss = -(targets.T * F.log_softmax(logits.T, dim=-1)).sum(dim=-1)
    return ((rgb_loss + ms_loss) / 2).mean()
