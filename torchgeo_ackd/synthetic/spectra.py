"""Endmember library: surface reflectance spectra of the synthetic materials.

Reflectance in [0, 1] per Sentinel-2 band NAME, after typical USGS splib07 and
ECOSTRESS shapes (plausible, not measured), put in a sensor's file order through
:class:`~torchgeo_ackd.sensors.Sensor`. The twins of ``green_vegetation`` differ
from it beyond the visible. Also: region-A atmosphere, region-B material tints.
"""

from collections.abc import Mapping

import numpy as np

from ..sensors import SENTINEL2_EUROSAT, SENTINEL2_SSL4EO, Sensor

#: Sentinel-2 bands in wavelength order (SSL4EO), the order of the spectra below.
_S2_ORDER = SENTINEL2_SSL4EO.bands


def _spectrum(*values: float) -> dict[str, float]:
    return dict(zip(_S2_ORDER, values, strict=True))


# Healthy green vegetation: green peak, steep red edge, high NIR, SWIR leaf water.
_GREEN_VEGETATION = _spectrum(
    0.030, 0.035, 0.075, 0.035, 0.105, 0.300, 0.390, 0.420, 0.430, 0.420, 0.150,
    0.210, 0.095,
)  # fmt: skip

# Faint visible cues (factors on B01-B04) of the twins, below the colour variability.
STRESSED_VISIBLE_CUE = {'B01': 1.00, 'B02': 1.00, 'B03': 1.04, 'B04': 1.15}
WETLAND_VISIBLE_CUE = {'B01': 1.05, 'B02': 1.08, 'B03': 0.96, 'B04': 1.00}


def _with_visible(
    base: Mapping[str, float], cue: Mapping[str, float], rest: dict[str, float]
) -> dict[str, float]:
    out = {band: base[band] * factor for band, factor in cue.items()}
    out.update(rest)
    return out


_SPECTRA: dict[str, dict[str, float]] = {
    'green_vegetation': _GREEN_VEGETATION,
    # Water-stressed crop: red edge and NIR drop, SWIR rises as the leaves dry.
    'stressed_crop': _with_visible(
        _GREEN_VEGETATION, STRESSED_VISIBLE_CUE,
        {'B05': 0.115, 'B06': 0.200, 'B07': 0.240, 'B08': 0.260, 'B8A': 0.265,
         'B09': 0.260, 'B10': 0.170, 'B11': 0.310, 'B12': 0.200},
    ),
    # Marsh vegetation: grass-like up to the NIR, SWIR absorbed by standing water.
    'wetland_vegetation': _with_visible(
        _GREEN_VEGETATION, WETLAND_VISIBLE_CUE,
        {'B05': 0.100, 'B06': 0.280, 'B07': 0.355, 'B08': 0.375, 'B8A': 0.380,
         'B09': 0.350, 'B10': 0.050, 'B11': 0.095, 'B12': 0.035},
    ),
    # Closed forest canopy: darker than grass everywhere (inter-crown shadow).
    'forest_canopy': _spectrum(
        0.022, 0.026, 0.048, 0.024, 0.070, 0.200, 0.265, 0.285, 0.295, 0.285, 0.080,
        0.135, 0.058,
    ),
    # Dry bare soil: rising to the SWIR, B12 slightly below B11 (clay hydroxyl).
    'dry_soil': _spectrum(
        0.080, 0.100, 0.140, 0.200, 0.225, 0.245, 0.265, 0.280, 0.290, 0.295, 0.300,
        0.360, 0.320,
    ),
    # Wet dark soil: the dry-soil shape at half the level, SWIR cut by moisture.
    'wet_soil': _spectrum(
        0.040, 0.050, 0.070, 0.095, 0.105, 0.115, 0.125, 0.135, 0.140, 0.140, 0.080,
        0.120, 0.090,
    ),
    # Open water: a little blue/green scattering, near zero from the red edge on.
    'water': _spectrum(
        0.060, 0.060, 0.050, 0.030, 0.022, 0.012, 0.010, 0.008, 0.007, 0.005, 0.002,
        0.003, 0.002,
    ),
    # Concrete / generic built-up: bright and flat with a gentle rise.
    'concrete': _spectrum(
        0.160, 0.180, 0.210, 0.230, 0.240, 0.250, 0.260, 0.270, 0.275, 0.275, 0.260,
        0.300, 0.270,
    ),
    # Dark asphalt: dark, flat, rising slowly into the SWIR.
    'asphalt': _spectrum(
        0.050, 0.055, 0.065, 0.075, 0.080, 0.085, 0.090, 0.095, 0.100, 0.100, 0.090,
        0.120, 0.110,
    ),
    # Bright roof (metal sheet, light membrane): very bright and flat.
    'bright_roof': _spectrum(
        0.320, 0.350, 0.380, 0.400, 0.400, 0.405, 0.410, 0.410, 0.415, 0.415, 0.380,
        0.430, 0.400,
    ),
    # Red clay tile roof: low blue/green, bright red and NIR (iron oxides).
    'tile_roof': _spectrum(
        0.060, 0.070, 0.100, 0.220, 0.280, 0.300, 0.320, 0.330, 0.340, 0.340, 0.300,
        0.400, 0.350,
    ),
}  # fmt: skip

#: Names of the endmembers, in the order of the abundance axis.
ENDMEMBERS: tuple[str, ...] = tuple(_SPECTRA)

# Region-A path radiance and two-way transmittance (B09, B10 in water-vapour bands).
_PATH_RADIANCE = _spectrum(
    0.085, 0.060, 0.035, 0.022, 0.018, 0.013, 0.011, 0.009, 0.008, 0.004, 0.0012,
    0.002, 0.001,
)  # fmt: skip
_TRANSMITTANCE = _spectrum(
    0.80, 0.84, 0.88, 0.91, 0.92, 0.93, 0.94, 0.94, 0.95, 0.35, 0.003, 0.95, 0.92,
)  # fmt: skip

# Region-B (R, G, B) tints per material family, shared so the twins' cues stay.
_RGB_TINTS: dict[str, tuple[float, float, float]] = {
    'green_vegetation': (1.10, 1.05, 0.90),
    'stressed_crop': (1.10, 1.05, 0.90),
    'wetland_vegetation': (1.10, 1.05, 0.90),
    'forest_canopy': (1.00, 1.05, 0.95),
    'dry_soil': (1.20, 1.00, 0.82),
    'wet_soil': (1.15, 1.00, 0.85),
    'water': (0.90, 1.25, 1.00),
    'concrete': (1.05, 1.00, 0.95),
    'asphalt': (1.00, 1.00, 1.05),
    'bright_roof': (1.00, 1.00, 1.00),
    'tile_roof': (1.10, 0.95, 0.90),
}


def endmember_index(name: str) -> int:
    """Position of an endmember on the abundance axis.

    Args:
        name: Endmember name, one of :data:`ENDMEMBERS`.

    Returns:
        Its index.

    Raises:
        ValueError: If *name* is not an endmember.
    """
    if name not in _SPECTRA:
        raise ValueError(f'unknown endmember {name!r}; expected one of {ENDMEMBERS}')
    return ENDMEMBERS.index(name)


def _per_band(values: Mapping[str, float], sensor: Sensor) -> np.ndarray:
    missing = [b for b in sensor.bands if b not in values]
    if missing:
        raise ValueError(
            f'sensor {sensor.name!r} has bands {missing} that the endmember '
            f'library does not cover; expected Sentinel-2 band names {_S2_ORDER}'
        )
    return np.array([values[b] for b in sensor.bands], dtype=np.float64)


def endmember_spectra(sensor: Sensor = SENTINEL2_EUROSAT) -> np.ndarray:
    """Surface reflectance of every endmember in a sensor's band order.

    Args:
        sensor: A Sentinel-2 sensor (any subset or order of its 13 bands).

    Returns:
        Reflectance in [0, 1], shape (E, C): one row per :data:`ENDMEMBERS`
        entry, one column per band of *sensor*, in its file order.

    Raises:
        ValueError: If *sensor* has a band that is not a Sentinel-2 band.
    """
    return np.stack([_per_band(_SPECTRA[name], sensor) for name in ENDMEMBERS])


def path_radiance(sensor: Sensor = SENTINEL2_EUROSAT) -> np.ndarray:
    """Region-A atmospheric path radiance in reflectance units, shape (C,)."""
    return _per_band(_PATH_RADIANCE, sensor)


def transmittance(sensor: Sensor = SENTINEL2_EUROSAT) -> np.ndarray:
    """Region-A two-way atmospheric transmittance in [0, 1], shape (C,)."""
    return _per_band(_TRANSMITTANCE, sensor)


def rgb_endmembers() -> np.ndarray:
    """Region-B (RGB region) reflectance of every endmember in R, G, B.

    The library's B04, B03, B02 times the region's material tint.

    Returns:
        Reflectance, shape (E, 3), channels in (R, G, B) order.
    """
    rgb = endmember_spectra(SENTINEL2_EUROSAT)[:, SENTINEL2_EUROSAT.rgb_indices]
    tints = np.array([_RGB_TINTS[name] for name in ENDMEMBERS], dtype=np.float64)
    return rgb * tints
