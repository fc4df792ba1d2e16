import multiprocessing
import os
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from ackd_fake_data import make_benchmark

import torchgeo_ackd.datamodules as datamodules
from torchgeo_ackd.datamodules import (
    ACKDDataModule,
    MSDataModule,
    PairedDataModule,
    band_statistics,
)
from torchgeo_ackd.datasets import ACKDDataset, PairedDataset, Pairing, RenamedDataset
from torchgeo_ackd.sensors import SENTINEL2_EUROSAT, Sensor

CLASSES = ('A', 'B', 'C')


class Fake(ACKDDataset):
    classes: ClassVar[tuple[str, ...]] = CLASSES
    ms_sensor: ClassVar[Sensor] = SENTINEL2_EUROSAT


class FakeMSDataModule(MSDataModule):
    dataset_class = Fake


class FakeDataModule(PairedDataModule):
    dataset_class = Fake
    ms_datamodule = FakeMSDataModule


def _pairing(dm: ACKDDataModule, index: torch.Tensor) -> Pairing:
    return Pairing.for_datasets(index, dm.rgb_train, dm.ms_train)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_benchmark(tmp_path / 'bench', CLASSES, n_ms=10, n_rgb=10)


def test_band_statistics_match_numpy(root: Path) -> None:
    ds = Fake(root, split='all')
    mean, std = band_statistics(ds, max_samples=1000, seed=0)
    stack = torch.stack([ds[i]['image'] for i in range(len(ds))]).double()
    want = stack.permute(1, 0, 2, 3).flatten(1)
    assert torch.allclose(mean.double(), want.mean(1), rtol=1e-5)
    assert torch.allclose(std.double(), want.std(1, unbiased=False), rtol=1e-4)


def test_ms_mode_batches(root: Path) -> None:
    dm = FakeMSDataModule(root, batch_size=4)
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    out = dm.preprocess(batch, train=False)
    assert out['image'].shape == (4, 13, 8, 8)
    # Normalised with the training statistics: roughly zero mean per band.
    full = torch.stack([dm.ms_train[i]['image'] for i in range(len(dm.ms_train))])
    normed = dm.preprocess({'image': full})['image']
    assert normed.mean(dim=(0, 2, 3)).abs().max() < 0.1
    assert (normed.std(dim=(0, 2, 3)) - 1).abs().max() < 0.1
    augmented = dm.preprocess(batch, train=True)['image']
    assert augmented.shape == (4, 13, 8, 8)


@pytest.mark.parametrize('stage', [FakeMSDataModule, FakeDataModule])
def test_training_crop_without_a_declared_size(
    root: Path, stage: type[ACKDDataModule]
) -> None:
    # Fake declares no ms_size / rgb_size: the random resized crop must still
    # run, back to the batch's own size (MS images, then RGB students). A crop
    # of a quarter of the area is none of the 8 flips / rotations of the
    # normalised image.
    dm = stage(
        root,
        ms_augment=True,
        batch_size=4,
        crop_scale=(0.25, 0.25),
        spectral_jitter=0.0,
    )
    dm.setup('fit')
    raw = next(iter(dm.train_dataloader()))['image']
    plain = dm.preprocess({'image': raw}, train=False)['image']
    cropped = dm.preprocess({'image': raw}, train=True)['image']
    assert cropped.shape == plain.shape
    for i in range(len(raw)):
        dihedral = [
            torch.rot90(view, k, dims=(-2, -1))
            for view in (plain[i], plain[i].flip(-1))
            for k in range(4)
        ]
        assert not any(torch.allclose(cropped[i], d, atol=1e-4) for d in dihedral)
    # Without the crop (full area), each output is one of them.
    dm.augmentation = replace(dm.augmentation, crop_scale=(1.0, 1.0))
    dm._pipelines.clear()
    uncropped = dm.preprocess({'image': raw}, train=True)['image']
    for i in range(len(raw)):
        dihedral = [
            torch.rot90(view, k, dims=(-2, -1))
            for view in (plain[i], plain[i].flip(-1))
            for k in range(4)
        ]
        assert any(torch.allclose(uncropped[i], d, atol=1e-4) for d in dihedral)


def test_pseudo_rgb_batches(root: Path) -> None:
    dm = FakeMSDataModule(root, batch_size=4, pseudo_rgb=True)
    dm.setup('fit')
    batch = dm.preprocess(next(iter(dm.train_dataloader())))
    assert batch['image_pseudo_rgb'].shape == (4, 3, 8, 8)
    assert batch['image'].shape == (4, 13, 8, 8)


def test_pseudo_rgb_views_are_normalised_like_the_rgb_images(root: Path) -> None:
    """Pseudo-RGB views get the real RGB images' normalisation, not their own."""
    dm = FakeMSDataModule(root, pseudo_rgb=True, batch_size=100)
    dm.setup('fit')
    raw = next(iter(dm.train_dataloader()))  # the whole training split
    assert len(raw['image']) == len(dm.ms_train)
    views = dm.preprocess(raw, train=False)['image_pseudo_rgb']
    # Undo the RGB normalisation: the views come back in their own units.
    rgb_mean, rgb_std = dm.statistics('rgb')
    in_rgb_units = views * rgb_std.view(1, 3, 1, 1) + rgb_mean.view(1, 3, 1, 1)
    expected = dm.pseudo_rgb_transform(raw['image'].float())
    torch.testing.assert_close(in_rgb_units, expected, atol=1e-3, rtol=1e-4)
    # The fake views' colours differ from the RGB images': had they been
    # normalised with their own statistics, this would not hold.
    flat = expected.transpose(0, 1).reshape(3, -1).double()
    assert not torch.allclose(flat.mean(1), rgb_mean.double(), atol=1e-2)
    assert 'pseudo_rgb_mean' not in dm.state_dict()


def test_paired_mode(root: Path) -> None:
    dm = FakeDataModule(root, batch_size=5)
    dm.setup('fit')
    assert isinstance(dm.train_dataset, PairedDataset)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {'image', 'label', 'index', 'image_ms', 'teacher_index'}
    assert batch['image'].shape == (5, 3, 12, 12) and batch['image_ms'].shape == (
        5,
        13,
        8,
        8,
    )
    assert torch.equal(dm.ms_train.targets[batch['teacher_index']], batch['label'])
    assert torch.equal(dm.pairing.teacher_index[batch['index']], batch['teacher_index'])
    out = dm.preprocess(batch, train=True)
    assert out['image'].shape == (5, 3, 12, 12) and out['image_ms'].shape == (
        5,
        13,
        8,
        8,
    )
    val = next(iter(dm.val_dataloader()))
    assert set(val) == {'image', 'label', 'index'} and val['image'].shape[1] == 3


def test_default_pairing_is_seeded_random_same_class(root: Path) -> None:
    def pairing(seed: int) -> torch.Tensor:
        dm = FakeDataModule(root, seed=seed)
        dm.setup('fit')
        index = dm.pairing.teacher_index
        assert torch.equal(dm.ms_train.targets[index], dm.rgb_train.targets)
        return index.clone()

    assert torch.equal(pairing(0), pairing(0))
    assert not torch.equal(pairing(0), pairing(1))


def test_gallery_of_every_ms_image(root: Path) -> None:
    """``gallery_split='all'``: students are matched against every MS image."""
    dm = FakeDataModule(root, gallery_split='all')
    dm.setup('fit')
    every = Fake(root, split='all')
    assert dm.gallery.files == every.files and len(dm.gallery) == 30
    assert len(dm.ms_train) < len(dm.gallery)  # the training split is still a split
    index = dm.pairing.teacher_index
    assert torch.equal(dm.gallery.targets[index], dm.rgb_train.targets)
    # Some students are taught by MS images outside the MS training split.
    train = set(dm.ms_train.files)
    assert any(dm.gallery.files[i] not in train for i in range(len(dm.gallery)))
    batch = next(iter(dm.gallery_dataloader()))
    assert batch['image_ms'].shape[0] == min(len(dm.gallery), dm.eval_batch_size)
    default = FakeDataModule(root)
    assert default.gallery is default.ms_train
    with pytest.raises(ValueError, match="gallery_split='val'"):
        FakeDataModule(root, gallery_split='val')  # type: ignore[arg-type]


def test_decoded_in_memory_gives_the_same_batches(root: Path) -> None:
    """The default (decoded once into memory) and files-only give equal batches."""

    def batches(in_memory_gb: float) -> tuple[FakeDataModule, list[dict]]:  # type: ignore[type-arg]
        dm = FakeDataModule(root, batch_size=4, in_memory_gb=in_memory_gb)
        dm.setup('fit')
        out = []
        for loader in (dm.train_dataloader(), dm.val_dataloader()):
            for batch in loader:
                out.append(dm.preprocess(batch, train=False))
        return dm, out

    memory, from_memory = batches(4.0)
    files, from_files = batches(0.0)
    assert memory.rgb_train.decoded is not None and memory.ms_train.decoded is not None
    assert files.rgb_train.decoded is None and files.ms_train.decoded is None
    assert len(from_memory) == len(from_files)
    for a, b in zip(from_memory, from_files, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key
    # Every dataset decoded: no loader workers needed; files-only: some.
    assert memory.datasets.all_decoded and memory.loader_workers == 0
    assert not files.datasets.all_decoded
    assert FakeDataModule(root, num_workers=3).loader_workers == 3


def test_loader_workers_read_one_decoded_copy(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are the same with workers; non-forked workers get shared memory."""
    batches = []
    for workers in (0, 2):
        dm = FakeDataModule(root, batch_size=4, num_workers=workers)
        dm.setup('fit')
        loaders = (dm.train_dataloader(), dm.val_dataloader(), dm.gallery_dataloader())
        batches.append([b for loader in loaders for b in loader])
    assert len(batches[0]) == len(batches[1])
    for a, b in zip(*batches, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key
    # Linux forks its workers: they share the parent's pages, nothing to move.
    assert multiprocessing.get_start_method() == 'fork'
    assert not dm.rgb_train.decoded.is_shared()  # type: ignore[union-attr]
    monkeypatch.setattr(multiprocessing, 'get_start_method', lambda: 'spawn')
    for workers in (0, 2):
        dm = FakeDataModule(root, batch_size=4, num_workers=workers)
        dm.setup('fit')
        dm.train_dataloader()
        for dataset in (dm.rgb_train, dm.ms_train, dm.val_dataset):
            assert dataset.decoded is not None
            assert dataset.decoded.is_shared() == (workers > 0)


def test_paired_batched_fetch_equals_samples(root: Path) -> None:
    dm = FakeDataModule(root)
    dm.setup('fit')
    paired, gallery = dm.train_dataset, RenamedDataset(dm.gallery, 'image_ms')
    for load_teacher in (True, False):
        paired.load_teacher = load_teacher
        for dataset in (paired, gallery):
            indices = [3, 0, 3, len(dataset) - 1]
            batch = dataset.__getitems__(indices).collated
            want = [dataset[i] for i in indices]
            assert batch.keys() == want[0].keys()
            for key in batch:
                stacked = torch.stack([w[key] for w in want])
                assert torch.equal(batch[key].to(stacked.dtype), stacked), key
    assert 'image_ms' not in paired.__getitems__([0]).collated


def test_default_workers(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dm = FakeDataModule(root)
    dm.setup('fit')
    assert dm.datasets.all_decoded and dm.loader_workers == 0
    # With a GPU, two workers fetch while the device computes.
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(os, 'cpu_count', lambda: 16)
    assert dm.loader_workers == 2
    files = FakeDataModule(root, in_memory_gb=0)
    files.setup('fit')
    assert files.loader_workers == 8
    monkeypatch.setattr(os, 'cpu_count', lambda: 2)
    assert dm.loader_workers == 1 and files.loader_workers == 1
    assert FakeDataModule(root, num_workers=3).loader_workers == 3


def test_datasets_are_built_and_decoded_once(root: Path) -> None:
    dm = FakeDataModule(root)
    dm.setup('fit')
    used, val = dm.datasets.memory_used, dm.val_dataset
    assert used > 0
    dm.setup('fit')
    dm.setup('validate')
    assert dm.val_dataset is val and dm.datasets.memory_used == used
    dm.setup('test')
    assert dm.datasets.memory_used == used + dm.test_dataset.decoded_bytes()
    assert dm.gallery is dm.ms_train is dm.ms_dataset('train')


def test_memory_budget_is_respected(root: Path) -> None:
    probe = FakeDataModule(root)
    rgb_bytes = probe.rgb_train.decoded_bytes()
    ms_bytes = probe.ms_train.decoded_bytes()
    assert rgb_bytes is not None and ms_bytes is not None
    # Room for the RGB training split, not for the MS one too.
    budget = (rgb_bytes + ms_bytes - 1) / 2**30
    dm = FakeDataModule(root, in_memory_gb=budget)
    assert dm.rgb_train.decoded is not None
    assert dm.ms_train.decoded is None  # read from the files instead
    assert dm.datasets.memory_used == rgb_bytes <= dm.datasets.memory_budget
    assert not dm.datasets.all_decoded
    with pytest.raises(ValueError, match='in_memory_gb'):
        FakeDataModule(root, in_memory_gb=-1)


@pytest.mark.parametrize('num_workers', [0, 2])
def test_workers_see_new_pairing(root: Path, num_workers: int) -> None:
    dm = FakeDataModule(root, batch_size=100, num_workers=num_workers)
    dm.setup('fit')
    loader = dm.train_dataloader()
    first = next(iter(loader))
    old = dm.pairing.teacher_index
    assert torch.equal(first['teacher_index'], old[first['index']])
    # Reverse each class's teacher order: still same-class, different pairs.
    new = old.clone()
    for c in range(3):
        members = (dm.ms_train.targets == c).nonzero().flatten()
        students = dm.rgb_train.targets == c
        new[students] = members.flip(0)[
            torch.arange(int(students.sum())) % len(members)
        ]
    assert not torch.equal(new, old)
    dm.set_pairing(_pairing(dm, new))
    second = next(iter(loader))  # same (persistent) workers, no rebuilt dataset
    assert torch.equal(second['teacher_index'], new[second['index']])


def test_state_dict_round_trip(root: Path) -> None:
    dm = FakeDataModule(root)
    dm.setup('fit')
    old = dm.pairing.teacher_index
    new = old.flip(0)
    new = torch.where(dm.ms_train.targets[new] == dm.rgb_train.targets, new, old)
    dm.set_pairing(_pairing(dm, new))
    dm.statistics('ms')  # computed on first use; then stored
    state = dm.state_dict()
    assert set(state) == {'ms_mean', 'ms_std', 'pairing'}
    other = FakeDataModule(root)
    other.load_state_dict(state)  # before setup: applied at setup
    other.setup('fit')
    assert torch.equal(other.pairing.teacher_index, new)
    assert torch.equal(other.train_dataset.pairing, new)
    assert torch.equal(other.statistics('ms')[0], dm.statistics('ms')[0])
    third = FakeDataModule(root)
    third.setup('fit')
    third.load_state_dict(state)  # after setup: applied in place
    assert torch.equal(third.pairing.teacher_index, new)
    assert torch.equal(third.train_dataset.pairing, new)


def test_bad_pairing_rejected(root: Path) -> None:
    dm = FakeDataModule(root)
    dm.setup('fit')
    index = dm.pairing.teacher_index
    with pytest.raises(ValueError, match='not within-class'):
        dm.set_pairing(_pairing(dm, torch.zeros_like(index)))
    with pytest.raises(ValueError, match='shape'):
        dm.set_pairing(_pairing(dm, index[:-1]))
    with pytest.raises(ValueError, match='outside'):
        dm.set_pairing(_pairing(dm, index + 1000))
    # Also one built without checks is refused by the datamodule.
    unchecked = replace(dm.pairing, teacher_index=torch.zeros_like(index))
    with pytest.raises(ValueError, match='not within-class'):
        dm.set_pairing(unchecked)
    assert torch.equal(dm.train_dataset.pairing, index)


def test_gallery_and_student_loaders(root: Path) -> None:
    dm = FakeDataModule(root, eval_batch_size=7)
    dm.setup('fit')
    gallery = list(dm.gallery_dataloader())
    idx = torch.cat([b['index'] for b in gallery])
    assert torch.equal(idx, torch.arange(len(dm.ms_train)))
    assert 'image_ms' in gallery[0] and 'image' not in gallery[0]
    assert dm.preprocess(gallery[0])['image_ms'].shape == (7, 13, 8, 8)
    students = list(dm.student_dataloader())
    assert dm.preprocess(students[0])['image_rgb'].shape == (7, 3, 12, 12)
    assert torch.equal(
        torch.cat([b['index'] for b in students]), torch.arange(len(dm.rgb_train))
    )


def test_rgb_class_without_teacher(tmp_path: Path) -> None:
    make_benchmark(tmp_path, ['A', 'B'], rgb_classes=['A', 'B', 'C'])
    dm = FakeDataModule(tmp_path)
    with pytest.raises(ValueError, match="RGB class 'C' has no teacher samples"):
        dm.setup('fit')


def test_teacher_only_classes_need_student_classes(tmp_path: Path) -> None:
    make_benchmark(tmp_path, CLASSES, rgb_classes=['A', 'C'])
    with pytest.raises(FileNotFoundError, match='student_classes'):
        FakeDataModule(tmp_path).setup('fit')
    dm = FakeDataModule(tmp_path, student_classes=['A', 'C'])
    dm.setup('fit')
    assert set(dm.rgb_train.targets.tolist()) == {0, 2}
    assert set(dm.ms_train.targets.tolist()) == {0, 1, 2}


def test_each_stage_takes_only_its_own_options(root: Path) -> None:
    with pytest.raises(TypeError, match='pseudo_rgb'):
        FakeDataModule(root, pseudo_rgb=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match='pairing_file'):
        FakeMSDataModule(root, pairing_file='pairing.pt')  # type: ignore[call-arg]
    # The MS stages augment their MS images, the student stage (cached
    # teacher outputs) does not, unless asked.
    assert FakeMSDataModule(root).augmentation.ms
    assert not FakeDataModule(root).augmentation.ms
    assert FakeDataModule(root, ms_augment=True).augmentation.ms


def test_every_benchmark_names_its_ms_stage_datamodule() -> None:
    paired = [
        cls
        for cls in vars(datamodules).values()
        if isinstance(cls, type) and issubclass(cls, PairedDataModule)
    ]
    assert len(paired) == 6  # the base, S2S-EU, S2S-CN, M2S-GL, EuroSAT-UCM, synthetic
    for cls in paired:
        if cls is PairedDataModule:
            continue
        ms = cls.ms_datamodule
        assert issubclass(ms, MSDataModule) and ms.dataset_class is cls.dataset_class
        assert getattr(datamodules, ms.__name__) is ms


def test_bad_arguments(root: Path) -> None:
    for scale in [(0.0, 1.0), (0.9, 0.8), (0.5, 1.5)]:
        with pytest.raises(ValueError, match='crop_scale'):
            FakeDataModule(root, crop_scale=scale)
    with pytest.raises(ValueError, match='spectral_jitter'):
        FakeDataModule(root, spectral_jitter=-0.1)
    with pytest.raises(ValueError, match='band_dropout'):
        FakeDataModule(root, band_dropout=1.0)


@pytest.mark.parametrize('remainder', [0, 1, 2])
def test_every_training_sample_every_epoch_but_a_batch_of_one(
    root: Path, remainder: int
) -> None:
    n = len(Fake(root, modality='rgb', split='train'))
    dm = FakeDataModule(root, batch_size=n - remainder if remainder else n)
    dm.setup('fit')
    assert len(dm.train_dataset) == n
    if remainder == 1:
        with pytest.warns(UserWarning, match=f'{n} training samples in batches of'):
            loader = dm.train_dataloader()
    else:
        loader = dm.train_dataloader()
    seen = []
    for epoch in (0, 1):
        loader.sampler.set_epoch(epoch)  # type: ignore[union-attr]
        seen.append(torch.cat([b['index'] for b in loader]).tolist())
    for indices in seen:
        if remainder == 1:
            # The batch of one is dropped: n - 1 distinct samples.
            assert len(indices) == len(set(indices)) == n - 1
        else:
            assert sorted(indices) == list(range(n))
    if remainder == 1:
        # Not the same sample every epoch (two epochs' orders differ).
        missing = [set(range(n)) - set(indices) for indices in seen]
        assert seen[0] != seen[1] and all(len(m) == 1 for m in missing)
