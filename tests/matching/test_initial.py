import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor

from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.datasets import ACKDDataset
from torchgeo_ackd.matching import initial_pairing, load_pairing, save_pairing
from torchgeo_ackd.synthetic import generate_synthetic_benchmark
from torchgeo_ackd.tasks import MatcherTask

SIZES = {'ms_per_class': 6, 'rgb_per_class': 5, 'ms_size': 16, 'rgb_size': 24}


@pytest.fixture(scope='module')
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synthetic_benchmark(
        tmp_path_factory.mktemp('initial') / 'synthetic', **SIZES
    )


def _datamodule(root: Path, **kwargs: object) -> SyntheticACKDDataModule:
    dm = SyntheticACKDDataModule(
        root=root,
        generate=False,
        modality='ms',
        pseudo_rgb=True,
        batch_size=8,
        eval_batch_size=7,
        **kwargs,  # type: ignore[arg-type]
    )
    dm.setup('fit')
    return dm


def _matcher() -> MatcherTask:
    torch.manual_seed(0)
    return MatcherTask(ms_model='resnet10t', rgb_model='resnet10t', embed_dim=16)


def _embed_independently(
    matcher: MatcherTask, dataset: ACKDDataset, mean: Tensor, std: Tensor, ms: bool
) -> np.ndarray:
    """Per-sample loading and normalisation, no loader and no kornia."""
    images = torch.stack([dataset[i]['image'] for i in range(len(dataset))])
    images = (images - mean[:, None, None]) / std[:, None, None]
    matcher.eval()
    with torch.no_grad():
        out = matcher.embed_ms(images) if ms else matcher.embed_rgb(images)
    return out.double().numpy()


def _brute_force(
    student: np.ndarray,
    student_cls: np.ndarray,
    gallery: np.ndarray,
    gallery_cls: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    s = student / np.linalg.norm(student, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    sim = s @ g.T
    sim[student_cls[:, None] != gallery_cls[None, :]] = -np.inf
    best = sim.argmax(axis=1)
    return best, sim[np.arange(len(s)), best]


def test_equals_brute_force_numpy(root: Path) -> None:
    dm = _datamodule(root)
    matcher = _matcher()
    matcher.train()
    matcher.ms_encoder.bn1.eval()  # a mixed train/eval state to restore
    pairing, scores = initial_pairing(matcher, dm, chunk_size=3)

    assert matcher.training and matcher.rgb_head.training
    assert not matcher.ms_encoder.bn1.training
    assert matcher.ms_encoder.layer1.training

    assert dm.ms_train is not None and dm.rgb_train is not None
    stats = dm.stats
    assert stats['ms_mean'] is not None and stats['ms_std'] is not None
    assert stats['rgb_mean'] is not None and stats['rgb_std'] is not None
    gallery = _embed_independently(
        matcher, dm.ms_train, stats['ms_mean'], stats['ms_std'], ms=True
    )
    student = _embed_independently(
        matcher, dm.rgb_train, stats['rgb_mean'], stats['rgb_std'], ms=False
    )
    s_cls, g_cls = dm.rgb_train.targets.numpy(), dm.ms_train.targets.numpy()
    best, best_sim = _brute_force(student, s_cls, gallery, g_cls)

    assert pairing.dtype == torch.long and pairing.shape == (len(dm.rgb_train),)
    np.testing.assert_array_equal(pairing.numpy(), best)
    np.testing.assert_allclose(scores.numpy(), best_sim, rtol=1e-4, atol=1e-5)
    # Within class, and not a trivial pairing (several teachers used).
    np.testing.assert_array_equal(g_cls[pairing.numpy()], s_cls)
    assert len(set(pairing.tolist())) > len(set(s_cls.tolist()))


def test_needs_rgb_statistics(root: Path) -> None:
    dm = SyntheticACKDDataModule(root=root, generate=False, modality='ms')
    dm.setup('fit')
    with pytest.raises(ValueError, match='rgb_eval'):
        initial_pairing(_matcher(), dm)


def test_save_and_load_round_trip(root: Path, tmp_path: Path) -> None:
    dm = _datamodule(root)
    pairing, scores = initial_pairing(_matcher(), dm)
    pt_path, csv_path = save_pairing(tmp_path / 'out', pairing, scores, dm)
    assert pt_path == tmp_path / 'out' / 'pairing.pt' and pt_path.is_file()
    assert csv_path == tmp_path / 'out' / 'pairing.csv' and csv_path.is_file()

    state = torch.load(pt_path, weights_only=True)
    assert torch.equal(state['pairing'], pairing)
    torch.testing.assert_close(state['scores'], scores)
    assert dm.rgb_train is not None and dm.ms_train is not None
    assert state['student_files'][0].startswith('RGB/')
    assert state['teacher_files'][0].startswith('MS/')
    assert len(state['teacher_files']) == len(dm.ms_train)

    # A fresh datamodule over the same data reads both files back.
    fresh = _datamodule(root)
    for path in (pt_path, csv_path, tmp_path / 'out'):
        assert torch.equal(load_pairing(path, fresh), pairing), path
    # Without setup: the datamodule lists the files itself.
    lazy = SyntheticACKDDataModule(root=root, generate=False, modality='paired')
    assert torch.equal(load_pairing(csv_path, lazy), pairing)


def test_pt_is_matched_by_file_name(root: Path, tmp_path: Path) -> None:
    dm = _datamodule(root)
    assert dm.rgb_train is not None and dm.ms_train is not None
    pairing, scores = initial_pairing(_matcher(), dm)
    pt_path, _ = save_pairing(tmp_path, pairing, scores, dm)
    state = torch.load(pt_path, weights_only=True)
    # Store both lists in reverse order, remapping the indices accordingly.
    n_t = len(state['teacher_files'])
    state['student_files'] = state['student_files'][::-1]
    state['teacher_files'] = state['teacher_files'][::-1]
    state['pairing'] = (n_t - 1 - state['pairing']).flip(0)
    torch.save(state, pt_path)
    assert torch.equal(load_pairing(pt_path, dm), pairing)


def test_load_errors(root: Path, tmp_path: Path) -> None:
    dm = _datamodule(root)
    assert dm.rgb_train is not None and dm.ms_train is not None
    pairing, scores = initial_pairing(_matcher(), dm)
    pt_path, csv_path = save_pairing(tmp_path, pairing, scores, dm)

    missing = tmp_path / 'nope.pt'
    with pytest.raises(FileNotFoundError, match='nope.pt'):
        load_pairing(missing, dm)
    empty = tmp_path / 'empty_dir'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='no pairing file'):
        load_pairing(empty, dm)

    # Another split of the same benchmark: other RGB training samples.
    other = _datamodule(root, seed=1)
    with pytest.raises(ValueError, match=r'pairing\.pt.*other data'):
        load_pairing(pt_path, other)
    with pytest.raises(ValueError, match=r'pairing\.csv.*not in'):
        load_pairing(csv_path, other)

    # Another, smaller benchmark: the paired teachers do not exist there.
    small_root = generate_synthetic_benchmark(
        tmp_path / 'small', **{**SIZES, 'ms_per_class': 2}
    )
    small = _datamodule(small_root)
    with pytest.raises(ValueError, match=r'pairing\.pt'):
        load_pairing(pt_path, small)

    # A pairing across classes is refused, naming the file.
    state = torch.load(pt_path, weights_only=True)
    targets = dm.ms_train.targets
    wrong_class = (targets != dm.rgb_train.targets[0]).nonzero()[0]
    state['pairing'][0] = wrong_class
    bad = tmp_path / 'cross.pt'
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r'cross\.pt.*within-class'):
        load_pairing(bad, dm)

    # Not a pairing file at all, or an unknown format.
    torch.save(torch.zeros(3), tmp_path / 'tensor.pt')
    with pytest.raises(ValueError, match=r'tensor\.pt.*not a pairing file'):
        load_pairing(tmp_path / 'tensor.pt', dm)
    (tmp_path / 'pairing.json').write_text('{}')
    with pytest.raises(ValueError, match='unknown format'):
        load_pairing(tmp_path / 'pairing.json', dm)


def test_save_rejects_bad_pairing(root: Path, tmp_path: Path) -> None:
    dm = _datamodule(root)
    assert dm.rgb_train is not None
    n = len(dm.rgb_train)
    with pytest.raises(ValueError, match='shape'):
        save_pairing(
            tmp_path, torch.zeros(n + 1, dtype=torch.long), torch.zeros(n + 1), dm
        )
    pairing, scores = initial_pairing(_matcher(), dm)
    with pytest.raises(ValueError, match='scores'):
        save_pairing(tmp_path, pairing, scores[:-1], dm)
    assert not (tmp_path / 'pairing.pt').exists()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _ddp_worker(rank: int, world_size: int, port: int, root: str, out: str) -> None:
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        pairing, scores = initial_pairing(_matcher(), _datamodule(Path(root)))
        torch.save((pairing, scores), Path(out) / f'rank{rank}.pt')
    finally:
        dist.destroy_process_group()


def test_ddp_gloo_equals_single_process(root: Path, tmp_path: Path) -> None:
    mp.spawn(
        _ddp_worker,
        args=(2, _free_port(), str(root), str(tmp_path)),
        nprocs=2,
        join=True,
    )
    single = initial_pairing(_matcher(), _datamodule(root))
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    assert torch.equal(ranks[0][0], ranks[1][0])
    assert torch.equal(ranks[0][1], ranks[1][1])
    assert torch.equal(ranks[0][0], single[0])
    torch.testing.assert_close(ranks[0][1], single[1])
