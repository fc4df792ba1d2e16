#!/usr/bin/env python3
"""Fake ACKD benchmarks in the real folder layout, for the tests.

Run as a script to write an example into ``./fake`` (``python data.py``); the
tests call :func:`make_benchmark` into temporary folders instead, so no image
file is committed.
"""

import csv
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin


def write_geotiff(path: Path, array: np.ndarray) -> None:
    """Write a (C, H, W) array as a georeferenced GeoTIFF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    c, h, w = array.shape
    with rasterio.open(
        path,
        'w',
        driver='GTiff',
        height=h,
        width=w,
        count=c,
        dtype=array.dtype,
        crs=CRS.from_epsg(32632),
        transform=from_origin(500000, 5000000, 10, 10),
    ) as dst:
        dst.write(array)


def write_rgb(path: Path, array: np.ndarray) -> None:
    """Write a (H, W, 3) uint8 array as JPEG or PNG (by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95)


def make_benchmark(
    root: Path,
    classes: Sequence[str],
    ms_bands: int = 13,
    rgb_classes: Sequence[str] | None = None,
    n_ms: int = 5,
    n_rgb: int = 5,
    ms_size: int = 8,
    rgb_size: int = 12,
    multilabel: bool = False,
    rgb_ext: str = '.jpg',
    seed: int = 0,
) -> Path:
    """Write a tiny benchmark: class c's MS pixels are near 1000 * (c + 1).

    Args:
        root: Output folder.
        classes: MS class folders.
        ms_bands: Bands per MS file.
        rgb_classes: RGB class folders (default: *classes*).
        n_ms: MS images per class.
        n_rgb: RGB images per class.
        ms_size: MS side length.
        rgb_size: RGB side length.
        multilabel: Also write ``MS/labels.csv`` (each image: its class + the next).
        rgb_ext: ``.jpg`` or ``.png``.
        seed: Random seed.

    Returns:
        *root*.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for c, name in enumerate(classes):
        for i in range(n_ms):
            base = 1000 * (c + 1) + 100 * np.arange(ms_bands)[:, None, None]
            noise = rng.integers(0, 50, (ms_bands, ms_size, ms_size))
            write_geotiff(
                root / 'MS' / name / f'{name}_{i}.tif', (base + noise).astype(np.uint16)
            )
            extra = classes[(c + 1) % len(classes)]
            rows.append((f'{name}/{name}_{i}.tif', f'{name};{extra}'))
    for name in rgb_classes if rgb_classes is not None else classes:
        for i in range(n_rgb):
            pixels = rng.integers(0, 255, (rgb_size, rgb_size, 3)).astype(np.uint8)
            write_rgb(root / 'RGB' / name / f'{name}_{i}{rgb_ext}', pixels)
    if multilabel:
        with open(root / 'MS' / 'labels.csv', 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['path', 'labels'])
            writer.writerows(rows)
    return root


#: UC Merced's classes the fake archive holds: the mapped ones and one left out.
UCM_CLASSES = (
    'agricultural', 'forest', 'chaparral', 'freeway', 'denseresidential',
    'mediumresidential', 'sparseresidential', 'river', 'airplane',
)  # fmt: skip
EUROSAT_CLASSES = (
    'AnnualCrop', 'Forest', 'HerbaceousVegetation', 'Highway', 'Industrial',
    'Pasture', 'PermanentCrop', 'Residential', 'River', 'SeaLake',
)  # fmt: skip


def make_torchgeo_archives(
    remote: Path, n_ms: int = 3, n_rgb: int = 3, seed: int = 0
) -> dict[str, dict[str, str]]:
    """Write EuroSAT's and UC Merced's archives and split files as TorchGeo fetches them.

    ``EuroSATallBands.zip`` (13-band uint16 64 x 64 GeoTIFFs under
    ``ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/``) with
    ``eurosat-{train,val,test}.txt``, and ``UCMerced_LandUse.zip`` (RGB TIFFs,
    256 x 256, one 247 x 256, under ``UCMerced_LandUse/Images/<class>/``) with
    ``uc_merced-{train,val,test}.txt``.

    Returns:
        ``{file name: {'md5': ..., 'sha256': ...}}`` of every file written.
    """
    import hashlib
    import zipfile

    rng = np.random.default_rng(seed)
    staging = remote / 'staging'
    eurosat = staging / 'ds/images/remote_sensing/otherDatasets/sentinel_2/tif'
    # Each class has a file in each split (TorchGeo's ImageFolder needs one).
    names: dict[tuple[str, int], list[str]] = {}
    for c, name in enumerate(EUROSAT_CLASSES):
        for i in range(1, n_ms + 1):
            base = 1000 * (c + 1) + 100 * np.arange(13)[:, None, None]
            pixels = (base + rng.integers(0, 50, (13, 64, 64))).astype(np.uint16)
            write_geotiff(eurosat / name / f'{name}_{i}.tif', pixels)
            names.setdefault(('eurosat', i % 3), []).append(f'{name}_{i}.jpg')
    for c, name in enumerate(UCM_CLASSES):
        for i in range(n_rgb):
            height = 247 if (c, i) == (0, 0) else 256
            pixels = np.full((height, 256, 3), 20 * c, np.uint8)
            pixels += rng.integers(0, 20, pixels.shape, dtype=np.uint8)
            path = staging / 'UCMerced_LandUse/Images' / name / f'{name}{i:02d}.tif'
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
            names.setdefault(('uc_merced', i % 3), []).append(path.name)
    for archive, top in (
        ('EuroSATallBands.zip', 'ds'),
        ('UCMerced_LandUse.zip', 'UCMerced_LandUse'),
    ):
        with zipfile.ZipFile(remote / archive, 'w') as z:
            for file in sorted((staging / top).rglob('*')):
                z.write(file, file.relative_to(staging).as_posix())
    for (prefix, k), files in names.items():
        split = ('train', 'val', 'test')[k]
        (remote / f'{prefix}-{split}.txt').write_text('\n'.join(files) + '\n')
    shutil.rmtree(staging)
    return {
        p.name: {
            'md5': hashlib.md5(p.read_bytes()).hexdigest(),
            'sha256': hashlib.sha256(p.read_bytes()).hexdigest(),
        }
        for p in remote.iterdir()
    }


if __name__ == '__main__':
    out = Path(sys.argv[1] if len(sys.argv) > 1 else 'fake')
    make_benchmark(out, ['A', 'B', 'C'])
    print(f'wrote {out}')
