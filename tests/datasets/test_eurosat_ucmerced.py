"""The open EuroSAT -> UC Merced benchmark, downloaded by TorchGeo from local archives.

TorchGeo's classes fetch, from an HTTP server on localhost, archives written by
``tests/data/ackd/data.py``: TorchGeo's download, checksum and extraction code
runs as it is (only the URL is patched), then the benchmark reads the folders.
"""

import csv
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from ackd_fake_data import UCM_CLASSES, make_torchgeo_archives
from torchgeo.datasets import DatasetNotFoundError, EuroSAT, UCMerced

from torchgeo_ackd.datamodules import EuroSATUCMercedDataModule
from torchgeo_ackd.datasets import EuroSATUCMerced
from torchgeo_ackd.pipeline import run_pipeline


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing early (after a HEAD or a checksum failure)


@pytest.fixture(scope='module')
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on localhost, and its URL."""
    folder = tmp_path_factory.mktemp('http')
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _QuietServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f'http://127.0.0.1:{server.server_address[1]}/'
    server.shutdown()


@pytest.fixture(scope='module')
def archives(http_root: tuple[Path, str]) -> dict[str, dict[str, str]]:
    (http_root[0] / 'good').mkdir()
    return make_torchgeo_archives(http_root[0] / 'good')


@pytest.fixture
def served(
    http_root: tuple[Path, str],
    archives: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """TorchGeo's EuroSAT and UCMerced fetch the local archives, checksums included."""
    digests = archives
    for cls in (EuroSAT, UCMerced):
        monkeypatch.setattr(cls, 'url', http_root[1] + 'good/')
        # TorchGeo 0.8 checks MD5, 0.10 SHA-256.
        kind = 'md5' if hasattr(cls, 'md5') else 'sha256'
        monkeypatch.setattr(cls, kind, digests[cls.filename][kind])
        splits = {s: digests[f][kind] for s, f in cls.split_filenames.items()}
        monkeypatch.setattr(cls, f'split_{kind}s', splits)
    return http_root[0] / 'good'


def test_download_reads_torchgeos_folders(served: Path, tmp_path: Path) -> None:
    root = tmp_path / 'bench'
    EuroSATUCMerced.download(root)
    assert (root / EuroSAT.base_dir / 'Forest' / 'Forest_1.tif').is_file()
    ms = EuroSATUCMerced(root, 'ms', split='all')
    assert len(ms) == 30 and ms.targets.bincount().tolist() == [3] * 10
    assert ms[0]['image'].shape == (13, 64, 64)
    rgb = EuroSATUCMerced(root, 'rgb', split='all')
    # 6 EuroSAT classes; Residential gathers 3 UC Merced classes; airplane is out.
    assert rgb.class_subset == (
        'AnnualCrop', 'Forest', 'HerbaceousVegetation', 'Highway', 'Residential', 'River',
    )  # fmt: skip
    counts = {rgb.classes[k]: n for k, n in enumerate(rgb.targets.bincount()) if n}
    assert counts == {c: 3 for c in rgb.class_subset} | {'Residential': 9}
    assert not any('airplane' in str(f) for f in rgb.files)
    # UC Merced's odd 247 x 256 image is resized like the others.
    first = rgb.files.index(
        root / UCMerced.base_dir / 'agricultural/agricultural00.tif'
    )
    assert rgb[first]['image'].shape == (3, 256, 256)
    assert EuroSATUCMerced.present_classes(root, 'rgb') == list(rgb.class_subset)
    assert len(UCM_CLASSES) == 9


def test_a_corrupted_archive_is_refused(
    served: Path,
    http_root: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corrupt = http_root[0] / 'corrupt'
    corrupt.mkdir(exist_ok=True)
    for file in served.iterdir():
        data = bytearray(file.read_bytes())
        if file.name == UCMerced.filename:
            data[len(data) // 2] ^= 0xFF
        (corrupt / file.name).write_bytes(bytes(data))
    monkeypatch.setattr(UCMerced, 'url', http_root[1] + 'corrupt/')
    root = tmp_path / 'bench'
    with pytest.raises(RuntimeError, match='corrupted'):
        EuroSATUCMerced.download(root)
    assert not (root / UCMerced.base_dir).exists()


def test_datamodule_downloads_in_prepare_data(served: Path, tmp_path: Path) -> None:
    root = tmp_path / 'bench'
    dm = EuroSATUCMercedDataModule(root, download=True, batch_size=4)
    dm.prepare_data()
    dm.setup('fit')
    batch = dm.preprocess(next(iter(dm.train_dataloader())), train=True)
    assert batch['image'].shape[1:] == (3, 256, 256)
    # Without download=True a missing benchmark is TorchGeo's error, not a download.
    with pytest.raises(DatasetNotFoundError):
        EuroSATUCMerced.sources[0](root=str(tmp_path / 'empty'))
    with pytest.raises(ValueError, match='S2SEU cannot be downloaded'):
        from torchgeo_ackd.datasets import S2SEU

        S2SEU.download(tmp_path)


def test_pipeline_downloads_and_runs(served: Path, tmp_path: Path) -> None:
    out = tmp_path / 'output'
    results = run_pipeline(
        root=tmp_path / 'bench',
        datamodule='torchgeo_ackd.datamodules.EuroSATUCMercedDataModule',
        download=True,
        out=out,
        methods=['kd_sembridge'],
        teacher_epochs=1,
        matcher_epochs=1,
        student_epochs=1,
        dynm_epochs=[0],
        use_pretrained=False,
        **{
            m: 'test_resnet'
            for m in ('teacher_model', 'matcher_model', 'student_model')
        },
    )
    assert [r.name for r in results] == ['kd_sembridge_seed0']
    with open(out / 'results' / 'results.csv', newline='') as f:
        assert [row['method'] for row in csv.DictReader(f)] == ['kd_sembridge']
    pairing = torch.load(out / 'matcher' / 'pairing.pt', weights_only=True)
    assert len(pairing['student_files']) == sum(
        1 for f in pairing['student_files'] if 'UCMerced_LandUse' in f
    )
