"""The preflight reads every image once and reports all problems together."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import TINY_DATA
from PIL import Image

from torchgeo_ackd.check import main as check_main
from torchgeo_ackd.datamodules import SyntheticMSDataModule
from torchgeo_ackd.datasets import SyntheticACKD
from torchgeo_ackd.datasets.preflight import preflight
from torchgeo_ackd.io import PreflightError
from torchgeo_ackd.pipeline import run_pipeline
from torchgeo_ackd.synthetic import generate_synthetic_benchmark


def _write_tif(path: Path, array: np.ndarray) -> None:
    with rasterio.open(
        path,
        'w',
        driver='GTiff',
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype=array.dtype,
    ) as dst:
        dst.write(array)


@pytest.fixture
def bad_root(tmp_path: Path) -> Path:
    """A tiny benchmark with eight bad files of seven kinds."""
    root = generate_synthetic_benchmark(tmp_path / 'bad', **TINY_DATA)
    ms, rgb = root / 'MS', root / 'RGB'
    size = TINY_DATA['ms_size']
    # Reflectance in [0, 1] as float32 among uint16 reflectance x 10000.
    _write_tif(ms / 'Forest' / 'Forest_0001.tif', np.full((13, size, size), 0.3, 'f4'))
    # NaN in a float file (also of the wrong type).
    nan = np.full((13, size, size), 0.2, 'f4')
    nan[0, 0, 0] = np.nan
    _write_tif(ms / 'River' / 'River_0002.tif', nan)
    # 12 bands instead of 13.
    _write_tif(ms / 'SeaLake' / 'SeaLake_0000.tif', np.ones((12, size, size), 'u2'))
    # A truncated GeoTIFF.
    cut = ms / 'Pasture' / 'Pasture_0003.tif'
    cut.write_bytes(cut.read_bytes()[:400])
    # A 16-bit RGB TIFF among 8-bit JPEGs, and one of another size.
    (rgb / 'Forest' / 'Forest_0000.jpg').unlink()
    side = TINY_DATA['rgb_size']
    _write_tif(rgb / 'Forest' / 'Forest_0000.tif', np.full((3, side, side), 900, 'u2'))
    small = Image.fromarray(np.zeros((side // 2, side // 2, 3), np.uint8))
    small.save(rgb / 'Wetland' / 'Wetland_0004.jpg')
    # A truncated RGB test image (found before anything trains, not at test).
    jpg = rgb / 'River' / 'River_0001.jpg'
    jpg.write_bytes(jpg.read_bytes()[:300])
    return root


def test_all_problems_in_one_message(bad_root: Path) -> None:
    with pytest.raises(PreflightError) as error:
        preflight(SyntheticACKD, bad_root)
    message = str(error.value)
    assert message.startswith('8 problem(s) with the images under')
    for line in (
        'all MS files must share one data type (uint16, as 47 of 49 are); '
        "'MS/Forest/Forest_0001.tif' is float32 in [0.3, 0.3]",
        "'MS/River/River_0002.tif' contains NaN or inf values",
        "'MS/SeaLake/SeaLake_0000.tif' has 12 bands; MS files must have 13",
        "'MS/Pasture/Pasture_0003.tif': cannot be read whole (truncated?)",
        "'RGB/River/River_0001.jpg': cannot be read whole (truncated?)",
        'all RGB files must share one data type (uint8, as 48 of 49 are); '
        "'RGB/Forest/Forest_0000.tif' is uint16 in [900, 900]",
        'all RGB images must have one size (24x24, as 48 of 49 have; the dataset '
        "does not resize RGB); 'RGB/Wetland/Wetland_0004.jpg' is 12x12",
    ):
        assert line in message, line


def test_the_pipeline_and_the_datamodule_refuse_before_training(
    bad_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / 'out'
    with pytest.raises(PreflightError, match='8 problem'):
        run_pipeline(root=bad_root, out=out, use_pretrained=False)
    assert not out.exists()  # nothing written
    dm = SyntheticMSDataModule(bad_root, generate=False)
    with pytest.raises(PreflightError, match='5 problem'):  # its MS side only
        dm.setup('fit')
    assert not hasattr(dm, 'train_dataset') or dm.train_dataset is None


def test_check_command(
    bad_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_main([str(bad_root)]) == 1
    assert "'MS/Pasture/Pasture_0003.tif'" in capsys.readouterr().err
    good = generate_synthetic_benchmark(tmp_path / 'good', **TINY_DATA)
    assert check_main([str(good)]) == 0
    assert 'all images pass' in capsys.readouterr().out


def test_a_file_that_differs_from_sha256sums_is_refused(tmp_path: Path) -> None:
    import hashlib

    root = generate_synthetic_benchmark(tmp_path / 'summed', **TINY_DATA)
    files = sorted(p for p in root.rglob('*') if p.suffix in ('.tif', '.jpg'))
    (root / 'SHA256SUMS').write_text(
        ''.join(
            f'{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.relative_to(root)}\n'
            for f in files
        )
    )
    preflight(SyntheticACKD, root)  # every file as listed
    # Same size and data type, other pixels: only the checksum can tell.
    changed = root / 'MS' / 'Forest' / 'Forest_0001.tif'
    with rasterio.open(changed, 'r+') as dst:
        dst.write(dst.read() + 1)
    with pytest.raises(PreflightError) as error:
        preflight(SyntheticACKD, root)
    (problem,) = str(error.value).splitlines()[1:]
    assert problem.strip().startswith('MS/Forest/Forest_0001.tif: its SHA-256 differs')
