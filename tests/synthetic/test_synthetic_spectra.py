import numpy as np
import pytest

from torchgeo_ackd.sensors import RGB, SENTINEL2_EUROSAT, SENTINEL2_SSL4EO
from torchgeo_ackd.synthetic.spectra import (
    ENDMEMBERS,
    endmember_index,
    endmember_spectra,
    path_radiance,
    rgb_endmembers,
    transmittance,
)


def spectrum(name: str) -> dict[str, float]:
    row = endmember_spectra(SENTINEL2_EUROSAT)[endmember_index(name)]
    return dict(zip(SENTINEL2_EUROSAT.bands, row.tolist(), strict=True))


def test_shape_range_and_band_order() -> None:
    eurosat = endmember_spectra(SENTINEL2_EUROSAT)
    assert eurosat.shape == (len(ENDMEMBERS), 13)
    assert (eurosat >= 0).all() and (eurosat <= 1).all()
    # The SSL4EO order is the same numbers with B8A moved after B08.
    ssl4eo = endmember_spectra(SENTINEL2_SSL4EO)
    order = [SENTINEL2_EUROSAT.bands.index(b) for b in SENTINEL2_SSL4EO.bands]
    np.testing.assert_array_equal(ssl4eo, eurosat[:, order])
    # EuroSAT stores B8A last: for vegetation it is the NIR plateau.
    veg = eurosat[endmember_index('green_vegetation')]
    assert SENTINEL2_EUROSAT.bands[-1] == 'B8A' and veg[-1] > 0.4


def test_vegetation_has_a_red_edge() -> None:
    for name in ('green_vegetation', 'forest_canopy', 'wetland_vegetation'):
        s = spectrum(name)
        assert s['B04'] < s['B03']  # green peak over red absorption
        assert s['B04'] < s['B05'] < s['B06'] < s['B07'] < s['B08']
        assert s['B08'] > 5 * s['B04']


def test_stressed_crop_is_a_visible_twin() -> None:
    green, stressed = spectrum('green_vegetation'), spectrum('stressed_crop')
    for band in ('B01', 'B02', 'B03', 'B04'):
        assert stressed[band] == pytest.approx(green[band], rel=0.2)
    for band in ('B06', 'B07', 'B08', 'B8A'):
        assert stressed[band] < 0.75 * green[band]
    for band in ('B11', 'B12'):
        assert stressed[band] > 1.3 * green[band]


def test_wetland_is_a_visible_twin() -> None:
    green, wetland = spectrum('green_vegetation'), spectrum('wetland_vegetation')
    for band in ('B01', 'B02', 'B03', 'B04', 'B05'):
        assert wetland[band] == pytest.approx(green[band], rel=0.1)
    for band in ('B07', 'B08', 'B8A'):
        assert wetland[band] == pytest.approx(green[band], rel=0.15)
    assert wetland['B11'] < 0.6 * green['B11']
    assert wetland['B12'] < 0.5 * green['B12']


def test_other_materials() -> None:
    water, dry, wet = spectrum('water'), spectrum('dry_soil'), spectrum('wet_soil')
    assert max(water[b] for b in ('B08', 'B8A', 'B11', 'B12')) < 0.01
    assert water['B02'] > water['B04'] > water['B08']
    assert dry['B02'] < dry['B04'] < dry['B08'] < dry['B11']
    assert all(wet[b] < dry[b] for b in SENTINEL2_EUROSAT.bands)
    roof, asphalt = spectrum('bright_roof'), spectrum('asphalt')
    assert all(roof[b] > 3 * asphalt[b] for b in ('B02', 'B03', 'B04'))


def test_atmosphere() -> None:
    path = dict(zip(SENTINEL2_EUROSAT.bands, path_radiance(), strict=True))
    trans = dict(zip(SENTINEL2_EUROSAT.bands, transmittance(), strict=True))
    assert path['B01'] > path['B02'] > path['B03'] > path['B04'] > path['B08']
    assert trans['B10'] < 0.01 and trans['B09'] < 0.5 < trans['B08']


def test_rgb_region_tints() -> None:
    rgb = rgb_endmembers()
    base = endmember_spectra(SENTINEL2_EUROSAT)[:, SENTINEL2_EUROSAT.rgb_indices]
    assert rgb.shape == (len(ENDMEMBERS), 3)
    soil = endmember_index('dry_soil')
    # Region B's soil is redder relative to its blue than region A's.
    assert rgb[soil, 0] / rgb[soil, 2] > 1.2 * base[soil, 0] / base[soil, 2]
    # Twins keep the same tint, so their relative visible cue is unchanged.
    g, s = endmember_index('green_vegetation'), endmember_index('stressed_crop')
    np.testing.assert_allclose(rgb[s] / rgb[g], base[s] / base[g])


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match='unknown endmember'):
        endmember_index('snow')
    with pytest.raises(ValueError, match='does not cover'):
        endmember_spectra(RGB)
