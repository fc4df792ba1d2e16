"""Integration test on real imagery (EuroSAT Sentinel-2 -> UC Merced RGB)."""

from pathlib import Path

import torch

from torchgeo_ackd.datamodules import S2SEUDataModule
from torchgeo_ackd.datasets import S2SEU

RGB_CLASSES = [
    'AnnualCrop',
    'Forest',
    'HerbaceousVegetation',
    'Highway',
    'Residential',
    'River',
]


def test_real_mini_ms(real_mini: Path) -> None:
    ds = S2SEU(real_mini, modality='ms', split='all')
    assert len(ds) == 566
    assert torch.bincount(ds.targets, minlength=10).min() >= 50
    x = ds[0]
    # The paper's 10-band subset, cut by name from the 13 stored EuroSAT bands.
    assert x['image'].shape == (10, 64, 64)
    assert ds.bands == (
        'B02',
        'B03',
        'B04',
        'B05',
        'B06',
        'B07',
        'B08',
        'B8A',
        'B11',
        'B12',
    )
    # L1C digital numbers: reflectance * 10000, well inside uint16.
    assert 0 < x['image'].mean() < 10000


def test_real_mini_rgb_class_subset(real_mini: Path) -> None:
    ds = S2SEU(real_mini, modality='rgb', split='all', classes=RGB_CLASSES)
    assert len(ds) == 600
    names = {S2SEU.classes[i] for i in ds.targets.tolist()}
    assert names == set(RGB_CLASSES)
    x = ds[0]
    assert x['image'].shape == (3, 64, 64)  # 128 px UC Merced resized to S2S-EU's 64


def test_real_mini_paired_batches(real_mini: Path) -> None:
    dm = S2SEUDataModule(real_mini, batch_size=8, student_classes=RGB_CLASSES)
    dm.setup('fit')
    # Teacher-only classes (Industrial, Pasture, ...) are in the gallery, never paired.
    teacher_only = [
        S2SEU.classes.index(c)
        for c in ('Industrial', 'Pasture', 'PermanentCrop', 'SeaLake')
    ]
    assert set(teacher_only) <= set(dm.ms_train.targets.tolist())
    assert not set(dm.ms_train.targets[dm.pairing.teacher_index].tolist()) & set(
        teacher_only
    )
    batch = dm.preprocess(next(iter(dm.train_dataloader())), train=True)
    assert batch['image'].shape == (8, 3, 64, 64)
    assert batch['image_ms'].shape == (8, 10, 64, 64)
    assert torch.isfinite(batch['image_ms']).all()


def test_real_mini_matches_its_sha256sums(real_mini: Path) -> None:
    from torchgeo_ackd.io import check_sha256sums

    files = [
        *S2SEU(real_mini, modality='ms', split='all').files,
        *S2SEU(real_mini, modality='rgb', split='all', classes=RGB_CLASSES).files,
    ]
    assert len(files) == 1166
    assert check_sha256sums(files, real_mini) == []
