"""Render and write the synthetic ACKD benchmark.

MS scenes (region A, Sentinel-2-like, 13 bands, 10 m):

1. abundances ``A`` (H, W, E) from the class layout at 10 m over a per-image
   scale jitter, times multiplicative mixing noise (per pixel and endmember,
   the per-pixel total kept, so shade stays shade);
2. per-image endmember variability: each spectrum times a brightness factor and
   a linear spectral tilt in wavelength;
3. surface reflectance ``A @ S`` times a fine illumination texture;
4. top-of-atmosphere: ``path * haze + transmittance * surface``, with the path
   radiance strongest in B01/B02 and B10 (cirrus) left near zero;
5. sensor noise (additive plus signal-proportional), clipped to [0, 1] and
   stored as uint16 reflectance * 10000 in SENTINEL2_EUROSAT band order.

RGB scenes (region B, unpaired, finer pixels and larger features):

1. independent layouts at 5 m with a 1.3x feature scale (larger fields and
   blocks) and region-B material tints (redder soil, yellower grass, ...);
2. per-image endmember variability and a stronger high-frequency texture;
3. illumination gain, per-channel colour balance and a bluish haze offset;
4. sRGB-like tone mapping with a per-image gamma, 8-bit quantisation noise,
   JPEG (quality 95) or PNG.

Every file has its own random generator, seeded from ``(seed, modality, class,
index)`` through :class:`numpy.random.SeedSequence`, so the output does not
depend on generation order and a smaller benchmark is a prefix of a larger one.
"""

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
from rasterio.transform import Affine, from_origin

from ..sensors import SENTINEL2_EUROSAT
from .layouts import CONFUSABLE_PAIRS, SYNTHETIC_CLASSES
from .mixtures import DOMINANT_SHARE, scene_abundances
from .spectra import (
    ENDMEMBERS,
    endmember_spectra,
    path_radiance,
    rgb_endmembers,
    transmittance,
)

#: Version of the generative model; bump when the output changes.
GENERATOR_VERSION = 2

#: Name of the metadata file written at the benchmark root.
METADATA_FILE = 'synthetic.json'
#: The metadata's ``generator`` entry: who wrote the benchmark.
_GENERATOR = 'torchgeo_ackd.synthetic'

#: Ground sampling distance of the MS region in metres.
MS_GSD_M = 10.0
#: Ground sampling distance of the RGB region in metres.
RGB_GSD_M = 5.0
#: Size of landscape features in the RGB region relative to the MS region.
RGB_FEATURE_SCALE = 1.3
#: Linear exposure of the RGB camera: reflectance times this is display linear.
RGB_EXPOSURE = 2.2

#: UTM zones (WGS 84, north) the MS scenes are placed in (central Europe).
_UTM_EPSG = (32631, 32632, 32633, 32634)
_MS_SEED_KEY, _RGB_SEED_KEY = 0, 1

_ENDMEMBER_SPECTRA = endmember_spectra(SENTINEL2_EUROSAT)
_PATH = path_radiance(SENTINEL2_EUROSAT)
_TRANSMITTANCE = transmittance(SENTINEL2_EUROSAT)
_WAVELENGTH_TILT = (np.array(SENTINEL2_EUROSAT.wavelengths) - 1000.0) / 1000.0
_CIRRUS = SENTINEL2_EUROSAT.band_indices(['B10'])[0]
_RGB_ENDMEMBERS = rgb_endmembers()
_HAZE_COLOUR = np.array([0.70, 0.85, 1.00])


def _file_rng(
    seed: int, modality: int, class_index: int, index: int
) -> np.random.Generator:
    sequence = np.random.SeedSequence(seed, spawn_key=(modality, class_index, index))
    return np.random.default_rng(sequence)


def _class_index(class_name: str) -> int:
    if class_name not in SYNTHETIC_CLASSES:
        raise ValueError(
            f'unknown class {class_name!r}; expected one of {SYNTHETIC_CLASSES}'
        )
    return SYNTHETIC_CLASSES.index(class_name)


def _mix(
    rng: np.random.Generator, abundances: np.ndarray, spectra: np.ndarray, sigma: float
) -> np.ndarray:
    """Linear mixture with multiplicative mixing noise.

    Each abundance is jittered by a log-normal factor of scale *sigma*, then the
    pixel's total is restored (so shade stays shade) before mixing.

    Args:
        rng: Random generator.
        abundances: Abundances, shape (H, W, E).
        spectra: Endmember spectra, shape (E, C).
        sigma: Log-scale of the mixing noise.

    Returns:
        Mixed reflectance, shape (H, W, C).
    """
    # Only the endmembers present in the image take part (most are absent).
    present = np.flatnonzero(abundances.reshape(-1, abundances.shape[-1]).any(0))
    used = abundances[..., present]
    noisy = used * np.exp(sigma * rng.standard_normal(used.shape))
    total, noisy_total = used.sum(-1), noisy.sum(-1)
    scale = np.divide(
        total, noisy_total, out=np.zeros_like(total), where=noisy_total > 0
    )
    return (noisy * scale[..., None]) @ spectra[present]


def _ms_sample(
    class_name: str,
    index: int,
    seed: int,
    size: int,
    mixed: bool,
) -> tuple[np.ndarray, int, Affine]:
    rng = _file_rng(seed, _MS_SEED_KEY, _class_index(class_name), index)
    epsg = int(rng.choice(_UTM_EPSG))
    easting = 10.0 * np.round(rng.uniform(300_000.0, 700_000.0) / 10.0)
    northing = 10.0 * np.round(rng.uniform(4_800_000.0, 5_900_000.0) / 10.0)
    transform = from_origin(easting, northing, MS_GSD_M, MS_GSD_M)

    pixel_m = MS_GSD_M / np.exp(0.1 * rng.standard_normal())
    abundances, _ = scene_abundances(class_name, rng, size, pixel_m, mixed)
    n_end = len(ENDMEMBERS)
    brightness = np.exp(0.06 * rng.standard_normal((n_end, 1)))
    tilt = 1.0 + 0.04 * rng.standard_normal((n_end, 1)) * _WAVELENGTH_TILT
    surface = _mix(rng, abundances, _ENDMEMBER_SPECTRA * brightness * tilt, 0.08)
    texture = np.exp(0.04 * rng.standard_normal((size, size)))
    surface *= texture[..., None]

    haze = np.exp(0.15 * rng.standard_normal())
    toa = _PATH * haze + _TRANSMITTANCE * surface
    toa += (0.002 + 0.01 * toa) * rng.standard_normal(toa.shape)
    toa[..., _CIRRUS] = _PATH[_CIRRUS] + 0.0003 * rng.standard_normal((size, size))
    dn = np.round(np.clip(toa, 0.0, 1.0) * SENTINEL2_EUROSAT.scale)
    return dn.astype(np.uint16).transpose(2, 0, 1), epsg, transform


def synthetic_ms_image(
    class_name: str,
    index: int,
    *,
    seed: int = 0,
    size: int = 32,
    mixed: bool = True,
) -> np.ndarray:
    """One MS scene of the synthetic benchmark, as written to disk.

    Args:
        class_name: One of :data:`SYNTHETIC_CLASSES`.
        index: Image number within the class.
        seed: Benchmark seed.
        size: Side in pixels (10 m each).
        mixed: A mixed scene (the default benchmark; see
            :mod:`~torchgeo_ackd.synthetic.mixtures`); False: a pure one.

    Returns:
        Digital numbers (reflectance * 10000), uint16, shape (13, size, size),
        bands in SENTINEL2_EUROSAT order.
    """
    return _ms_sample(class_name, index, seed, size, mixed)[0]


def synthetic_rgb_image(
    class_name: str,
    index: int,
    *,
    seed: int = 0,
    size: int = 64,
    mixed: bool = True,
) -> np.ndarray:
    """One RGB scene of the synthetic benchmark, before image compression.

    Args:
        class_name: One of :data:`SYNTHETIC_CLASSES`.
        index: Image number within the class.
        seed: Benchmark seed.
        size: Side in pixels (5 m each).
        mixed: A mixed scene (the default benchmark; see
            :mod:`~torchgeo_ackd.synthetic.mixtures`); False: a pure one.

    Returns:
        8-bit sRGB-like values, uint8, shape (size, size, 3), channels R, G, B.
    """
    rng = _file_rng(seed, _RGB_SEED_KEY, _class_index(class_name), index)
    pixel_m = RGB_GSD_M / (RGB_FEATURE_SCALE * np.exp(0.1 * rng.standard_normal()))
    abundances, _ = scene_abundances(class_name, rng, size, pixel_m, mixed)
    n_end = len(ENDMEMBERS)
    brightness = np.exp(0.06 * rng.standard_normal((n_end, 1)))
    hue = np.exp(0.02 * rng.standard_normal((n_end, 3)))
    reflectance = _mix(rng, abundances, _RGB_ENDMEMBERS * brightness * hue, 0.08)
    fine = 0.7 * rng.standard_normal((size, size)) + 0.3 * _blur(
        rng.standard_normal((size, size))
    )
    reflectance *= np.exp(0.10 * fine)[..., None]

    gain = np.exp(0.20 * rng.standard_normal())
    balance = np.exp(0.07 * rng.standard_normal(3))
    haze = rng.uniform(0.0, 0.04) * _HAZE_COLOUR
    linear = np.clip(reflectance * (RGB_EXPOSURE * gain) * balance + haze, 0.0, 1.0)
    gamma = 2.2 * np.exp(0.08 * rng.standard_normal())
    srgb = np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1.0 / gamma) - 0.055
    )
    values = srgb * 255.0 + rng.standard_normal(srgb.shape)
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def _blur(image: np.ndarray) -> np.ndarray:
    """3x3 box blur with edge replication, renormalised to unit variance."""
    padded = np.pad(image, 1, mode='edge')
    h, w = image.shape
    out = sum(padded[i : i + h, j : j + w] for i in range(3) for j in range(3))
    out = np.asarray(out)
    return out / (out.std() + 1e-12)


def _parameters(
    ms_per_class: int,
    rgb_per_class: int,
    ms_size: int,
    rgb_size: int,
    seed: int,
    rgb_format: str,
    mixed: bool,
) -> dict[str, Any]:
    for name, value, minimum in (
        ('ms_per_class', ms_per_class, 1),
        ('rgb_per_class', rgb_per_class, 1),
        ('ms_size', ms_size, 8),
        ('rgb_size', rgb_size, 8),
        ('seed', seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f'{name} must be an int, got {type(value).__name__}')
        if value < minimum:
            raise ValueError(f'{name} must be >= {minimum}, got {value}')
    if not isinstance(mixed, bool):
        raise TypeError(f'mixed must be a bool, got {type(mixed).__name__}')
    if rgb_format not in ('jpg', 'png'):
        raise ValueError(f"rgb_format must be 'jpg' or 'png', got {rgb_format!r}")
    return {
        'ms_per_class': int(ms_per_class),
        'rgb_per_class': int(rgb_per_class),
        'ms_size': int(ms_size),
        'rgb_size': int(rgb_size),
        'seed': int(seed),
        'rgb_format': rgb_format,
        'mixed': mixed,
    }


def _metadata(parameters: dict[str, Any]) -> dict[str, Any]:
    # The label rule is recorded as before (a pure scene's label is its one
    # land cover): it tells today's mixed benchmarks from the mixed ones
    # written before the rule was recorded, which were 'dominant'.
    rule = 'annotated' if parameters['mixed'] else 'dominant'
    return {
        'generator': _GENERATOR,
        'version': GENERATOR_VERSION,
        'parameters': parameters | {'label_rule': rule},
        'classes': list(SYNTHETIC_CLASSES),
        'confusable_pairs': [list(pair) for pair in CONFUSABLE_PAIRS],
        'scenes': _scenes(parameters),
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


def _scenes(parameters: dict[str, Any]) -> str:
    if not parameters['mixed']:
        return 'pure'
    shares = f'{DOMINANT_SHARE[0]:.0%}-{DOMINANT_SHARE[1]:.0%}'
    return (
        f'mixed: a dominant class over {shares} of the area, a random other '
        'class the rest; the label names one of the two with probability equal '
        'to its share of the area'
    )


def _read_metadata(root: Path) -> dict[str, Any] | None:
    try:
        with open(root / METADATA_FILE) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def benchmark_parameters(root: str | Path) -> dict[str, Any]:
    """The generator parameters a synthetic benchmark was written with.

    Benchmarks written before version 2 record no ``mixed``: they hold pure
    scenes (``mixed=False``), which is filled in; the current default would
    misdescribe them. The recorded ``label_rule`` is checked and left out:
    mixed scenes get the ``'annotated'`` label, the only one generated.

    Args:
        root: A benchmark directory written by
            :func:`generate_synthetic_benchmark`.

    Returns:
        The keyword arguments of :func:`generate_synthetic_benchmark` (all but
        *root* and *overwrite*) that rewrite this benchmark.

    Raises:
        ValueError: If *root* holds no readable ``synthetic.json`` of this
            generator, or one of mixed scenes labelled by their dominant land
            cover (``label_rule: dominant``, no longer generated).
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
    # Version 1 wrote exactly the pure scenes that version 2 writes; what it
    # did not record, _written_parameters fills in.
    return (
        metadata is not None
        and metadata.get('generator') == _GENERATOR
        and metadata.get('version') in (1, GENERATOR_VERSION)
        and _written_parameters(metadata, root) == parameters
    )


def _write_all(directory: Path, parameters: dict[str, Any]) -> None:
    seed, fmt, mixed = parameters['seed'], parameters['rgb_format'], parameters['mixed']
    crs = {epsg: CRS.from_epsg(epsg) for epsg in _UTM_EPSG}
    descriptions = SENTINEL2_EUROSAT.bands
    with rasterio.Env():
        for class_name in SYNTHETIC_CLASSES:
            ms_dir = directory / 'MS' / class_name
            ms_dir.mkdir(parents=True)
            for i in range(parameters['ms_per_class']):
                dn, epsg, transform = _ms_sample(
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
                    dst.descriptions = descriptions
            rgb_dir = directory / 'RGB' / class_name
            rgb_dir.mkdir(parents=True)
            for i in range(parameters['rgb_per_class']):
                rgb = synthetic_rgb_image(
                    class_name,
                    i,
                    seed=seed,
                    size=parameters['rgb_size'],
                    mixed=mixed,
                )
                path = rgb_dir / f'{class_name}_{i:04d}.{fmt}'
                if fmt == 'jpg':
                    Image.fromarray(rgb, 'RGB').save(path, quality=95)
                else:
                    Image.fromarray(rgb, 'RGB').save(path, compress_level=1)


#: The paper's benchmark (S2S-EU, S2S-CN and M2S-GL together): MS and RGB
#: images in all. Its images are 64 x 64 (S2S-EU RGB and the MS side).
PAPER_MS_IMAGES, PAPER_RGB_IMAGES, PAPER_SIZE = 70_414, 63_549, 64


def paper_counts(fraction: float, num_classes: int = 10) -> tuple[int, int]:
    """Images per class of a synthetic benchmark at a fraction of the paper's size.

    Classes are balanced, as in the default benchmark: the totals are the
    paper's 70,414 MS and 63,549 RGB images times *fraction*, rounded per class
    (at 1.0: 7,041 and 6,355 per class, 70,410 and 63,550 in all).

    Args:
        fraction: Fraction of the paper's size, > 0.
        num_classes: Classes of the benchmark.

    Returns:
        ``(ms_per_class, rgb_per_class)``, each at least 2.

    Raises:
        ValueError: If *fraction* is not positive.
    """
    if not fraction > 0:
        raise ValueError(f'fraction must be > 0, got {fraction!r}')
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
    label_rule: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write (or reuse) a synthetic MS -> RGB benchmark in the benchmark layout.

    Layout: ``ROOT/MS/<class>/<class>_<i:04d>.tif`` (13-band uint16 GeoTIFF,
    reflectance * 10000, SENTINEL2_EUROSAT band order, a UTM CRS and a 10 m
    affine transform), ``ROOT/RGB/<class>/<class>_<i:04d>.jpg|png`` (8-bit RGB)
    and ``ROOT/synthetic.json`` (generator version and parameters).

    The benchmark is written into a temporary sibling directory and renamed to
    *root* at the end, so an interrupted run leaves no half-written benchmark.

    Args:
        root: Benchmark directory.
        ms_per_class: MS images per class.
        rgb_per_class: RGB images per class.
        ms_size: Side of the MS images in pixels.
        rgb_size: Side of the RGB images in pixels.
        seed: Seed of all randomness.
        rgb_format: ``'jpg'`` (quality 95) or ``'png'``.
        mixed: Scenes mix their class with a second land cover (the default
            benchmark, see :mod:`~torchgeo_ackd.synthetic.mixtures`); False:
            pure scenes, the control under which no method should gain.
        label_rule: Only None or ``'annotated'``, kept for callers that
            still pass it: a mixed scene always gets the annotated label (one
            of its two land covers, with probability equal to its share of
            the area; see :mod:`~torchgeo_ackd.synthetic.mixtures`).
        overwrite: Replace an existing *root* that holds something else.

    Returns:
        *root* as a :class:`~pathlib.Path`.

    Raises:
        FileExistsError: If *root* exists, is not empty and is not a synthetic
            benchmark with the same parameters, and *overwrite* is False.
        TypeError: If a count, size or the seed is not an int, or *mixed* not
            a bool.
        ValueError: If a count or size is too small, *rgb_format* is unknown,
            *label_rule* is another than ``'annotated'``, or *root* holds a
            mixed benchmark of the removed ``'dominant'`` label rule.
    """
    if label_rule not in (None, 'annotated'):
        raise ValueError(
            f'label_rule={label_rule!r}: mixed scenes always get the annotated '
            "label ('dominant' is no longer generated); leave label_rule out"
        )
    root = Path(root)
    parameters = _parameters(
        ms_per_class,
        rgb_per_class,
        ms_size,
        rgb_size,
        seed,
        rgb_format,
        mixed,
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
    """Rename *partial* to an absent or empty *root*.

    Another process may have finished the same benchmark meanwhile: then its
    copy is kept and *partial* is left for the caller to delete.
    """
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
