import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from torchgeo_ackd.sensors import SENTINEL2_EUROSAT
from torchgeo_ackd.synthetic import (
    CONFUSABLE_PAIRS,
    SYNTHETIC_CLASSES,
    generate_synthetic_benchmark,
    synthetic_ms_image,
    synthetic_rgb_image,
)
from torchgeo_ackd.synthetic import generate as generate_module
from torchgeo_ackd.synthetic.__main__ import main

TINY = {'ms_per_class': 4, 'rgb_per_class': 3, 'ms_size': 16, 'rgb_size': 24}


def read_ms(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Pure scenes: the tests below check the spectral and camera model.
    return generate_synthetic_benchmark(
        tmp_path_factory.mktemp('tiny') / 'bench', seed=3, mixed=False, **TINY
    )


def test_layout_and_counts(tiny_root: Path) -> None:
    assert sorted(p.name for p in tiny_root.iterdir()) == [
        'MS',
        'RGB',
        'synthetic.json',
    ]
    assert sorted(p.name for p in (tiny_root / 'MS').iterdir()) == sorted(
        SYNTHETIC_CLASSES
    )
    assert len(SYNTHETIC_CLASSES) == 10
    for name in SYNTHETIC_CLASSES:
        ms = sorted(p.name for p in (tiny_root / 'MS' / name).iterdir())
        rgb = sorted(p.name for p in (tiny_root / 'RGB' / name).iterdir())
        assert ms == [f'{name}_{i:04d}.tif' for i in range(4)]
        assert rgb == [f'{name}_{i:04d}.jpg' for i in range(3)]
    meta = json.loads((tiny_root / 'synthetic.json').read_text())
    assert meta['parameters'] == {
        **TINY,
        'seed': 3,
        'rgb_format': 'jpg',
        'mixed': False,
        'label_rule': 'dominant',
    }
    assert meta['scenes'] == 'pure'
    assert isinstance(meta['version'], int)
    assert meta['classes'] == list(SYNTHETIC_CLASSES)
    assert meta['ms']['bands'] == list(SENTINEL2_EUROSAT.bands)


def test_geotiff(tiny_root: Path) -> None:
    origins = set()
    for path in sorted((tiny_root / 'MS').glob('*/*.tif')):
        with rasterio.open(path) as src:
            assert src.count == 13
            assert src.dtypes == ('uint16',) * 13
            assert (src.width, src.height) == (16, 16)
            assert src.crs is not None and src.crs.is_projected
            assert src.crs.to_epsg() in range(32601, 32661)  # UTM north, WGS 84
            assert (src.transform.a, src.transform.e) == (10.0, -10.0)
            assert (src.transform.b, src.transform.d) == (0.0, 0.0)
            assert src.descriptions == SENTINEL2_EUROSAT.bands
            origins.add((src.crs.to_epsg(), src.transform.c, src.transform.f))
            dn = src.read()
        assert dn.max() <= 10000
    assert len(origins) == 40  # a different place per file


def test_ms_values_are_sentinel2_like(tiny_root: Path) -> None:
    idx = dict(zip(SENTINEL2_EUROSAT.bands, range(13), strict=True))
    forest = np.stack([read_ms(p) for p in (tiny_root / 'MS/Forest').glob('*.tif')])
    water = np.stack([read_ms(p) for p in (tiny_root / 'MS/SeaLake').glob('*.tif')])
    # B10 (cirrus, 1375 nm) is absorbed by the atmosphere: near zero everywhere.
    assert forest[:, idx['B10']].mean() < 50 and water[:, idx['B10']].mean() < 50
    # Vegetation: NIR plateau (B08, B8A) far above red; red edge rising.
    assert forest[:, idx['B08']].mean() > 3 * forest[:, idx['B04']].mean()
    assert forest[:, idx['B8A']].mean() > forest[:, idx['B05']].mean()
    # Water (the median pixel; some scenes have a shore): dark in NIR/SWIR, and
    # B01 lifted by the path radiance above B04.
    median = np.median(water.reshape(4, 13, -1), axis=2)
    assert (median[:, idx['B08']] < 300).all() and (median[:, idx['B12']] < 200).all()
    assert (median[:, idx['B01']] > median[:, idx['B04']]).all()


def test_rgb_files(tiny_root: Path) -> None:
    for path in sorted((tiny_root / 'RGB').glob('*/*.jpg')):
        with Image.open(path) as img:
            assert img.format == 'JPEG' and img.mode == 'RGB'
            assert img.size == (24, 24)
            assert np.asarray(img).dtype == np.uint8


def test_png_is_the_rendered_image(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(
        tmp_path / 'b', seed=5, rgb_format='png', **TINY
    )
    png = read_rgb(root / 'RGB' / 'Wetland' / 'Wetland_0002.png')
    expected = synthetic_rgb_image('Wetland', 2, seed=5, size=24)
    np.testing.assert_array_equal(png, expected)
    ms = read_ms(root / 'MS' / 'River' / 'River_0001.tif')
    np.testing.assert_array_equal(ms, synthetic_ms_image('River', 1, seed=5, size=16))


def test_deterministic_and_seed_dependent(tiny_root: Path, tmp_path: Path) -> None:
    same = generate_synthetic_benchmark(tmp_path / 'same', seed=3, mixed=False, **TINY)
    other = generate_synthetic_benchmark(
        tmp_path / 'other', seed=4, mixed=False, **TINY
    )
    for rel in ('MS/Forest/Forest_0003.tif', 'MS/Wetland/Wetland_0000.tif'):
        np.testing.assert_array_equal(read_ms(tiny_root / rel), read_ms(same / rel))
        assert not np.array_equal(read_ms(tiny_root / rel), read_ms(other / rel))
    for rel in ('RGB/Forest/Forest_0002.jpg', 'RGB/Pasture/Pasture_0000.jpg'):
        np.testing.assert_array_equal(read_rgb(tiny_root / rel), read_rgb(same / rel))
        assert not np.array_equal(read_rgb(tiny_root / rel), read_rgb(other / rel))
    with rasterio.open(tiny_root / 'MS/Forest/Forest_0003.tif') as a:
        with rasterio.open(same / 'MS/Forest/Forest_0003.tif') as b:
            assert a.transform == b.transform and a.crs == b.crs
    # The default (mixed, annotated) scenes too, drawn by rejection.
    first = generate_synthetic_benchmark(tmp_path / 'annotated1', seed=3, **TINY)
    again = generate_synthetic_benchmark(tmp_path / 'annotated2', seed=3, **TINY)
    for rel in ('MS/Wetland/Wetland_0002.tif', 'RGB/River/River_0001.jpg'):
        read = read_ms if rel.startswith('MS') else read_rgb
        np.testing.assert_array_equal(read(first / rel), read(again / rel))
        assert not np.array_equal(read(first / rel), read(tiny_root / rel))


def test_independent_of_generation_order(tiny_root: Path, tmp_path: Path) -> None:
    # Fewer images per class: the files that exist are the same ones.
    small = generate_synthetic_benchmark(
        tmp_path / 'small',
        seed=3,
        mixed=False,
        **{**TINY, 'ms_per_class': 2, 'rgb_per_class': 1},
    )
    for rel in ('MS/SeaLake/SeaLake_0001.tif', 'MS/AnnualCrop/AnnualCrop_0000.tif'):
        np.testing.assert_array_equal(read_ms(tiny_root / rel), read_ms(small / rel))
    rel = 'RGB/Industrial/Industrial_0000.jpg'
    np.testing.assert_array_equal(read_rgb(tiny_root / rel), read_rgb(small / rel))
    # Images within a class differ from each other.
    assert not np.array_equal(
        synthetic_ms_image('Forest', 0, size=16),
        synthetic_ms_image('Forest', 1, size=16),
    )


def test_reuse_refuse_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = generate_synthetic_benchmark(tmp_path / 'b', seed=1, **TINY)
    marker = root / 'MS' / 'Forest' / 'Forest_0000.tif'
    mtime = marker.stat().st_mtime_ns
    capsys.readouterr()

    # Same parameters: reused, not rewritten.
    assert generate_synthetic_benchmark(root, seed=1, **TINY) == root
    assert 'Reusing' in capsys.readouterr().out
    assert marker.stat().st_mtime_ns == mtime

    # Other parameters: refused, untouched.
    with pytest.raises(FileExistsError, match='other parameters'):
        generate_synthetic_benchmark(root, seed=2, **TINY)
    assert marker.stat().st_mtime_ns == mtime

    # Overwrite: replaced by the new benchmark.
    generate_synthetic_benchmark(root, seed=2, overwrite=True, **TINY)
    meta = json.loads((root / 'synthetic.json').read_text())
    assert meta['parameters']['seed'] == 2
    np.testing.assert_array_equal(
        read_ms(marker), synthetic_ms_image('Forest', 0, seed=2, size=16)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ['b']


def test_refuses_foreign_directory(tmp_path: Path) -> None:
    root = tmp_path / 'data'
    root.mkdir()
    (root / 'precious.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match=r'no synthetic\.json'):
        generate_synthetic_benchmark(root, **TINY)
    assert (root / 'precious.txt').read_text() == 'keep me'
    generate_synthetic_benchmark(root, overwrite=True, **TINY)
    assert not (root / 'precious.txt').exists()
    assert (root / 'synthetic.json').exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['data']


def test_empty_directory_is_filled(tmp_path: Path) -> None:
    root = tmp_path / 'empty'
    root.mkdir()
    generate_synthetic_benchmark(root, **TINY)
    assert (root / 'synthetic.json').exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['empty']


def test_interrupted_run_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def failing(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        if len(calls) > 5:
            raise KeyboardInterrupt
        return np.zeros((24, 24, 3), np.uint8)

    monkeypatch.setattr(generate_module, 'synthetic_rgb_image', failing)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic_benchmark(tmp_path / 'b', **TINY)
    assert len(calls) == 6  # it did write files before the interruption
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ('kwargs', 'error', 'match'),
    [
        ({'rgb_format': 'gif'}, ValueError, 'rgb_format'),
        ({'ms_per_class': 0}, ValueError, 'ms_per_class'),
        ({'rgb_size': 4}, ValueError, 'rgb_size'),
        ({'ms_size': 16.0}, TypeError, 'ms_size'),
        ({'seed': -1}, ValueError, 'seed'),
    ],
)
def test_bad_arguments(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        generate_synthetic_benchmark(tmp_path / 'b', **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_unknown_class() -> None:
    with pytest.raises(ValueError, match='unknown class'):
        synthetic_ms_image('Highway', 0)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ['--root', str(tmp_path / 'c'), '--ms-per-class', '2', '--rgb-per-class']
    args += ['1', '--ms-size', '16', '--rgb-size', '16', '--rgb-format', 'png']
    assert main(args) == 0
    out = capsys.readouterr().out
    assert '20 MS GeoTIFFs' in out and '10 RGB PNGs' in out
    assert len(list((tmp_path / 'c' / 'RGB').glob('*/*.png'))) == 10
    with pytest.raises(SystemExit) as info:
        main([*args[:-2], '--seed', '9'])
    assert info.value.code == 2
    assert 'refusing to overwrite' in capsys.readouterr().err
    assert main([*args, '--seed', '9', '--overwrite']) == 0


def test_paper_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from torchgeo_ackd.synthetic import paper_counts

    # The paper's 70,414 MS and 63,549 RGB images over 10 balanced classes.
    assert paper_counts(1.0) == (7041, 6355)
    assert paper_counts(0.1) == (704, 635)
    assert paper_counts(1e-6) == (2, 2)
    with pytest.raises(ValueError, match='fraction'):
        paper_counts(0)
    assert main(['--root', str(tmp_path / 'p'), '--paper-size', '0.0005']) == 0
    out = capsys.readouterr().out
    # round(70,414 x 0.0005 / 10) = 4 and round(63,549 x 0.0005 / 10) = 3 per class.
    assert '40 MS GeoTIFFs (64x64x13' in out and '30 RGB JPGs (64x64x3' in out
    with pytest.raises(SystemExit):
        main(['--root', str(tmp_path / 'q'), '--paper-size', '-1'])


# --------------------------------------------------------------------------
# It poses a real ACKD problem (a trivial classifier on files on disk)
# --------------------------------------------------------------------------

N_PER_CLASS = 40


def nearest_centroid_accuracy(
    features: dict[str, np.ndarray], classes: tuple[str, ...]
) -> tuple[float, float]:
    """First half of each class trains, second half tests; features are
    standardised by the pooled within-class standard deviation.

    Returns overall accuracy and the lowest per-class recall.
    """
    half = N_PER_CLASS // 2
    train = [features[c][:half] for c in classes]
    test = [features[c][half:] for c in classes]
    scale = np.sqrt(np.mean([t.var(0) for t in train], axis=0)) + 1e-9
    centroids = np.stack([t.mean(0) for t in train]) / scale
    recalls = []
    for label, samples in enumerate(test):
        dist = (((samples / scale)[:, None] - centroids[None]) ** 2).sum(-1)
        recalls.append(float(np.mean(dist.argmin(1) == label)))
    return float(np.mean(recalls)), min(recalls)


@pytest.fixture(scope='module')
def mean_features(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    root = generate_synthetic_benchmark(
        tmp_path_factory.mktemp('sep') / 'bench',
        ms_per_class=N_PER_CLASS,
        rgb_per_class=N_PER_CLASS,
        seed=0,
        mixed=False,
    )
    ms, rgb = {}, {}
    for name in SYNTHETIC_CLASSES:
        ms_files = sorted((root / 'MS' / name).glob('*.tif'))
        rgb_files = sorted((root / 'RGB' / name).glob('*.jpg'))
        ms[name] = np.stack([read_ms(p).reshape(13, -1).mean(1) for p in ms_files])
        rgb[name] = np.stack(
            [read_rgb(p).reshape(-1, 3).mean(0) for p in rgb_files]
        ).astype(np.float64)
    return ms, rgb


def test_all_classes_recognisable_from_ms(
    mean_features: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    ms, _ = mean_features
    accuracy, worst = nearest_centroid_accuracy(ms, SYNTHETIC_CLASSES)
    assert accuracy >= 0.85  # measured 0.955
    assert worst >= 0.6  # measured 0.80


@pytest.mark.parametrize('pair', CONFUSABLE_PAIRS)
def test_confusable_pairs_ms_separable_rgb_not(
    mean_features: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    pair: tuple[str, str],
) -> None:
    ms, rgb = mean_features
    ms_accuracy, _ = nearest_centroid_accuracy(ms, pair)
    rgb_accuracy, _ = nearest_centroid_accuracy(rgb, pair)
    # Measured: MS 1.0 / 1.0, RGB 0.575 / 0.525, MS pseudo-RGB 0.425 / 0.625
    # (crops / herbaceous-wetland).
    assert ms_accuracy >= 0.9
    assert rgb_accuracy <= 0.75
    # The MS image's own pseudo-RGB (B04, B03, B02) is as ambiguous.
    rgb_bands = SENTINEL2_EUROSAT.rgb_indices
    pseudo = {c: ms[c][:, rgb_bands] for c in pair}
    assert nearest_centroid_accuracy(pseudo, pair)[0] <= 0.75


def test_no_temporary_directories(tiny_root: Path) -> None:
    leftovers = [p for p in tiny_root.parent.iterdir() if p != tiny_root]
    assert leftovers == []
    assert not any(name.startswith('.') for name in os.listdir(tiny_root))
