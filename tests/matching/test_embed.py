import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from torchgeo_ackd.matching import (
    ViewEmbeddings,
    broadcast_buffers,
    compute_embeddings,
    eval_mode,
)

NUM_SAMPLES = 13
IN_DIM = 6
OUT_DIM = 4


class _IndexedDataset(Dataset[dict[str, Tensor]]):
    """Fixed random inputs, each sample returned with its dataset index."""

    def __init__(self, n: int = NUM_SAMPLES) -> None:
        self.images = torch.randn(n, IN_DIM, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {'image': self.images[index], 'index': torch.tensor(index)}


def _model() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(IN_DIM, 8), nn.ReLU(), nn.Linear(8, OUT_DIM))


def _expected() -> Tensor:
    with torch.no_grad():
        return _model()(_IndexedDataset().images)


def _batches(*batches: tuple[list[int], Tensor]) -> Iterator[dict[str, Tensor]]:
    for index, image in batches:
        yield {'image': image, 'index': torch.tensor(index)}


def test_single_process_shuffled() -> None:
    loader = DataLoader(
        _IndexedDataset(),
        batch_size=4,
        shuffle=True,
        generator=torch.Generator().manual_seed(2),
    )
    out = compute_embeddings(_model(), loader, NUM_SAMPLES)
    assert out.shape == (NUM_SAMPLES, OUT_DIM)
    assert out.dtype == torch.float32
    assert not out.is_inference()
    assert not out.requires_grad
    torch.testing.assert_close(out, _expected())


def test_transform_and_key() -> None:
    dataset = _IndexedDataset()

    def transform(batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return batch | {'image_ms': 2 * batch['image']}

    out = compute_embeddings(
        _model(),
        DataLoader(dataset, batch_size=5),
        NUM_SAMPLES,
        key='image_ms',
        transform=transform,
    )
    with torch.no_grad():
        expected = _model()(2 * dataset.images)
    torch.testing.assert_close(out, expected)


def test_duplicates_keep_first() -> None:
    ones, twos = torch.ones(2, 3), 2 * torch.ones(2, 3)
    out = compute_embeddings(
        lambda x: x, _batches(([0, 1], ones), ([1, 2], twos)), num_samples=3
    )
    assert out[:, 0].tolist() == [1.0, 1.0, 2.0]


def test_half_precision_output_is_float32() -> None:
    out = compute_embeddings(
        lambda x: x.half(), _batches(([1, 0], torch.eye(2))), num_samples=2
    )
    assert out.dtype == torch.float32
    assert out.tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_missing_sample() -> None:
    with pytest.raises(
        ValueError, match=r'2 of 4 samples were never produced .*\[1, 3\]'
    ):
        compute_embeddings(lambda x: x, _batches(([0, 2], torch.eye(2))), 4)
    with pytest.raises(ValueError, match='4 of 4 samples were never produced'):
        compute_embeddings(lambda x: x, [], 4)


def test_bad_batches() -> None:
    with pytest.raises(ValueError, match=r'values must be in \[0, num_samples=2\)'):
        compute_embeddings(lambda x: x, _batches(([0, 2], torch.eye(2))), 2)
    with pytest.raises(ValueError, match="batch 0 has no 'index' entry"):
        compute_embeddings(lambda x: x, [{'image': torch.eye(2)}], 2)
    with pytest.raises(ValueError, match="batch 0 has no 'rgb' entry"):
        compute_embeddings(lambda x: x, _batches(([0, 1], torch.eye(2))), 2, key='rgb')
    with pytest.raises(ValueError, match=r'forward must return a \(B, D\) tensor'):
        compute_embeddings(lambda x: x[..., None], _batches(([0, 1], torch.eye(2))), 2)
    with pytest.raises(ValueError, match="'index'\\] has 3 entries but the model"):
        compute_embeddings(lambda x: x, _batches(([0, 1, 0], torch.eye(2))), 2)
    with pytest.raises(ValueError, match='num_samples must be >= 1'):
        compute_embeddings(lambda x: x, [], 0)


def test_eval_mode_restores_mixed_state() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Dropout(0.5))
    other = nn.Dropout(0.1).eval()
    model.train()
    model[1].eval()  # a frozen BatchNorm inside a training model
    with eval_mode(model, other):
        assert not any(m.training for m in model.modules())
        assert not other.training
    assert [m.training for m in model.modules()] == [True, True, False, True]
    assert not other.training


def test_eval_mode_restores_on_exception() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    with pytest.raises(RuntimeError, match='boom'), eval_mode(model):
        assert not model.training
        raise RuntimeError('boom')
    assert all(m.training for m in model.modules())


def test_broadcast_buffers_without_distributed_is_a_no_op() -> None:
    bn = nn.BatchNorm1d(3)
    bn.running_mean.fill_(2.0)
    broadcast_buffers(bn)
    assert torch.equal(bn.running_mean, torch.full((3,), 2.0))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        dataset = _IndexedDataset()
        model = _model()
        results: dict[str, object] = {}
        # DistributedSampler: 13 samples -> 7 per rank, one duplicate.
        sampler: DistributedSampler[dict[str, Tensor]] = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=3
        )
        loader = DataLoader(dataset, batch_size=3, sampler=sampler)
        results['sampler'] = compute_embeddings(model, loader, NUM_SAMPLES)
        # Unequal shards: 10 samples on rank 0, 3 on rank 1.
        shard = list(range(10) if rank == 0 else range(10, NUM_SAMPLES))
        loader = DataLoader(Subset(dataset, shard), batch_size=4)
        results['unequal'] = compute_embeddings(model, loader, NUM_SAMPLES)
        # Rank 1 produces nothing at all.
        shard = list(range(NUM_SAMPLES)) if rank == 0 else []
        loader = DataLoader(Subset(dataset, shard), batch_size=4)
        results['empty_rank'] = compute_embeddings(model, loader, NUM_SAMPLES)
        # Sample 5 is on no rank: every rank must raise.
        shard = [i for i in range(rank, NUM_SAMPLES, world_size) if i != 5]
        try:
            compute_embeddings(
                model, DataLoader(Subset(dataset, shard), batch_size=4), NUM_SAMPLES
            )
            results['missing'] = 'no error'
        except ValueError as error:
            results['missing'] = str(error)
        # Rank-specific BatchNorm statistics, as after a DDP training step.
        bn = nn.BatchNorm1d(3)
        bn.running_mean.fill_(float(rank + 1))
        bn.num_batches_tracked.fill_(10 * (rank + 1))
        broadcast_buffers(bn)
        results['bn'] = (bn.running_mean.clone(), int(bn.num_batches_tracked))
        torch.save(results, Path(out_dir) / f'rank{rank}.pt')
    finally:
        dist.destroy_process_group()


def test_ddp_gloo_equals_single_process(tmp_path: Path) -> None:
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    single = compute_embeddings(
        _model(), DataLoader(_IndexedDataset(), batch_size=5), NUM_SAMPLES
    )
    torch.testing.assert_close(single, _expected())
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    for name in ('sampler', 'unequal', 'empty_rank'):
        # Identical on both ranks, bit for bit, and equal to one process.
        assert torch.equal(ranks[0][name], ranks[1][name]), name
        torch.testing.assert_close(ranks[0][name], single)
    for result in ranks:
        # rank 0's buffers everywhere
        assert torch.equal(result['bn'][0], torch.ones(3))
        assert result['bn'][1] == 10
        assert 'samples were never produced' in result['missing']
        assert '[5]' in result['missing']


def test_view_embeddings_keep_each_sample_once_in_index_order() -> None:
    """Batches as a padded DistributedSampler yields them: sample 0 twice."""
    cpu = torch.device('cpu')

    def batch(index: list[int], label: list[int], fill: float) -> ViewEmbeddings:
        ms = torch.arange(len(index) * 2, dtype=torch.float32).view(-1, 2) + fill
        return ViewEmbeddings(torch.tensor(index), torch.tensor(label), ms, -ms)

    first = batch([2, 0], [1, 0], 0.0)  # ms rows [0, 1], [2, 3]
    second = batch([1, 0], [1, -5], 10.0)  # ms rows [10, 11], [12, 13]
    views = ViewEmbeddings.cat([first, second], cpu).unique(cpu)
    assert views.index.tolist() == [0, 1, 2]
    assert views.label.tolist() == [0, 1, 1]  # sample 0's first occurrence
    assert views.ms.tolist() == [[2.0, 3.0], [10.0, 11.0], [0.0, 1.0]]
    assert torch.equal(views.rgb, -views.ms)
    empty = ViewEmbeddings.cat([], cpu).unique(cpu)
    assert empty.index.shape == (0,) and empty.ms.shape == (0, 0)
