"""File summaries: cached across processes, re-read only when a file changes."""

from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_DATA
from PIL import Image

from torchgeo_ackd.io import file_hashes, fingerprint
from torchgeo_ackd.io import files as files_module
from torchgeo_ackd.synthetic import generate_synthetic_benchmark


def test_summaries_are_cached_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = generate_synthetic_benchmark(tmp_path / 'good', **TINY_DATA)
    images = sorted(p for p in root.rglob('*') if p.suffix in ('.tif', '.jpg'))
    assert len(images) == 100
    monkeypatch.setenv('TORCHGEO_ACKD_CACHE', str(tmp_path / 'cache'))
    reads: list[Path] = []
    original = files_module._summarise

    def counting(path: Path) -> files_module.FileSummary:
        reads.append(path)
        return original(path)

    monkeypatch.setattr(files_module, '_summarise', counting)
    first = file_hashes(images, root)
    assert len(reads) == 100
    monkeypatch.setattr(files_module, '_CACHE', {})  # as a new process
    assert file_hashes(images, root) == first
    assert len(reads) == 100  # all from the cache file
    changed = root / 'RGB' / 'Forest' / 'Forest_0000.jpg'
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(changed)
    again = file_hashes(images, root)
    assert reads[100:] == [changed]  # only the changed file is read again
    assert fingerprint(again) != fingerprint(first)


def test_check_sha256sums(tmp_path: Path) -> None:
    import hashlib

    from torchgeo_ackd.io import check_sha256sums

    (tmp_path / 'A').mkdir()
    files = [tmp_path / 'A' / f'{i}.tif' for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * 10)
    assert check_sha256sums(files, tmp_path) == []  # no SHA256SUMS: nothing to check
    lines = [f'{hashlib.sha256(f.read_bytes()).hexdigest()}  A/{f.name}' for f in files]
    lines.append(f'{"0" * 64}  A/gone.tif')
    lines.append(f'{"0" * 64}  B/elsewhere.tif')  # a folder not checked
    (tmp_path / 'SHA256SUMS').write_text('\n'.join(lines) + '\n')
    files[1].write_bytes(b'changed')
    unlisted = tmp_path / 'A' / 'new.tif'
    unlisted.write_bytes(b'new')
    problems = check_sha256sums([*files, unlisted], tmp_path)
    assert problems == [
        f'A/gone.tif: listed in {tmp_path / "SHA256SUMS"} but missing',
        f'A/1.tif: its SHA-256 differs from {tmp_path / "SHA256SUMS"} (changed or '
        'corrupted)',
    ]
