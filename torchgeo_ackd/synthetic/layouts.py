"""Class-specific spatial layouts: per-pixel abundances of the endmembers.

A layout maps ``(rng, size, pixel_m)`` to abundances (size, size, E) over
:data:`~torchgeo_ackd.synthetic.spectra.ENDMEMBERS` that sum to at most 1 per pixel
(the rest is shade). Feature sizes are in metres, so one layout serves both regions.
"""

from collections.abc import Callable
from functools import partial

import numpy as np

from .spectra import ENDMEMBERS, endmember_index

#: Class names of the synthetic benchmark (EuroSAT-like), in label order.
SYNTHETIC_CLASSES: tuple[str, ...] = (
    'AnnualCrop', 'Forest', 'HerbaceousVegetation', 'Industrial', 'Pasture',
    'Residential', 'River', 'SeaLake', 'StressedCrop', 'Wetland',
)  # fmt: skip

#: Pairs of classes that look alike in RGB but separate in NIR / SWIR.
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ('AnnualCrop', 'StressedCrop'),
    ('HerbaceousVegetation', 'Wetland'),
)

#: Signature of a class layout: (rng, size, pixel_m) -> abundances (H, W, E).
Layout = Callable[[np.random.Generator, int, float], np.ndarray]

_E = len(ENDMEMBERS)


def smooth_field(rng: np.random.Generator, size: int, length_px: float) -> np.ndarray:
    """Gaussian random field with a given correlation length.

    White noise filtered with a Gaussian kernel in the Fourier domain, on a grid
    padded by two kernel widths per side against wrap-around, then standardised.

    Args:
        rng: Random generator.
        size: Side of the square field in pixels.
        length_px: Standard deviation of the smoothing kernel in pixels (0: white).

    Returns:
        Field of zero mean and unit standard deviation, shape (size, size).
    """
    if length_px <= 0:
        field = rng.standard_normal((size, size))
    else:
        pad = int(np.ceil(2.0 * min(length_px, 2.0 * size)))
        n = size + 2 * pad
        noise = rng.standard_normal((n, n))
        k2 = np.fft.fftfreq(n)[:, None] ** 2 + np.fft.rfftfreq(n)[None, :] ** 2
        kernel = np.exp(-2.0 * (np.pi * length_px) ** 2 * k2)
        field = np.fft.irfft2(np.fft.rfft2(noise) * kernel, s=(n, n))
        field = field[pad : pad + size, pad : pad + size]
    return (field - field.mean()) / (field.std() + 1e-12)


def blob_mask(
    rng: np.random.Generator,
    size: int,
    length_px: float,
    coverage: float,
    softness: float = 0.15,
) -> np.ndarray:
    """Soft mask of random blobs covering a given fraction of the image.

    Args:
        rng: Random generator.
        size: Side in pixels.
        length_px: Correlation length of the underlying field in pixels.
        coverage: Fraction of pixels inside the blobs, in [0, 1].
        softness: Edge width in units of the field's standard deviation.

    Returns:
        Mask in [0, 1], shape (size, size).
    """
    field = smooth_field(rng, size, length_px)
    threshold = np.quantile(field, 1.0 - coverage)
    return 1.0 / (1.0 + np.exp(-(field - threshold) / softness))


def rotated_coords(size: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates about the image centre, rotated by *angle*.

    Args:
        size: Side in pixels.
        angle: Rotation in radians.

    Returns:
        (u, v), each (size, size), in pixels: u along *angle*, v across it.
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - (size - 1) / 2.0
    c, s = np.cos(angle), np.sin(angle)
    return x * c + y * s, -x * s + y * c


def stripe_index(
    rng: np.random.Generator, coord: np.ndarray, mean_width_px: float
) -> np.ndarray:
    """Partition a coordinate into consecutive stripes of random width.

    Args:
        rng: Random generator.
        coord: Coordinate per pixel in pixels, e.g. ``u`` of :func:`rotated_coords`.
        mean_width_px: Mean stripe width in pixels (widths vary by +-40 %).

    Returns:
        Stripe number per pixel (int64, same shape as *coord*), starting at 0.
    """
    lo, hi = float(coord.min()), float(coord.max())
    count = int(np.ceil((hi - lo) / (0.6 * mean_width_px))) + 2
    widths = mean_width_px * rng.uniform(0.6, 1.4, count)
    edges = lo - rng.uniform(0.0, mean_width_px) + np.cumsum(widths)
    return np.searchsorted(edges, coord)


def line_mask(distance_px: np.ndarray, width_px: float) -> np.ndarray:
    """Anti-aliased band of a given width around a line.

    Args:
        distance_px: Distance of each pixel centre to the line, in pixels.
        width_px: Full width of the band in pixels.

    Returns:
        Coverage of each pixel by the band, in [0, 1].
    """
    return np.clip(width_px / 2.0 - np.abs(distance_px) + 0.5, 0.0, 1.0)


def grid_distance(coord: np.ndarray, period_px: float) -> np.ndarray:
    """Distance of a coordinate to the nearest multiple of a period.

    Args:
        coord: Coordinate per pixel, in pixels.
        period_px: Grid period in pixels.

    Returns:
        Distance in pixels, in [0, period_px / 2].
    """
    return np.abs(np.mod(coord + period_px / 2.0, period_px) - period_px / 2.0)


def meander_distance(
    rng: np.random.Generator, size: int, wavelength_px: float, amplitude_px: float
) -> np.ndarray:
    """Distance of every pixel to a random centre line meandering as two sines.

    Args:
        rng: Random generator.
        size: Side in pixels.
        wavelength_px: Main meander wavelength in pixels.
        amplitude_px: Main meander amplitude in pixels.

    Returns:
        Approximate perpendicular distance in pixels, shape (size, size).
    """
    u, v = rotated_coords(size, rng.uniform(0.0, np.pi))
    k1 = 2.0 * np.pi / wavelength_px
    k2 = k1 * rng.uniform(1.7, 2.6)
    a1, a2 = amplitude_px, amplitude_px * rng.uniform(0.2, 0.5)
    p1, p2 = rng.uniform(0.0, 2.0 * np.pi, 2)
    centre = rng.uniform(-0.15, 0.15) * size
    centre = centre + a1 * np.sin(k1 * u + p1) + a2 * np.sin(k2 * u + p2)
    slope = a1 * k1 * np.cos(k1 * u + p1) + a2 * k2 * np.cos(k2 * u + p2)
    return (v - centre) / np.sqrt(1.0 + slope**2)


def _cell_values(rng: np.random.Generator, *indices: np.ndarray) -> np.ndarray:
    """One uniform random value per cell of an integer grid, broadcast to pixels."""
    cells = [np.asarray(i, dtype=np.int64) for i in indices]
    flat = np.ravel_multi_index(
        tuple(i - i.min() for i in cells),
        tuple(int(i.max() - i.min()) + 1 for i in cells),
    )
    values = rng.random(int(flat.max()) + 1)
    return values[flat]


def _compose(size: int, **maps: np.ndarray | float) -> np.ndarray:
    """Stack named abundance maps into an (H, W, E) array (missing ones are 0)."""
    out = np.zeros((size, size, _E))
    for name, amount in maps.items():
        out[..., endmember_index(name)] += amount
    return out


def forest(rng: np.random.Generator, size: int, pixel_m: float) -> np.ndarray:
    """Closed canopy with crown texture (shade) and a few grassy gaps."""
    gaps = blob_mask(rng, size, 25.0 / pixel_m, rng.uniform(0.02, 0.12))
    crowns = smooth_field(rng, size, 4.0 / pixel_m)
    lit = np.clip(0.85 + 0.10 * crowns, 0.5, 1.0)
    return _compose(
        size,
        forest_canopy=(1.0 - gaps) * lit,
        green_vegetation=0.8 * gaps,
        dry_soil=0.2 * gaps,
    )


def pasture(rng: np.random.Generator, size: int, pixel_m: float) -> np.ndarray:
    """Homogeneous grass in a few large paddocks, sometimes a dirt track."""
    u, v = rotated_coords(size, rng.uniform(0.0, np.pi))
    paddock = _cell_values(
        rng, stripe_index(rng, u, 150.0 / pixel_m), stripe_index(rng, v, 200 / pixel_m)
    )
    grass = 0.88 + 0.08 * paddock + 0.02 * smooth_field(rng, size, 40.0 / pixel_m)
    grass = np.clip(grass, 0.0, 1.0)
    if rng.random() < 0.3:
        track = line_mask(v - rng.uniform(-0.4, 0.4) * size, 4.0 / pixel_m)
        grass = grass * (1.0 - track)
    return _compose(size, green_vegetation=grass, dry_soil=1.0 - grass)


def herbaceous(
    rng: np.random.Generator,
    size: int,
    pixel_m: float,
    vegetation: str = 'green_vegetation',
) -> np.ndarray:
    """Patchy herbs with bare patches and shrubs; *vegetation* is the herb endmember."""
    bare = 0.75 * blob_mask(rng, size, 12.0 / pixel_m, rng.uniform(0.2, 0.3))
    shrub = (1.0 - bare) * blob_mask(rng, size, 8.0 / pixel_m, rng.uniform(0.15, 0.25))
    return _compose(
        size, dry_soil=bare, forest_canopy=shrub, **{vegetation: 1.0 - bare - shrub}
    )


def crop(
    rng: np.random.Generator,
    size: int,
    pixel_m: float,
    vegetation: str = 'green_vegetation',
) -> np.ndarray:
    """Rectangular parcels, cropped in rows or bare; *vegetation* is the crop endmember."""
    u, v = rotated_coords(size, rng.uniform(0.0, np.pi))
    parcel = (
        stripe_index(rng, u, rng.uniform(30.0, 60.0) / pixel_m),
        stripe_index(rng, v, rng.uniform(80.0, 200.0) / pixel_m),
    )
    state = _cell_values(rng, *parcel)
    density = 0.78 + 0.2 * _cell_values(rng, *parcel)
    rows = 0.5 + 0.5 * np.cos(2.0 * np.pi * v / (rng.uniform(6.0, 12.0) / pixel_m))
    cropped = np.where(state < 0.7, density * (0.9 + 0.1 * rows), 0.0)
    return _compose(size, **{vegetation: cropped}, dry_soil=1.0 - cropped)


def _street_grid(
    rng: np.random.Generator,
    size: int,
    pixel_m: float,
    offset_m: float,
    block_m: tuple[float, float],
    street_m: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """A randomly rotated and shifted grid of streets (shared by urban classes).

    Returns:
        Rotated u, v and block size (pixels), and the street mask (H, W) in [0, 1].
    """
    u, v = rotated_coords(size, rng.uniform(0.0, np.pi))
    u = u + rng.uniform(0.0, offset_m) / pixel_m
    v = v + rng.uniform(0.0, offset_m) / pixel_m
    block = rng.uniform(*block_m) / pixel_m
    street_w = rng.uniform(*street_m) / pixel_m
    street = np.maximum(
        line_mask(grid_distance(u, block), street_w),
        line_mask(grid_distance(v, block), street_w),
    )
    return u, v, block, street


def residential(rng: np.random.Generator, size: int, pixel_m: float) -> np.ndarray:
    """Street grid with small houses (mostly tiled) and gardens."""
    u, v, _, street = _street_grid(rng, size, pixel_m, 100.0, (45.0, 70.0), (7.0, 11.0))
    lot = rng.uniform(13.0, 18.0) / pixel_m
    cell = (np.floor(u / lot), np.floor(v / lot))
    house = np.minimum(
        line_mask(grid_distance(u - lot / 2, lot), 0.6 * lot),
        line_mask(grid_distance(v - lot / 2, lot), 0.6 * lot),
    ) * (_cell_values(rng, *cell) < 0.65)
    roof = _cell_values(rng, *cell)
    house = house * (1.0 - street)
    garden = (1.0 - street - house).clip(0.0, 1.0)
    return _compose(
        size,
        asphalt=street,
        tile_roof=house * (roof < 0.65),
        bright_roof=house * ((roof >= 0.65) & (roof < 0.8)),
        concrete=house * (roof >= 0.8),
        green_vegetation=0.75 * garden,
        forest_canopy=0.15 * garden,
        dry_soil=0.10 * garden,
    )


def industrial(rng: np.random.Generator, size: int, pixel_m: float) -> np.ndarray:
    """Large blocks of big flat roofs, paved yards and a little green."""
    u, v, block, street = _street_grid(
        rng, size, pixel_m, 200.0, (90.0, 150.0), (12.0, 18.0)
    )
    cell = (np.floor(u / block), np.floor(v / block))
    hall = np.minimum(
        line_mask(grid_distance(u - block / 2, block), rng.uniform(0.45, 0.7) * block),
        line_mask(grid_distance(v - block / 2, block), rng.uniform(0.45, 0.7) * block),
    ) * (1.0 - street)
    roof = _cell_values(rng, *cell)
    yard = (1.0 - street - hall).clip(0.0, 1.0)
    green = yard * blob_mask(rng, size, 10.0 / pixel_m, 0.08)
    paved = yard - green
    return _compose(
        size,
        asphalt=street + 0.4 * paved,
        concrete=0.6 * paved + hall * (roof < 0.5),
        bright_roof=hall * (roof >= 0.5),
        green_vegetation=green,
    )


def river(rng: np.random.Generator, size: int, pixel_m: float) -> np.ndarray:
    """A meandering river with riparian trees through grass and fields."""
    distance = meander_distance(
        rng,
        size,
        rng.uniform(250.0, 450.0) / pixel_m,
        rng.uniform(20.0, 50.0) / pixel_m,
    )
    width = rng.uniform(30.0, 60.0) / pixel_m
    water = line_mask(distance, width)
    bank = line_mask(distance, width + 2.0 * rng.uniform(8.0, 15.0) / pixel_m)
    trees = (bank - water) * blob_mask(rng, size, 6.0 / pixel_m, 0.6)
    land = 1.0 - water - trees
    grass = 0.6 + 0.3 * blob_mask(rng, size, 30.0 / pixel_m, 0.5)
    return _compose(
        size,
        water=water,
        forest_canopy=trees,
        green_vegetation=land * grass,
        dry_soil=land * (1.0 - grass),
    )


def sea_lake(rng: np.random.Generator, size: int, pixel_m: float) -> np.ndarray:
    """Open water with faint turbidity plumes, sometimes a shore."""
    turbidity = 0.03 * blob_mask(rng, size, 60.0 / pixel_m, 0.4)
    land = (
        blob_mask(rng, size, 80.0 / pixel_m, rng.uniform(0.05, 0.25), softness=0.05)
        if rng.random() < 0.4
        else np.zeros((size, size))
    )
    return _compose(
        size,
        water=(1.0 - land) * (1.0 - turbidity),
        dry_soil=(1.0 - land) * turbidity + 0.3 * land,
        forest_canopy=0.4 * land,
        green_vegetation=0.3 * land,
    )


#: Layout of every class of :data:`SYNTHETIC_CLASSES`.
CLASS_LAYOUTS: dict[str, Layout] = {
    'AnnualCrop': crop,
    'Forest': forest,
    'HerbaceousVegetation': herbaceous,
    'Industrial': industrial,
    'Pasture': pasture,
    'Residential': residential,
    'River': river,
    'SeaLake': sea_lake,
    'StressedCrop': partial(crop, vegetation='stressed_crop'),
    'Wetland': partial(herbaceous, vegetation='wetland_vegetation'),
}


def class_abundances(
    class_name: str, rng: np.random.Generator, size: int, pixel_m: float
) -> np.ndarray:
    """Abundance maps of one image of a class.

    Args:
        class_name: One of :data:`SYNTHETIC_CLASSES`.
        rng: Random generator.
        size: Side in pixels.
        pixel_m: Ground metres per pixel divided by the region's feature scale.

    Returns:
        Abundances in [0, 1] summing to at most 1 per pixel, shape (size, size, E).

    Raises:
        ValueError: If *class_name* is unknown.
    """
    if class_name not in CLASS_LAYOUTS:
        raise ValueError(
            f'unknown class {class_name!r}; expected one of {SYNTHETIC_CLASSES}'
        )
    abundances = CLASS_LAYOUTS[class_name](rng, size, pixel_m)
    return np.clip(abundances, 0.0, 1.0)
