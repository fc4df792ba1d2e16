"""K-fold splits: stratified, a partition of the RGB images, MS split unchanged."""

import csv
from collections import Counter
from pathlib import Path

import pytest

from torchgeo_ackd.datasets import SyntheticACKD, relative_files
from torchgeo_ackd.pipeline.folds import stratified_folds, write_fold_split
from torchgeo_ackd.synthetic import generate_synthetic_benchmark


def test_stratified_folds_partition_each_class() -> None:
    labels = [0] * 7 + [1] * 5 + [2] * 10
    folds = stratified_folds(labels, 3, seed=0, class_names=('a', 'b', 'c'))
    for c, n in ((0, 7), (1, 5), (2, 10)):
        counts = Counter(
            f for f, label in zip(folds, labels, strict=True) if label == c
        )
        assert set(counts) == {0, 1, 2}
        assert max(counts.values()) - min(counts.values()) <= 1
        assert sum(counts.values()) == n
    assert folds == stratified_folds(labels, 3, seed=0, class_names=('a', 'b', 'c'))
    assert folds != stratified_folds(labels, 3, seed=1, class_names=('a', 'b', 'c'))
    with pytest.raises(ValueError, match="class 'b' has 5 images, fewer than"):
        stratified_folds(labels, 6, seed=0, class_names=('a', 'b', 'c'))
    with pytest.raises(ValueError, match='--folds must be >= 3'):
        stratified_folds(labels, 2, seed=0, class_names=('a', 'b', 'c'))


def test_fold_splits(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(
        tmp_path / 'syn', ms_per_class=4, rgb_per_class=5, ms_size=8, rgb_size=8
    )
    kwargs = {'root': root}
    k = 5
    tested: list[str] = []
    for fold in range(k):
        path = tmp_path / f'fold{fold}.csv'
        write_fold_split(path, SyntheticACKD, kwargs, None, fold, k, seed=0)
        with open(path, newline='') as f:
            split = {row['path']: row['split'] for row in csv.DictReader(f)}
        rgb = {p: s for p, s in split.items() if p.startswith('RGB/')}
        tested += [p for p, s in rgb.items() if s == 'test']
        # 60 / 20 / 20 of each class's 5 images: 3 train, 1 val, 1 test.
        for name in SyntheticACKD.classes:
            mine = Counter(s for p, s in rgb.items() if f'/{name}/' in p)
            assert mine == {'train': 3, 'val': 1, 'test': 1}
        # The MS images keep the default split in every fold.
        for part in ('train', 'val', 'test'):
            ms = SyntheticACKD(root, modality='ms', split=part)
            assert {
                p for p, s in split.items() if s == part and p.startswith('MS/')
            } == set(relative_files(ms))
        # The split file is read back by the dataset.
        test = SyntheticACKD(root, modality='rgb', split='test', split_file=path)
        assert set(relative_files(test)) == {p for p, s in rgb.items() if s == 'test'}
    # Every RGB image is a test image exactly once.
    everything = relative_files(SyntheticACKD(root, modality='rgb', split='all'))
    assert sorted(tested) == sorted(everything)


def test_fold_splits_of_the_ms_images(tmp_path: Path) -> None:
    # The teacher's benchmark folds the MS images; the RGB ones keep theirs.
    root = generate_synthetic_benchmark(
        tmp_path / 'syn', ms_per_class=5, rgb_per_class=4, ms_size=8, rgb_size=8
    )
    k, tested = 5, []
    for fold in range(k):
        path = tmp_path / f'fold{fold}.csv'
        write_fold_split(
            path, SyntheticACKD, {'root': root}, None, fold, k, seed=0, folded='ms'
        )
        ms = SyntheticACKD(root, modality='ms', split='test', split_file=path)
        tested += relative_files(ms)
        assert Counter(int(t) for t in ms.targets) == dict.fromkeys(range(10), 1)
        for part in ('train', 'val', 'test'):
            rgb = SyntheticACKD(root, modality='rgb', split=part)
            again = SyntheticACKD(root, modality='rgb', split=part, split_file=path)
            assert relative_files(again) == relative_files(rgb)
    everything = relative_files(SyntheticACKD(root, modality='ms', split='all'))
    assert sorted(tested) == sorted(everything)
    with pytest.raises(ValueError, match="folded must be 'rgb' or 'ms'"):
        write_fold_split(
            tmp_path / 'x.csv', SyntheticACKD, {'root': root}, None, 0, k, 0, 'both'
        )
