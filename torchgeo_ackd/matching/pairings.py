"""Computing pairings: SSM's initial pairing and DynM's re-matching.

For the callbacks, the pipeline and scripts; no task or datamodule here. Under
:mod:`torch.distributed` every rank embeds its shard and returns the same result.
"""

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from typing import Any, Protocol, cast

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ..datasets import ACKDDataset, Pairing
from .embed import (
    Context,
    Preprocess,
    broadcast_buffers,
    eval_mode,
    loader_embeddings,
)
from .retrieval import nearest_class_accuracy
from .search import match_cosine, match_kl

Loader = DataLoader[Any]


class SSMEncoders(Protocol):
    """What SSM needs of a matcher (such as ``MatcherTask``)."""

    def embed_ms(self, image: Tensor) -> Tensor:
        """(B, C, H, W) normalised MS images -> (B, D) embeddings (M_V)."""
        ...

    def embed_rgb(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) normalised RGB images -> (B, D) embeddings (M_G)."""
        ...


def _encoders(matcher: nn.Module) -> SSMEncoders:
    if not all(hasattr(matcher, name) for name in ('embed_ms', 'embed_rgb')):
        raise TypeError(
            f'SSM needs a matcher with embed_ms and embed_rgb (such as '
            f'MatcherTask), got {type(matcher).__name__}'
        )
    # Every rank embeds with rank 0's BatchNorm statistics.
    broadcast_buffers(matcher)
    return cast(SSMEncoders, matcher)


def initial_pairing(
    embed_ms: Callable[[Tensor], Tensor],
    embed_rgb: Callable[[Tensor], Tensor],
    gallery: Loader,
    students: Loader,
    gallery_targets: Tensor,
    student_targets: Tensor,
    transform: Preprocess | None = None,
    chunk_size: int = 4096,
    device: torch.device | str = 'cpu',
    ms_embedding: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Pair every RGB training sample with its most similar same-class MS sample.

    The engine under :func:`ssm_pairing`, for any two embedding functions. Put their
    modules in eval mode first (and, under DDP, give every rank rank 0's buffers
    with :func:`~torchgeo_ackd.matching.embed.broadcast_buffers`).

    Args:
        embed_ms: Normalised MS batch (B, C, H, W) -> embeddings (B, D).
        embed_rgb: Normalised RGB batch (B, 3, H, W) -> embeddings (B, D).
        gallery: Loader of the MS gallery; batches hold ``image_ms``, ``index``.
        students: Loader of the RGB training set; batches hold ``image_rgb``, ``index``.
        gallery_targets: (N_t,) class of each gallery sample.
        student_targets: (N_s,) class of each student sample.
        transform: Applied to each batch on the device (normalisation).
        chunk_size: Students per similarity matrix product.
        device: Device of the forward passes.
        ms_embedding: (N_t, D) gallery embeddings already computed with *embed_ms*;
            the gallery loader is then not read.

    Returns:
        ``(pairing, scores)`` on the CPU: (N_s,) long gallery index of each
        student's match, and (N_s,) float32 cosine similarity of each pair.

    Raises:
        ValueError: If a student class has no gallery sample.
    """
    if ms_embedding is None:
        ms_embedding = loader_embeddings(
            embed_ms, gallery, 'image_ms', transform, device
        )
    rgb_embedding = loader_embeddings(
        embed_rgb, students, 'image_rgb', transform, device
    )
    pairing, scores = match_cosine(
        rgb_embedding,
        student_targets.to(rgb_embedding.device),
        ms_embedding,
        gallery_targets.to(ms_embedding.device),
        chunk_size=chunk_size,
    )
    return pairing.cpu(), scores.float().cpu()


def gallery_embedding(
    matcher: nn.Module,
    gallery: Loader,
    preprocess: Preprocess | None = None,
    device: torch.device | str = 'cpu',
) -> Tensor:
    """The MS gallery embedded with the matcher's M_V (eval mode).

    Args:
        matcher: The matcher (see :class:`SSMEncoders`).
        gallery: Unshuffled loader of the gallery; batches hold ``image_ms``.
        preprocess: Normalisation applied to each batch on *device*.
        device: Device of the forward passes.

    Returns:
        (N_t, embed_dim) float32 embeddings, row i for gallery sample i.
    """
    encoders = _encoders(matcher)
    with eval_mode(matcher):
        return loader_embeddings(
            encoders.embed_ms, gallery, 'image_ms', preprocess, device
        )


def ssm_pairing(
    matcher: nn.Module,
    students: ACKDDataset,
    gallery: ACKDDataset,
    loaders: tuple[Loader, Loader],
    preprocess: Preprocess | None = None,
    chunk_size: int = 4096,
    device: torch.device | str = 'cpu',
    embedding: Tensor | None = None,
) -> Pairing:
    """SSM: pair every RGB training image with its most similar MS image of its class.

    Args:
        matcher: The matcher (:class:`SSMEncoders`); its train/eval state is kept.
        students: The RGB training set.
        gallery: The MS gallery.
        loaders: Unshuffled loaders of *students* (``image_rgb``) and *gallery*
            (``image_ms``).
        preprocess: Normalisation applied to each batch on *device*.
        chunk_size: Students per similarity matrix product.
        device: Device of the forward passes.
        embedding: The gallery's :func:`gallery_embedding` (default: compute it).

    Returns:
        The pairing, scored by cosine similarity.

    Raises:
        TypeError: If *matcher* has no ``embed_ms`` and ``embed_rgb``.
        ValueError: If a student class has no gallery sample.
    """
    encoders = _encoders(matcher)
    with eval_mode(matcher):
        index, scores = initial_pairing(
            encoders.embed_ms,
            encoders.embed_rgb,
            loaders[1],
            loaders[0],
            gallery.targets,
            students.targets,
            transform=preprocess,
            chunk_size=chunk_size,
            device=device,
            ms_embedding=embedding,
        )
    return Pairing.for_datasets(index, students, gallery, scores)


def cross_modal_accuracy(
    matcher: nn.Module,
    queries: Loader,
    query_targets: Tensor,
    embedding: Tensor,
    gallery_targets: Tensor,
    preprocess: Preprocess | None = None,
    device: torch.device | str = 'cpu',
) -> float:
    """Zero-shot retrieval of RGB queries (M_G) in the MS gallery (M_V), all classes.

    Args:
        matcher: The matcher (see :class:`SSMEncoders`).
        queries: Unshuffled loader of RGB images as ``image_rgb``.
        query_targets: (N_q,) class of each query.
        embedding: The gallery's :func:`gallery_embedding`.
        gallery_targets: (N_t,) class of each gallery sample.
        preprocess: Normalisation applied to each batch on *device*.
        device: Device of the forward passes.

    Returns:
        How often a query's most cosine-similar gallery image has its class, in [0, 1].
    """
    encoders = _encoders(matcher)
    with eval_mode(matcher):
        query = loader_embeddings(
            encoders.embed_rgb, queries, 'image_rgb', preprocess, device
        )
    accuracy = nearest_class_accuracy(query, query_targets, embedding, gallery_targets)
    return float(accuracy)


def student_logits(
    student: nn.Module,
    students: Loader,
    preprocess: Preprocess | None = None,
    device: torch.device | str = 'cpu',
    context: Context = nullcontext,
) -> Tensor:
    """Logits of a student network on every RGB training image.

    Runs in eval mode (restored afterwards) with rank 0's buffers under DDP.

    Args:
        student: RGB classifier, normalised (B, 3, H, W) -> (B, K) logits.
        students: Unshuffled loader of the RGB training set as ``image_rgb``.
        preprocess: Normalisation applied to each batch on *device*.
        device: Where to run.
        context: Forward context (e.g. the trainer's precision).

    Returns:
        (N_s, K) float32 logits, in the order of the loader's dataset.
    """
    broadcast_buffers(student)  # the same BatchNorm statistics on every rank
    with eval_mode(student):
        return loader_embeddings(
            student, students, 'image_rgb', preprocess, device, context
        )


def gallery_logits(
    teacher: Callable[[Tensor], Tensor],
    gallery: Loader,
    preprocess: Preprocess | None = None,
    device: torch.device | str = 'cpu',
    context: Context = nullcontext,
) -> Tensor:
    """A frozen teacher's logits on every MS gallery image.

    Args:
        teacher: Normalised (B, C, H, W) MS images -> (B, K) logits.
        gallery: Unshuffled loader of the gallery as ``image_ms``.
        preprocess: Normalisation applied to each batch on *device*.
        device: Where to run.
        context: Forward context (e.g. the trainer's precision).

    Returns:
        (N_t, K) float32 logits, in the order of the loader's dataset.
    """
    return loader_embeddings(teacher, gallery, 'image_ms', preprocess, device, context)


def rematch(
    student_logits: Tensor,
    students: ACKDDataset,
    gallery_logits: Tensor,
    gallery: ACKDDataset,
    temperature: float = 3.0,
    chunk_size: int = 4096,
    epoch: int | None = None,
) -> Pairing:
    """DynM: pair every student with the gallery image of its class of lowest KL.

    :func:`~torchgeo_ackd.matching.match_kl` of the teacher's soft label on each
    gallery image and the student's on each of its training images, at *temperature*.

    Args:
        student_logits: (N_s, K) student logits (:func:`student_logits`).
        students: The RGB training set.
        gallery_logits: (N_t, K) teacher logits (:func:`gallery_logits`).
        gallery: The MS gallery.
        temperature: Softmax temperature T > 0.
        chunk_size: Students per matrix product of the search.
        epoch: The epoch the pairing is made at, recorded in it.

    Returns:
        The pairing (scores: each student's KL in nats).
    """
    on = gallery_logits.device
    index, kl = match_kl(
        student_logits,
        students.targets.to(on),
        gallery_logits,
        gallery.targets.to(on),
        temperature=temperature,
        chunk_size=chunk_size,
    )
    pairing = Pairing.for_datasets(index.cpu(), students, gallery, kl.cpu())
    return replace(pairing, epoch=epoch)
