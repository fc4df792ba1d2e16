"""Teacher fold splits: MS training images dealt out, everything else unchanged."""

import csv
import shutil
from pathlib import Path

import pytest

from torchgeo_ackd.datasets import SyntheticACKD, relative_files
from torchgeo_ackd.pipeline.teacher_folds import prepare_teacher_folds
from torchgeo_ackd.synthetic import generate_synthetic_benchmark


def _read(path: Path) -> dict[str, str]:
    with open(path, newline='') as f:
        return {row['path']: row['split'] for row in csv.DictReader(f)}


def test_fold_splits_with_teacher_only_classes(tmp_path: Path) -> None:
    # An RGB side with fewer classes than the MS side (as ackd-real-mini).
    root = generate_synthetic_benchmark(
        tmp_path / 'syn', ms_per_class=4, rgb_per_class=5, ms_size=8, rgb_size=8
    )
    shutil.rmtree(root / 'RGB' / 'River')
    present = [c for c in SyntheticACKD.classes if c != 'River']
    args = {'root': root}
    with pytest.raises(FileNotFoundError, match='student_classes'):
        prepare_teacher_folds(SyntheticACKD, args, tmp_path / 'x', 2)
    ms_train = set(relative_files(SyntheticACKD(root, modality='ms', split='train')))
    out = tmp_path / 'out'
    held_out = prepare_teacher_folds(SyntheticACKD, args, out, 2, present)
    for fold, held in enumerate(held_out):
        path = out / 'teacher_folds' / f'fold{fold}' / 'split.csv'
        split = _read(path)
        assert set(held) <= ms_train and all(split[f] == 'test' for f in held)
        # The RGB images of the present classes keep their default split.
        for part in ('train', 'val', 'test'):
            rgb = SyntheticACKD(root, modality='rgb', split=part, classes=present)
            assert {
                p for p, s in split.items() if s == part and p.startswith('RGB/')
            } == set(relative_files(rgb))
        # The split file is read back by the dataset: the fold trains on the rest.
        train = SyntheticACKD(root, modality='ms', split='train', split_file=path)
        assert set(relative_files(train)) == ms_train - set(held)
    # The folds partition the MS training images.
    assert sorted(held_out[0] + held_out[1]) == sorted(ms_train)
    # A rerun writes the same files.
    before = (out / 'teacher_folds' / 'fold0' / 'split.csv').read_bytes()
    assert prepare_teacher_folds(SyntheticACKD, args, out, 2, present) == held_out
    assert (out / 'teacher_folds' / 'fold0' / 'split.csv').read_bytes() == before


def test_too_many_folds_fail_before_any_stage(tmp_path: Path) -> None:
    from torchgeo_ackd.pipeline import run_pipeline

    # 5 images a class: 3 MS training images a class, 5 RGB images a class.
    root = generate_synthetic_benchmark(
        tmp_path / 'syn', ms_per_class=5, rgb_per_class=5, ms_size=8, rgb_size=8
    )
    out = tmp_path / 'out'
    with pytest.raises(
        ValueError, match=r'--teacher-folds .*fewer than|fewer than .*--teacher-folds'
    ):
        run_pipeline(root=root, out=out, teacher_folds=4, use_pretrained=False)
    with pytest.raises(ValueError, match=r'--folds .*fewer than|fewer than .*--folds'):
        run_pipeline(root=root, out=out, folds=6, use_pretrained=False)
    assert not (out / 'teacher').exists()
