import csv
import os
from pathlib import Path

import pytest
import torch

from torchgeo_ackd.datasets.pairing_csv import (
    PAIRING_COLUMNS,
    read_pairing_csv,
    write_pairing_csv,
)

STUDENTS = ['RGB/Forest/a.jpg', 'RGB/River/b.jpg', 'RGB/Forest/c,1.jpg']
TEACHERS = ['MS/River/x.tif', 'MS/Forest/y.tif', 'MS/Forest/z.tif', 'MS/Sea/w.tif']
CLASSES = ['Forest', 'River', 'Sea']
LABELS = [0, 1, 0]
PAIRING = torch.tensor([2, 0, 1])
SCORES = torch.tensor([0.5, -0.25, 0.875])


def _write(path: Path) -> None:
    write_pairing_csv(path, PAIRING, SCORES, STUDENTS, TEACHERS, LABELS, CLASSES)


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline='') as f:
        return list(csv.reader(f))


def test_written_content(tmp_path: Path) -> None:
    path = tmp_path / 'sub' / 'pairing.csv'
    _write(path)
    assert _rows(path) == [
        list(PAIRING_COLUMNS),
        ['0', 'RGB/Forest/a.jpg', '2', 'MS/Forest/z.tif', 'Forest', '0.5', '1'],
        ['1', 'RGB/River/b.jpg', '0', 'MS/River/x.tif', 'River', '-0.25', '1'],
        ['2', 'RGB/Forest/c,1.jpg', '1', 'MS/Forest/y.tif', 'Forest', '0.875', '1'],
    ]
    # A hub: two students on one teacher, each row says so.
    hub = tmp_path / 'hub.csv'
    write_pairing_csv(
        hub, torch.tensor([2, 0, 2]), SCORES, STUDENTS, TEACHERS, LABELS, CLASSES
    )
    assert [row[-1] for row in _rows(hub)[1:]] == ['2', '1', '2']
    assert PAIRING_COLUMNS == (
        'student_index',
        'student_file',
        'teacher_index',
        'teacher_file',
        'class',
        'score',
        'teacher_load',
    )
    # No temporary file left behind.
    assert os.listdir(path.parent) == ['pairing.csv']


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / 'pairing.csv'
    _write(path)
    assert read_pairing_csv(path, STUDENTS, TEACHERS).tolist() == [2, 0, 1]


def test_round_trip_after_reordering(tmp_path: Path) -> None:
    path = tmp_path / 'pairing.csv'
    _write(path)
    students = [STUDENTS[2], STUDENTS[0], STUDENTS[1]]
    teachers = [TEACHERS[3], TEACHERS[2], TEACHERS[1], TEACHERS[0], 'MS/Sea/new.tif']
    pairing = read_pairing_csv(path, students, teachers)
    assert pairing.dtype == torch.long
    # c -> y (now 2), a -> z (now 1), b -> x (now 3).
    assert pairing.tolist() == [2, 1, 3]


def test_overwrite_replaces(tmp_path: Path) -> None:
    path = tmp_path / 'pairing.csv'
    _write(path)
    write_pairing_csv(
        path, torch.tensor([1, 0, 2]), SCORES, STUDENTS, TEACHERS, LABELS, CLASSES
    )
    assert read_pairing_csv(path, STUDENTS, TEACHERS).tolist() == [1, 0, 2]


def test_failed_write_leaves_old_file(tmp_path: Path) -> None:
    path = tmp_path / 'pairing.csv'
    _write(path)
    before = path.read_text()
    with pytest.raises(IndexError):
        # A short student_files list only fails while rows are being written.
        write_pairing_csv(
            path, PAIRING, SCORES, _ShortList(STUDENTS), TEACHERS, LABELS, CLASSES
        )
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ['pairing.csv']


class _ShortList(list[str]):
    """Claims its full length but fails on the last item."""

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if i == len(self) - 1:
            raise IndexError(i)
        return super().__getitem__(i)


def test_write_errors(tmp_path: Path) -> None:
    path = tmp_path / 'pairing.csv'
    with pytest.raises(ValueError, match=r'pairing must have shape \(3,\)'):
        write_pairing_csv(
            path, PAIRING[:2], SCORES, STUDENTS, TEACHERS, LABELS, CLASSES
        )
    with pytest.raises(ValueError, match=r'scores must have shape \(3,\)'):
        write_pairing_csv(
            path, PAIRING, SCORES[:2], STUDENTS, TEACHERS, LABELS, CLASSES
        )
    with pytest.raises(ValueError, match='student_labels has 2 entries'):
        write_pairing_csv(
            path, PAIRING, SCORES, STUDENTS, TEACHERS, LABELS[:2], CLASSES
        )
    with pytest.raises(ValueError, match=r'pairing values must be in \[0, 4\)'):
        write_pairing_csv(
            path, torch.tensor([0, 4, 1]), SCORES, STUDENTS, TEACHERS, LABELS, CLASSES
        )
    with pytest.raises(ValueError, match=r'student_labels\[1\] = 3 is outside'):
        write_pairing_csv(path, PAIRING, SCORES, STUDENTS, TEACHERS, [0, 3, 0], CLASSES)
    with pytest.raises(TypeError, match='pairing must be an integer tensor'):
        write_pairing_csv(
            path, PAIRING.float(), SCORES, STUDENTS, TEACHERS, LABELS, CLASSES
        )
    assert not path.exists()


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, 'w', newline='') as f:
        csv.writer(f).writerows([['student_file', 'teacher_file'], *rows])


def test_read_errors(tmp_path: Path) -> None:
    path = tmp_path / 'pairing.csv'
    _write_rows(path, [[STUDENTS[0], TEACHERS[1]], ['RGB/x.jpg', TEACHERS[1]]])
    with pytest.raises(ValueError, match=r"line 3: student_file 'RGB/x.jpg' is not in"):
        read_pairing_csv(path, STUDENTS, TEACHERS)
    _write_rows(path, [[STUDENTS[0], 'MS/gone.tif']])
    with pytest.raises(
        ValueError, match=r"line 2: teacher_file 'MS/gone.tif' is not in"
    ):
        read_pairing_csv(path, STUDENTS, TEACHERS)
    _write_rows(
        path,
        [
            [STUDENTS[0], TEACHERS[1]],
            [STUDENTS[1], TEACHERS[0]],
            [STUDENTS[0], TEACHERS[2]],
        ],
    )
    with pytest.raises(ValueError, match=r'line 4: .*already paired on line 2'):
        read_pairing_csv(path, STUDENTS, TEACHERS)
    _write_rows(path, [[STUDENTS[1], TEACHERS[0]]])
    with pytest.raises(
        ValueError, match=r"2 of 3 students have no row \(e.g. \['RGB/Forest/a.jpg'"
    ):
        read_pairing_csv(path, STUDENTS, TEACHERS)
    with pytest.raises(
        ValueError, match=r"student_files lists 'RGB/River/b.jpg' twice"
    ):
        read_pairing_csv(path, [*STUDENTS, STUDENTS[1]], TEACHERS)
    path.write_text('student,teacher\na,b\n')
    with pytest.raises(
        ValueError, match=r"missing column\(s\) \['student_file', 'teacher_file'\]"
    ):
        read_pairing_csv(path, STUDENTS, TEACHERS)
    with pytest.raises(FileNotFoundError):
        read_pairing_csv(tmp_path / 'absent.csv', STUDENTS, TEACHERS)


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    plain = tmp_path / 'plain.txt'
    plain.write_text('x')
    path = tmp_path / 'pairing.csv'
    _write(path)
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
