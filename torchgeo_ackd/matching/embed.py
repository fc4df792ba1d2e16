"""Batched embedding of a whole dataset (embeddings or logits), optionally under DDP."""

import math
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler

Batch = dict[str, Tensor]
#: A batch function applied on the device (e.g. a datamodule's normalisation).
Preprocess = Callable[[Batch], Batch]
#: A forward context factory, e.g. a trainer's ``precision_plugin.forward_context``.
Context = Callable[[], AbstractContextManager[Any]]

#: Dtype of gathered and returned rows, whatever the model's output dtype, so that
#: ranks agree on it even when one of them produced no rows.
EMBEDDING_DTYPE = torch.float32


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode and restore their previous state afterwards.

    Each submodule's own ``training`` flag is restored, also when the body raises,
    so a frozen BatchNorm inside a training network stays frozen.

    Args:
        *modules: Modules to switch to eval mode.

    Yields:
        Nothing; the modules are in eval mode inside the ``with`` block.
    """
    saved = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, training in saved:
            m.training = training


def broadcast_buffers(*modules: nn.Module, src: int = 0) -> None:
    """Give every rank rank ``src``'s buffers (e.g. BatchNorm running statistics).

    Each rank's training forward updates its own BatchNorm statistics, and DDP
    re-broadcasts rank 0's only at the next one, so the matchings call this first.
    A no-op unless :mod:`torch.distributed` is initialised.

    Args:
        *modules: Modules whose buffers are overwritten in place.
        src: Rank whose buffers are kept.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    for module in modules:
        for buffer in module.buffers():
            dist.broadcast(buffer.data, src=src)


def _as_index(
    index: object, batch_size: int, num_samples: int, device: torch.device
) -> Tensor:
    """Convert a batch's 'index' entry to a (B,) long tensor and check it."""
    idx = torch.as_tensor(index).reshape(-1)
    if idx.is_floating_point() or idx.dtype == torch.bool:
        raise TypeError(f"batch['index'] must hold integers, got {idx.dtype}")
    idx = idx.to(device=device, dtype=torch.long)
    if idx.numel() != batch_size:
        raise ValueError(
            f"batch['index'] has {idx.numel()} entries but the model returned "
            f'{batch_size} rows'
        )
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= num_samples):
        raise ValueError(
            f"batch['index'] values must be in [0, num_samples={num_samples}), "
            f'got min {int(idx.min())} and max {int(idx.max())}'
        )
    return idx


def all_gather_rows(
    index: Tensor, rows: Tensor, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Gather every rank's (index, rows), padding unequal counts.

    Args:
        index: (n_r,) long sample indices of this rank, on ``device``.
        rows: (n_r, D_r) float rows of this rank on ``device`` (D_r may be 0 if n_r is).
        device: Device for the collectives (CUDA for NCCL, CPU for gloo).

    Returns:
        (n,) indices and (n, D) rows of all ranks, concatenated in rank order.
    """
    world = dist.get_world_size()
    local = torch.tensor(
        [rows.shape[0], rows.shape[1] if rows.shape[0] else -1], device=device
    )
    sizes = [torch.empty_like(local) for _ in range(world)]
    dist.all_gather(sizes, local)
    counts = [int(s[0]) for s in sizes]
    dims = {int(s[1]) for s in sizes if int(s[0]) > 0}
    if len(dims) > 1:
        raise ValueError(
            f'ranks produced embeddings of different widths: {sorted(dims)}'
        )
    dim = dims.pop() if dims else 0
    max_count = max(counts)

    padded_index = torch.full((max_count,), -1, dtype=torch.long, device=device)
    padded_rows = torch.zeros(max_count, dim, dtype=EMBEDDING_DTYPE, device=device)
    padded_index[: len(index)] = index.to(device)
    if len(index):
        padded_rows[: len(index)] = rows.to(device)
    all_index = [torch.empty_like(padded_index) for _ in range(world)]
    all_rows = [torch.empty_like(padded_rows) for _ in range(world)]
    dist.all_gather(all_index, padded_index)
    dist.all_gather(all_rows, padded_rows)
    gathered_index = torch.cat([i[:n] for i, n in zip(all_index, counts, strict=True)])
    gathered_rows = torch.cat([r[:n] for r, n in zip(all_rows, counts, strict=True)])
    return gathered_index, gathered_rows


def check_rgb_images(image: Tensor) -> None:
    """Refuse anything but a (B, 3, H, W) batch before an RGB encoder sees it.

    Raises:
        ValueError: If *image* is not a 4-D tensor with 3 channels.
    """
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(
            f'RGB images must have shape (B, 3, H, W), got {tuple(image.shape)}'
        )


@dataclass(frozen=True)
class ViewEmbeddings:
    """Embeddings of the two views (MS and pseudo-RGB) of samples of a split.

    Attributes:
        index: (N,) long dataset index of each sample.
        label: (N,) long class of each sample (-1: none, e.g. multi-hot).
        ms: (N, D) MS embeddings.
        rgb: (N, D) pseudo-RGB embeddings of the same samples.
    """

    index: Tensor
    label: Tensor
    ms: Tensor
    rgb: Tensor

    @classmethod
    def cat(
        cls, parts: Sequence['ViewEmbeddings'], device: torch.device
    ) -> 'ViewEmbeddings':
        """Concatenate batches (none: an empty set on *device*)."""
        if not parts:
            empty = torch.empty(0, dtype=torch.long, device=device)
            no_rows = torch.empty(0, 0, dtype=EMBEDDING_DTYPE, device=device)
            return cls(empty, empty, no_rows, no_rows)
        return cls(
            torch.cat([p.index for p in parts]),
            torch.cat([p.label for p in parts]),
            torch.cat([p.ms for p in parts]),
            torch.cat([p.rgb for p in parts]),
        )

    def unique(self, device: torch.device) -> 'ViewEmbeddings':
        """All ranks' samples (under DDP), first occurrence of each, in index order."""
        index, label, ms, rgb = self.index, self.label, self.ms, self.rgb
        if dist.is_available() and dist.is_initialized():
            # One collective for all fields: [label, ms, rgb] side by side.
            rows = torch.cat([label.to(EMBEDDING_DTYPE)[:, None], ms, rgb], dim=1)
            index, rows = all_gather_rows(index, rows, device)
            if len(index) == 0:  # no rank produced a sample
                return ViewEmbeddings.cat([], device)
            width = (rows.shape[1] - 1) // 2
            label = rows[:, 0].round().long()
            ms, rgb = rows[:, 1 : 1 + width], rows[:, 1 + width :]
        order = torch.sort(index, stable=True).indices
        sorted_index = index[order]
        first = torch.ones_like(sorted_index, dtype=torch.bool)
        first[1:] = sorted_index[1:] != sorted_index[:-1]
        keep = order[first]
        return ViewEmbeddings(index[keep], label[keep], ms[keep], rgb[keep])


def compute_embeddings(
    forward: Callable[[Tensor], Tensor],
    loader: Iterable[dict[str, Tensor]],
    num_samples: int,
    key: str = 'image',
    device: torch.device | str = 'cpu',
    transform: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
) -> Tensor:
    """Run ``forward`` over a loader and return one row per dataset sample.

    Batches are moved to ``device``, passed through ``transform``, and
    ``batch[key]`` through ``forward`` under :func:`torch.inference_mode`. Rows are
    placed by the batch's ``'index'``, so the loader may shuffle. Put the model in
    eval mode with :func:`eval_mode`.

    Under :mod:`torch.distributed` each rank iterates its own shard, the rows are
    all-gathered and every rank returns the same tensor. A sample produced more
    than once keeps its first row in rank order, then batch order.

    Args:
        forward: Maps a (B, ...) input tensor to (B, D) embeddings or logits.
        loader: Iterable of batch dicts holding ``key`` and ``'index'`` (B,).
        num_samples: Dataset length N; every index in ``[0, N)`` must appear.
        key: Batch entry fed to ``forward``.
        device: Device for the forward passes and the collectives.
        transform: Optional function of the batch dict on ``device`` (normalisation).

    Returns:
        (N, D) float32 tensor on ``device``, row i for dataset sample i.

    Raises:
        ValueError: If ``num_samples`` < 1, a batch lacks ``key`` or
            ``'index'``, an output is not (B, D), an index is out of range, or
            some sample was never produced (on any rank).
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f'num_samples must be an int, got {type(num_samples).__name__}')
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    device = torch.device(device)

    indices: list[Tensor] = []
    outputs: list[Tensor] = []
    with torch.inference_mode():
        for batch_number, batch in enumerate(loader):
            batch = {
                k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v
                for k, v in batch.items()
            }
            if transform is not None:
                batch = transform(batch)
            for name in (key, 'index'):
                if name not in batch:
                    raise ValueError(
                        f'batch {batch_number} has no {name!r} entry; keys: '
                        f'{sorted(batch)}'
                    )
            out = forward(batch[key])
            if not isinstance(out, Tensor) or out.ndim != 2:
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out)
                raise ValueError(f'forward must return a (B, D) tensor, got {shape}')
            indices.append(_as_index(batch['index'], out.shape[0], num_samples, device))
            outputs.append(out.to(device, EMBEDDING_DTYPE))

    # Outside inference mode: the result is an ordinary tensor.
    empty = torch.empty(0, dtype=torch.long, device=device)
    index = torch.cat(indices) if indices else empty
    if outputs:
        dims = {o.shape[1] for o in outputs}
        if len(dims) > 1:
            raise ValueError(f'forward returned different widths: {sorted(dims)}')
        rows = torch.cat(outputs)
    else:
        rows = torch.empty(0, 0, dtype=EMBEDDING_DTYPE, device=device)
    if dist.is_available() and dist.is_initialized():
        index, rows = all_gather_rows(index, rows, device)

    # First occurrence of each sample: deterministic whatever the duplicates.
    position = torch.arange(len(index), device=device)
    first = torch.full((num_samples,), len(index), dtype=torch.long, device=device)
    first.scatter_reduce_(0, index, position, reduce='amin')
    produced = first < len(index)
    if not bool(produced.all()):
        missing = (~produced).nonzero().flatten()
        raise ValueError(
            f'{missing.numel()} of {num_samples} samples were never produced by '
            f'the loader (first missing indices: {missing[:10].tolist()})'
        )
    return rows[first]


def shard_loader(loader: DataLoader) -> DataLoader:  # type: ignore[type-arg]
    """The same loader restricted to this rank's shard, when running distributed.

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


def loader_embeddings(
    forward: Callable[[Tensor], Tensor],
    loader: DataLoader,  # type: ignore[type-arg]
    key: str,
    preprocess: Preprocess | None = None,
    device: torch.device | str = 'cpu',
    context: Context = nullcontext,
) -> Tensor:
    """:func:`compute_embeddings` of every sample of an unshuffled loader.

    Under :mod:`torch.distributed` each rank runs its :func:`shard_loader` shard.

    Args:
        forward: (B, ...) batch entry *key* -> (B, D) rows.
        loader: Unshuffled loader over a sized map-style dataset; batches hold
            *key* and ``index``.
        key: Batch entry fed to *forward*.
        preprocess: Applied to each batch on *device* (normalisation).
        device: Device of the forward passes.
        context: Forward context (e.g. the trainer's precision).

    Returns:
        (N, D) float32 rows, row i for dataset sample i.
    """
    num_samples = len(cast(Sized, loader.dataset))
    with context():
        return compute_embeddings(
            forward, shard_loader(loader), num_samples, key, device, preprocess
        )


def loader_outputs(
    forward: Callable[[Tensor], Sequence[Tensor]],
    loader: DataLoader,  # type: ignore[type-arg]
    key: str,
    preprocess: Preprocess | None = None,
    device: torch.device | str = 'cpu',
    context: Context = nullcontext,
) -> tuple[Tensor, ...]:
    """:func:`loader_embeddings` for a forward with several outputs.

    The outputs (e.g. a teacher's logits, features and embedding) travel as one
    float32 row per sample and come back in the dtype *forward* produced them in.

    Args:
        forward: (B, ...) batch entry *key* -> a sequence of (B, ...) tensors.
        loader: As in :func:`loader_embeddings`.
        key: Batch entry fed to *forward*.
        preprocess: Applied to each batch on *device* (normalisation).
        device: Device of the forward passes.
        context: Forward context (e.g. the trainer's precision).

    Returns:
        One (N, ...) tensor per output, row i for dataset sample i.
    """
    shapes: list[tuple[int, ...]] = []
    dtypes: list[torch.dtype] = []

    def rows(image: Tensor) -> Tensor:
        outputs = forward(image)
        shapes[:] = [tuple(o.shape[1:]) for o in outputs]
        dtypes[:] = [o.dtype for o in outputs]
        return torch.cat(
            [o.reshape(len(o), -1).to(EMBEDDING_DTYPE) for o in outputs], dim=1
        )

    flat = loader_embeddings(rows, loader, key, preprocess, device, context)
    parts = flat.split([math.prod(s) for s in shapes], dim=1)
    return tuple(
        part.reshape(len(flat), *shape).to(dtype)
        for part, shape, dtype in zip(parts, shapes, dtypes, strict=True)
    )
