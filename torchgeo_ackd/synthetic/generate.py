"""Write the synthetic ACKD benchmark: files, metadata, reuse and replacement."""

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image
from rasterio.crs import CRS

from ..sensors import SENTINEL2_EUROSAT
from .layouts import CONFUSABLE_PAIRS, SYNTHETIC_CLASSES
from .mixtures import DOMINANT_SHARE
from .scenes import (
    MS_GSD_M,
    RGB_FEATURE_SCALE,
    RGB_GSD_M,
    UTM_EPSG,
    ms_scene,
    synthetic_rgb_image,
)

#: Version of the generative model; bump when the output changes.
GENERATOR_VERSION = 2

#: Name of the metadata file written at the benchmark root.
METADATA_FILE = 'synthetic.json'
#: The metadata's ``generator`` entry: who wrote the benchmark.
_GENERATOR = 'torchgeo_ackd.synthetic'


def _parameters(**parameters: Any) -> dict[str, Any]:
    """The checked parameters, counts and sizes as plain ints, in the given order."""
    minimums = {'ms_per_class': 1, 'rgb_per_class': 1, 'ms_size': 8, 'rgb_size': 8}
    for name, minimum in [*minimums.items(), ('seed', 0)]:
        value = parameters[name]
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f'{name} must be an int, got {type(value).__name__}')
        if value < minimum:
            raise ValueError(f'{name} must be >= {minimum}, got {value}')
        parameters[name] = int(value)
    mixed, rgb_format = parameters['mixed'], parameters['rgb_format']
    if not isinstance(mixed, bool):
        raise TypeError(f'mixed must be a bool, got {type(mixed).__name__}')
    if rgb_format not in ('jpg', 'png'):
        raise ValueError(f"rgb_format must be 'jpg' or 'png', got {rgb_format!r}")
    return parameters


def _metadata(parameters: dict[str, Any]) -> dict[str, Any]:
    # Pure scenes: 'dominant' (one land cover); older mixed benchmarks recorded none.
    rule = 'annotated' if parameters['mixed'] else 'dominant'
    shares = f'{DOMINANT_SHARE[0]:.0%}-{DOMINANT_SHARE[1]:.0%}'
    scenes = (
        f'mixed: a dominant class over {shares} of the area, a random other '
        'class the rest; the label names one of the two with probability equal '
        'to its share of the area'
        if parameters['mixed']
        else 'pure'
    )
    return {
        'generator': _GENERATOR,
        'version': GENERATOR_VERSION,
        'parameters': parameters | {'label_rule': rule},
        'classes': list(SYNTHETIC_CLASSES),
        'confusable_pairs': [list(pair) for pair in CONFUSABLE_PAIRS],
        'scenes': scenes,
        'ms': {
            'sensor': SENTINEL2_EUROSAT.name,
            'bands': list(SENTINEL2_EUROSAT.bands),
            'scale': SENTINEL2_EUROSAT.scale,
            'dtype': 'uint16',
            'gsd_m': MS_GSD_M,
        },
        'rgb': {
            'bands': ['R', 'G', 'B'],
            'dtype': 'uint8',
            'gsd_m': RGB_GSD_M,
            'feature_scale': RGB_FEATURE_SCALE,
        },
    }


def _read_metadata(root: Path) -> dict[str, Any] | None:
    try:
        with open(root / METADATA_FILE) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def benchmark_parameters(root: str | Path) -> dict[str, Any]:
    """The generator parameters a synthetic benchmark was written with.

    Benchmarks before version 2 record no ``mixed``; ``mixed=False`` (pure scenes)
    is filled in. The recorded ``label_rule`` is checked and left out.

    Args:
        root: A benchmark directory written by :func:`generate_synthetic_benchmark`.

    Returns:
        The keyword arguments of :func:`generate_synthetic_benchmark` (all but
        *root* and *overwrite*) that rewrite this benchmark.

    Raises:
        ValueError: If *root* holds no readable ``synthetic.json`` of this
            generator, or one of mixed scenes with ``label_rule: dominant``.
    """
    metadata = _read_metadata(Path(root))
    if metadata is None or metadata.get('generator') != _GENERATOR:
        raise ValueError(
            f'{Path(root) / METADATA_FILE}: not the metadata of a synthetic '
            f'benchmark (expected a JSON object with "generator": "{_GENERATOR}")'
        )
    return _written_parameters(metadata, Path(root))


def _written_parameters(metadata: dict[str, Any], root: Path) -> dict[str, Any]:
    """The metadata's parameters, with what older versions did not record."""
    recorded = metadata.get('parameters')
    parameters = dict(recorded) if isinstance(recorded, dict) else {}
    parameters.setdefault('mixed', False)  # before version 2: pure scenes
    # Mixed benchmarks that record no label rule were 'dominant'.
    rule = parameters.pop('label_rule', 'dominant')
    if parameters['mixed'] and rule != 'annotated':
        raise ValueError(
            f'{root / METADATA_FILE}: mixed scenes labelled by their dominant land '
            f'cover (label_rule: {rule}), which this version no longer generates '
            'or reads: mixed scenes get the annotated label. Write the benchmark '
            f'again (python -m torchgeo_ackd.synthetic --root {root} --overwrite) '
            'or use another root.'
        )
    return parameters


def _same_benchmark(
    metadata: dict[str, Any] | None, parameters: dict[str, Any], root: Path
) -> bool:
    # Version 1 wrote the pure scenes of version 2; _written_parameters fills in.
    return (
        metadata is not None
        and metadata.get('generator') == _GENERATOR
        and metadata.get('version') in (1, GENERATOR_VERSION)
        and _written_parameters(metadata, root) == parameters
    )


def _write_all(directory: Path, parameters: dict[str, Any]) -> None:
    seed, fmt, mixed = parameters['seed'], parameters['rgb_format'], parameters['mixed']
    crs = {epsg: CRS.from_epsg(epsg) for epsg in UTM_EPSG}
    options: dict[str, Any] = {'quality': 95} if fmt == 'jpg' else {'compress_level': 1}
    with rasterio.Env():
        for class_name in SYNTHETIC_CLASSES:
            ms_dir = directory / 'MS' / class_name
            ms_dir.mkdir(parents=True)
            for i in range(parameters['ms_per_class']):
                dn, epsg, transform = ms_scene(
                    class_name, i, seed, parameters['ms_size'], mixed
                )
                with rasterio.open(
                    ms_dir / f'{class_name}_{i:04d}.tif',
                    'w',
                    driver='GTiff',
                    width=dn.shape[2],
                    height=dn.shape[1],
                    count=dn.shape[0],
                    dtype='uint16',
                    crs=crs[epsg],
                    transform=transform,
                ) as dst:
                    dst.write(dn)
                    dst.descriptions = SENTINEL2_EUROSAT.bands
            rgb_dir = directory / 'RGB' / class_name
            rgb_dir.mkdir(parents=True)
            for i in range(parameters['rgb_per_class']):
                rgb = synthetic_rgb_image(
                    class_name, i, seed=seed, size=parameters['rgb_size'], mixed=mixed
                )
                path = rgb_dir / f'{class_name}_{i:04d}.{fmt}'
                Image.fromarray(rgb, 'RGB').save(path, **options)


#: MS and RGB images in the paper's benchmark (S2S-EU, S2S-CN, M2S-GL), image side.
PAPER_MS_IMAGES, PAPER_RGB_IMAGES, PAPER_SIZE = 70_414, 63_549, 64


def paper_counts(fraction: float) -> tuple[int, int]:
    """Images per class of a synthetic benchmark at a fraction of the paper's size.

    Classes are balanced: the paper's 70,414 MS and 63,549 RGB images times
    *fraction*, rounded per class (at 1.0: 7,041 and 6,355 per class).

    Args:
        fraction: Fraction of the paper's size, > 0.

    Returns:
        ``(ms_per_class, rgb_per_class)``, each at least 2.

    Raises:
        ValueError: If *fraction* is not positive.
    """
    if not fraction > 0:
        raise ValueError(f'fraction must be > 0, got {fraction!r}')
    num_classes = len(SYNTHETIC_CLASSES)
    return (
        max(2, round(PAPER_MS_IMAGES * fraction / num_classes)),
        max(2, round(PAPER_RGB_IMAGES * fraction / num_classes)),
    )


def generate_synthetic_benchmark(
    root: str | Path,
    *,
    ms_per_class: int = 100,
    rgb_per_class: int = 60,
    ms_size: int = 32,
    rgb_size: int = 64,
    seed: int = 0,
    rgb_format: str = 'jpg',
    mixed: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write (or reuse) a synthetic MS -> RGB benchmark in the benchmark layout.

    Layout: ``ROOT/MS/<class>/<class>_<i:04d>.tif`` (13-band uint16 GeoTIFF,
    reflectance * 10000, SENTINEL2_EUROSAT band order, UTM CRS, 10 m transform),
    ``ROOT/RGB/<class>/<class>_<i:04d>.jpg|png`` (8-bit RGB), ``ROOT/synthetic.json``.
    Written to a temporary sibling and renamed, so an interrupted run leaves nothing.

    Args:
        root: Benchmark directory.
        ms_per_class: MS images per class.
        rgb_per_class: RGB images per class.
        ms_size: Side of the MS images in pixels.
        rgb_size: Side of the RGB images in pixels.
        seed: Seed of all randomness.
        rgb_format: ``'jpg'`` (quality 95) or ``'png'``.
        mixed: Mixed (see :mod:`~torchgeo_ackd.synthetic.mixtures`) or pure scenes.
        overwrite: Replace an existing *root* that holds something else.

    Returns:
        *root* as a :class:`~pathlib.Path`.

    Raises:
        FileExistsError: If *root* exists, is not empty and is not a synthetic
            benchmark with the same parameters, and *overwrite* is False.
        TypeError: If a count, size or the seed is not an int, or *mixed* not a bool.
        ValueError: If a count or size is too small, *rgb_format* is unknown, or
            *root* holds a mixed benchmark of the removed ``'dominant'`` label rule.
    """
    root = Path(root)
    parameters = _parameters(
        ms_per_class=ms_per_class,
        rgb_per_class=rgb_per_class,
        ms_size=ms_size,
        rgb_size=rgb_size,
        seed=seed,
        rgb_format=rgb_format,
        mixed=mixed,
    )
    if root.exists() and not overwrite:
        if _same_benchmark(_read_metadata(root), parameters, root):
            print(f'Reusing synthetic benchmark at {root} (same parameters)')
            return root
        if not root.is_dir() or any(root.iterdir()):
            found = _read_metadata(root)
            what = (
                f'a synthetic benchmark with other parameters {found.get("parameters")}'
                f' (version {found.get("version")})'
                if found
                else f'no {METADATA_FILE}'
            )
            raise FileExistsError(
                f'{root} exists and holds {what}; refusing to overwrite it. Pass '
                'overwrite=True (--overwrite) or choose another root.'
            )

    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.parent / f'.{root.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    try:
        partial.mkdir()
        _write_all(partial, parameters)
        with open(partial / METADATA_FILE, 'w') as f:
            json.dump(_metadata(parameters), f, indent=2)
        if overwrite and root.exists():
            _move_aside_and_replace(partial, root)
        else:
            _rename_into_place(partial, root, parameters)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    print(f'Wrote synthetic benchmark to {root}')
    return root


def _rename_into_place(partial: Path, root: Path, parameters: dict[str, Any]) -> None:
    """Rename *partial* to an absent or empty *root* (or keep a concurrent copy)."""
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    try:
        os.rename(partial, root)
    except OSError as error:
        if _same_benchmark(_read_metadata(root), parameters, root):
            print(f'Reusing synthetic benchmark at {root} (written concurrently)')
            return
        raise FileExistsError(
            f'{root} appeared while the benchmark was being written; refusing to '
            'overwrite it'
        ) from error


def _move_aside_and_replace(partial: Path, root: Path) -> None:
    """Replace an existing *root* by *partial*, deleting the old content last."""
    trash = root.parent / f'.{root.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    os.rename(root, trash)
    os.rename(partial, root)
    if trash.is_dir():
        shutil.rmtree(trash)
    else:
        trash.unlink()
