"""Broken torch files are refused with the file's name and what it should be."""

import pickle
from pathlib import Path

import pytest
import torch

from torchgeo_ackd.datasets import Pairing
from torchgeo_ackd.io import check_torch_file, read_torch_file
from torchgeo_ackd.models.teacher import FrozenTeacher


@pytest.fixture
def whole(tmp_path: Path) -> Path:
    path = tmp_path / 'whole.pt'
    torch.save({'weight': torch.arange(4000.0)}, path)
    return path


def test_a_whole_file_reads(whole: Path) -> None:
    assert check_torch_file(whole, 'x') == whole
    assert torch.equal(read_torch_file(whole, 'x')['weight'], torch.arange(4000.0))


@pytest.mark.parametrize(
    ('content', 'message'),
    [
        (lambda data: b'', r'is empty \(0 bytes\)'),
        (lambda data: data[: len(data) // 2], 'is truncated or not a torch file'),
        (lambda data: b'path,split\nRGB/a.jpg,train\n', 'truncated or not a torch'),
    ],
    ids=['empty', 'truncated', 'foreign'],
)
def test_broken_files_are_named(
    whole: Path, tmp_path: Path, content: object, message: str
) -> None:
    broken = tmp_path / 'broken.ckpt'
    broken.write_bytes(content(whole.read_bytes()))  # type: ignore[operator]
    with pytest.raises(ValueError, match=f"teacher weights '{broken}'.*{message}"):
        read_torch_file(broken, 'teacher weights')
    # Every reader of torch files goes through it.
    with pytest.raises(ValueError, match=f"teacher weights '{broken}'"):
        FrozenTeacher('resnet18', 13, 10, str(broken))
    with pytest.raises(ValueError, match=f"pairing file '{broken}'"):
        Pairing.read(broken)


def test_missing_and_pickled_payloads(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="matcher checkpoint '.*nope.ckpt'"):
        read_torch_file(tmp_path / 'nope.ckpt', 'matcher checkpoint')
    # A class instance is refused by weights_only=True, with the file named.
    payload = tmp_path / 'payload.pt'
    torch.save({'obj': pickle.PickleError('x')}, payload)
    with pytest.raises(ValueError, match=f"pairing file '{payload}' cannot be read"):
        read_torch_file(payload, 'pairing file')
