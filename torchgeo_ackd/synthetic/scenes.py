"""Render the scenes of the synthetic ACKD benchmark.

MS scenes: region A, Sentinel-2-like, 13 bands, 10 m, top-of-atmosphere, uint16.
RGB scenes: region B, unpaired, 5 m, larger features, tone-mapped to uint8. Each file
has its own generator seeded from ``(seed, modality, class, index)``, so a smaller
benchmark is a prefix of a larger one. See ``docs/synthetic.md``.
"""

import numpy as np
from rasterio.transform import Affine, from_origin

from ..sensors import SENTINEL2_EUROSAT
from .layouts import SYNTHETIC_CLASSES
from .mixtures import scene_abundances
from .spectra import endmember_spectra, path_radiance, rgb_endmembers, transmittance

#: Ground sampling distance of the MS region in metres.
MS_GSD_M = 10.0
#: Ground sampling distance of the RGB region in metres.
RGB_GSD_M = 5.0
#: Size of landscape features in the RGB region relative to the MS region.
RGB_FEATURE_SCALE = 1.3
#: Linear exposure of the RGB camera: reflectance times this is display linear.
RGB_EXPOSURE = 2.2

#: UTM zones (WGS 84, north) the MS scenes are placed in (central Europe).
UTM_EPSG = (32631, 32632, 32633, 32634)
_MS_SEED_KEY, _RGB_SEED_KEY = 0, 1

_ENDMEMBER_SPECTRA = endmember_spectra(SENTINEL2_EUROSAT)
_PATH = path_radiance(SENTINEL2_EUROSAT)
_TRANSMITTANCE = transmittance(SENTINEL2_EUROSAT)
_WAVELENGTH_TILT = (np.array(SENTINEL2_EUROSAT.wavelengths) - 1000.0) / 1000.0
_CIRRUS = SENTINEL2_EUROSAT.band_indices(['B10'])[0]
_RGB_ENDMEMBERS = rgb_endmembers()
_HAZE_COLOUR = np.array([0.70, 0.85, 1.00])
_E = len(_ENDMEMBER_SPECTRA)


def _file_rng(
    seed: int, modality: int, class_name: str, index: int
) -> np.random.Generator:
    if class_name not in SYNTHETIC_CLASSES:
        raise ValueError(
            f'unknown class {class_name!r}; expected one of {SYNTHETIC_CLASSES}'
        )
    key = (modality, SYNTHETIC_CLASSES.index(class_name), index)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _mix(
    rng: np.random.Generator, abundances: np.ndarray, spectra: np.ndarray, sigma: float
) -> np.ndarray:
    """Mix noisy abundances (H, W, E; totals kept) and spectra (E, C) into (H, W, C)."""
    # Only the endmembers present in the image take part.
    present = np.flatnonzero(abundances.reshape(-1, abundances.shape[-1]).any(0))
    used = abundances[..., present]
    noisy = used * np.exp(sigma * rng.standard_normal(used.shape))
    total, noisy_total = used.sum(-1), noisy.sum(-1)
    scale = np.divide(
        total, noisy_total, out=np.zeros_like(total), where=noisy_total > 0
    )
    return (noisy * scale[..., None]) @ spectra[present]


def ms_scene(
    class_name: str,
    index: int,
    seed: int,
    size: int,
    mixed: bool,
) -> tuple[np.ndarray, int, Affine]:
    """One MS scene with where it lies: its UTM zone and its geotransform.

    Args:
        class_name: One of :data:`SYNTHETIC_CLASSES`.
        index: Image number within the class.
        seed: Benchmark seed.
        size: Side in pixels (10 m each).
        mixed: A mixed scene; False: a pure one.

    Returns:
        The image (as :func:`synthetic_ms_image`), its UTM EPSG code and its transform.
    """
    rng = _file_rng(seed, _MS_SEED_KEY, class_name, index)
    epsg = int(rng.choice(UTM_EPSG))
    easting = 10.0 * np.round(rng.uniform(300_000.0, 700_000.0) / 10.0)
    northing = 10.0 * np.round(rng.uniform(4_800_000.0, 5_900_000.0) / 10.0)
    transform = from_origin(easting, northing, MS_GSD_M, MS_GSD_M)

    pixel_m = MS_GSD_M / np.exp(0.1 * rng.standard_normal())
    abundances, _ = scene_abundances(class_name, rng, size, pixel_m, mixed)
    brightness = np.exp(0.06 * rng.standard_normal((_E, 1)))
    tilt = 1.0 + 0.04 * rng.standard_normal((_E, 1)) * _WAVELENGTH_TILT
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
        mixed: Mixed (see :mod:`~torchgeo_ackd.synthetic.mixtures`) or pure scene.

    Returns:
        Digital numbers (reflectance * 10000), uint16, shape (13, size, size),
        bands in SENTINEL2_EUROSAT order.
    """
    return ms_scene(class_name, index, seed, size, mixed)[0]


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
        mixed: Mixed (see :mod:`~torchgeo_ackd.synthetic.mixtures`) or pure scene.

    Returns:
        8-bit sRGB-like values, uint8, shape (size, size, 3), channels R, G, B.
    """
    rng = _file_rng(seed, _RGB_SEED_KEY, class_name, index)
    pixel_m = RGB_GSD_M / (RGB_FEATURE_SCALE * np.exp(0.1 * rng.standard_normal()))
    abundances, _ = scene_abundances(class_name, rng, size, pixel_m, mixed)
    brightness = np.exp(0.06 * rng.standard_normal((_E, 1)))
    hue = np.exp(0.02 * rng.standard_normal((_E, 3)))
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
