import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import ssm_pairing_of
from torch import Tensor

from torchgeo_ackd.callbacks import InitialPairing
from torchgeo_ackd.datamodules import SyntheticACKDDataModule, SyntheticMSDataModule
from torchgeo_ackd.datasets import ACKDDataset, Pairing
from torchgeo_ackd.synthetic import generate_synthetic_benchmark
from torchgeo_ackd.tasks import MatcherTask

SIZES = {'ms_per_class': 6, 'rgb_per_class': 5, 'ms_size': 16, 'rgb_size': 24}


@pytest.fixture(scope='module')
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synthetic_benchmark(
        tmp_path_factory.mktemp('initial') / 'synthetic', **SIZES
    )


def _datamodule(root: Path, **kwargs: object) -> SyntheticMSDataModule:
    dm = SyntheticMSDataModule(
        root=root,
        generate=False,
        pseudo_rgb=True,
        batch_size=8,
        eval_batch_size=7,
        **kwargs,  # type: ignore[arg-type]
    )
    dm.setup('fit')
    return dm


def _matcher(**kwargs: Any) -> MatcherTask:
    torch.manual_seed(0)
    return MatcherTask(
        ms_model='resnet10t', rgb_model='resnet10t', embed_dim=16, **kwargs
    )


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


def _pair(
    dm: SyntheticMSDataModule, matcher: MatcherTask | None = None, **kwargs: Any
) -> Pairing:
    return ssm_pairing_of(matcher or _matcher(), dm, **kwargs)


def test_equals_brute_force_numpy(root: Path) -> None:
    dm = _datamodule(root)
    matcher = _matcher()
    matcher.train()
    matcher.ms_encoder.bn1.eval()  # a mixed train/eval state to restore
    result = _pair(dm, matcher, chunk_size=3)
    pairing, scores = result.teacher_index, result.scores

    assert matcher.training and matcher.rgb_head.training
    assert not matcher.ms_encoder.bn1.training
    assert matcher.ms_encoder.layer1.training

    gallery = _embed_independently(matcher, dm.ms_train, *dm.statistics('ms'), ms=True)
    student = _embed_independently(
        matcher, dm.rgb_train, *dm.statistics('rgb'), ms=False
    )
    s_cls, g_cls = dm.rgb_train.targets.numpy(), dm.ms_train.targets.numpy()
    best, best_sim = _brute_force(student, s_cls, gallery, g_cls)

    assert pairing.dtype == torch.long and pairing.shape == (len(dm.rgb_train),)
    np.testing.assert_array_equal(pairing.numpy(), best)
    np.testing.assert_allclose(scores.numpy(), best_sim, rtol=1e-4, atol=1e-5)
    # Within class, and not a trivial pairing (several teachers used).
    np.testing.assert_array_equal(g_cls[pairing.numpy()], s_cls)
    assert len(set(pairing.tolist())) > len(set(s_cls.tolist()))
    assert result.distinct_teachers() == len(set(pairing.tolist()))


def test_end_of_training_embeds_the_gallery_once(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The written pairing and the logged retrieval share one embedding of the
    gallery."""
    import lightning.pytorch as pl

    import torchgeo_ackd.matching.pairings as pairings_module

    passes: list[str] = []  # the batch key of every pass over a dataset

    def counted(
        *args: Any, _embed: Any = pairings_module.loader_embeddings, **kwargs: Any
    ) -> Any:
        passes.append(args[2])
        return _embed(*args, **kwargs)

    monkeypatch.setattr(pairings_module, 'loader_embeddings', counted)
    dm = _datamodule(root)
    matcher = _matcher()
    callback = InitialPairing(output_dir=str(tmp_path))
    trainer = pl.Trainer(
        callbacks=[callback],
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(matcher, dm)
    # One pass over the MS gallery for the pairing and the retrieval; the
    # RGB training images (pairing) and validation images (retrieval).
    assert sorted(passes) == ['image_ms', 'image_rgb', 'image_rgb']
    written = Pairing.read(tmp_path / 'pairing.pt')
    # The matching function, from scratch: the same pairing.
    again = _pair(dm, matcher)
    assert torch.equal(written.teacher_index, again.teacher_index)
    assert torch.equal(written.scores, again.scores)


def test_rgb_embedding_refuses_other_than_three_channels() -> None:
    matcher = _matcher().eval()
    assert matcher.embed_rgb(torch.zeros(2, 3, 24, 24)).shape[0] == 2
    with pytest.raises(ValueError, match=r'shape \(B, 3, H, W\), got \(2, 4, 24, 24\)'):
        matcher.embed_rgb(torch.zeros(2, 4, 24, 24))


def test_teacher_stage_datamodule_works_too(root: Path) -> None:
    """Statistics are computed on first use, in any modality."""
    dm = SyntheticMSDataModule(root=root, generate=False)
    expected = _pair(_datamodule(root))
    assert torch.equal(_pair(dm).teacher_index, expected.teacher_index)


def test_save_and_load_round_trip(root: Path, tmp_path: Path) -> None:
    dm = _datamodule(root)
    pairing = _pair(dm)
    pt_path, csv_path = pairing.save(tmp_path / 'out')
    assert pt_path == tmp_path / 'out' / 'pairing.pt' and pt_path.is_file()
    assert csv_path == tmp_path / 'out' / 'pairing.csv' and csv_path.is_file()

    state = torch.load(pt_path, weights_only=True)
    assert torch.equal(state['pairing'], pairing.teacher_index)
    torch.testing.assert_close(state['scores'], pairing.scores)
    assert state['student_files'][0].startswith('RGB/')
    assert state['teacher_files'][0].startswith('MS/')
    assert len(state['teacher_files']) == len(dm.ms_train)

    # A fresh datamodule over the same data reads both files back.
    fresh = _datamodule(root)
    for path in (pt_path, csv_path, tmp_path / 'out'):
        loaded = Pairing.load(path, fresh.rgb_train, fresh.ms_train)
        assert torch.equal(loaded.teacher_index, pairing.teacher_index), path
    torch.testing.assert_close(
        Pairing.load(pt_path, fresh.rgb_train, fresh.ms_train).scores, pairing.scores
    )
    # A paired datamodule reads it as its pairing_file.
    paired = SyntheticACKDDataModule(root=root, generate=False, pairing_file=csv_path)
    paired.setup('fit')
    assert torch.equal(paired.pairing.teacher_index, pairing.teacher_index)
    assert torch.equal(paired.train_dataset.pairing, pairing.teacher_index)


def test_pt_is_matched_by_file_name(root: Path, tmp_path: Path) -> None:
    dm = _datamodule(root)
    pairing = _pair(dm)
    pt_path, _ = pairing.save(tmp_path)
    state = torch.load(pt_path, weights_only=True)
    # Store both lists in reverse order, remapping the indices accordingly.
    n_t = len(state['teacher_files'])
    state['student_files'] = state['student_files'][::-1]
    state['teacher_files'] = state['teacher_files'][::-1]
    state['pairing'] = (n_t - 1 - state['pairing']).flip(0)
    state['scores'] = state['scores'].flip(0)
    torch.save(state, pt_path)
    loaded = Pairing.load(pt_path, dm.rgb_train, dm.ms_train)
    assert torch.equal(loaded.teacher_index, pairing.teacher_index)
    torch.testing.assert_close(loaded.scores, pairing.scores)


def test_load_errors(root: Path, tmp_path: Path) -> None:
    dm = _datamodule(root)
    pt_path, csv_path = _pair(dm).save(tmp_path)

    def load(path: Path, d: SyntheticMSDataModule = dm) -> Pairing:
        return Pairing.load(path, d.rgb_train, d.ms_train)

    missing = tmp_path / 'nope.pt'
    with pytest.raises(FileNotFoundError, match='nope.pt'):
        load(missing)
    empty = tmp_path / 'empty_dir'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='no pairing file'):
        load(empty)

    # Another split of the same benchmark: other RGB training samples.
    other = _datamodule(root, seed=1)
    with pytest.raises(ValueError, match=r'pairing\.pt.*other data'):
        load(pt_path, other)
    with pytest.raises(ValueError, match=r'pairing\.csv.*not in'):
        load(csv_path, other)

    # Another, smaller benchmark: the paired teachers do not exist there.
    small_root = generate_synthetic_benchmark(
        tmp_path / 'small', **{**SIZES, 'ms_per_class': 2}
    )
    with pytest.raises(ValueError, match=r'pairing\.pt'):
        load(pt_path, _datamodule(small_root))

    # A pairing across classes is refused, naming the file.
    state = torch.load(pt_path, weights_only=True)
    targets = dm.ms_train.targets
    wrong_class = (targets != dm.rgb_train.targets[0]).nonzero()[0]
    state['pairing'][0] = wrong_class
    bad = tmp_path / 'cross.pt'
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r'cross\.pt.*within-class'):
        load(bad)

    # Not a pairing file at all, or an unknown format.
    torch.save(torch.zeros(3), tmp_path / 'tensor.pt')
    with pytest.raises(ValueError, match=r'tensor\.pt.*not a pairing file'):
        load(tmp_path / 'tensor.pt')
    (tmp_path / 'pairing.json').write_text('{}')
    with pytest.raises(ValueError, match='unknown format'):
        load(tmp_path / 'pairing.json')


def test_bad_pairings_are_refused(root: Path, tmp_path: Path) -> None:
    dm = _datamodule(root)
    n = len(dm.rgb_train)
    with pytest.raises(ValueError, match='shape'):
        Pairing.for_datasets(
            torch.zeros(n + 1, dtype=torch.long), dm.rgb_train, dm.ms_train
        )
    pairing = _pair(dm)
    with pytest.raises(ValueError, match='scores'):
        Pairing.for_datasets(
            pairing.teacher_index, dm.rgb_train, dm.ms_train, pairing.scores[:-1]
        )
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
        pairing = _pair(_datamodule(Path(root)))
        torch.save(
            (pairing.teacher_index, pairing.scores), Path(out) / f'rank{rank}.pt'
        )
    finally:
        dist.destroy_process_group()


def test_ddp_gloo_equals_single_process(root: Path, tmp_path: Path) -> None:
    mp.spawn(
        _ddp_worker,
        args=(2, _free_port(), str(root), str(tmp_path)),
        nprocs=2,
        join=True,
    )
    pairing = _pair(_datamodule(root))
    single = (pairing.teacher_index, pairing.scores)
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    assert torch.equal(ranks[0][0], ranks[1][0])
    assert torch.equal(ranks[0][1], ranks[1][1])
    assert torch.equal(ranks[0][0], single[0])
    torch.testing.assert_close(ranks[0][1], single[1])


def test_pairing_refused_for_other_pixels_under_the_same_names(
    tmp_path: Path,
) -> None:
    import shutil

    own = tmp_path / 'own'
    shutil.copytree(
        generate_synthetic_benchmark(tmp_path / 'bench', **SIZES), own
    )  # a copy this test may change
    dm = _datamodule(own)
    pairing = Pairing.random(dm.rgb_train, dm.ms_train, seed=0)
    assert pairing.data_fingerprint == pairing.content_fingerprint(own)
    pt_path, _ = pairing.save(tmp_path / 'out')
    assert Pairing.read(pt_path).data_fingerprint == pairing.data_fingerprint
    # An unpaired MS file may change: the pairing still fits.
    unpaired = sorted(
        set(pairing.teacher_files)
        - {pairing.teacher_files[t] for t in pairing.teacher_index.tolist()}
    )
    if unpaired:
        (own / unpaired[0]).write_bytes((own / pairing.teacher_files[0]).read_bytes())
        Pairing.load(pt_path, dm.rgb_train, dm.ms_train)
    # A paired student image with other content under the same name: refused.
    student = own / pairing.student_files[0]
    student.write_bytes((own / pairing.student_files[-1]).read_bytes())
    with pytest.raises(ValueError, match=r'was computed on other images .*same file'):
        Pairing.load(pt_path, dm.rgb_train, dm.ms_train)


def test_refuses_a_module_that_is_not_a_matcher(root: Path) -> None:
    import lightning.pytorch as pl

    with pytest.raises(
        TypeError, match='needs a matcher with embed_ms.*got LightningModule'
    ):
        _pair(_datamodule(root), pl.LightningModule())
