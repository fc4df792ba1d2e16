import numpy as np
import pytest

from torchgeo_ackd.synthetic.layouts import (
    CLASS_LAYOUTS,
    CONFUSABLE_PAIRS,
    SYNTHETIC_CLASSES,
    blob_mask,
    class_abundances,
    crop,
    grid_distance,
    herbaceous,
    line_mask,
    smooth_field,
)
from torchgeo_ackd.synthetic.spectra import ENDMEMBERS, endmember_index


def test_classes() -> None:
    assert len(SYNTHETIC_CLASSES) == 10 == len(set(SYNTHETIC_CLASSES))
    assert set(CLASS_LAYOUTS) == set(SYNTHETIC_CLASSES)
    assert {c for pair in CONFUSABLE_PAIRS for c in pair} <= set(SYNTHETIC_CLASSES)


@pytest.mark.parametrize('name', SYNTHETIC_CLASSES)
@pytest.mark.parametrize(('size', 'pixel_m'), [(16, 10.0), (48, 5.0 / 1.3)])
def test_abundances_are_valid(name: str, size: int, pixel_m: float) -> None:
    a = class_abundances(name, np.random.default_rng(0), size, pixel_m)
    assert a.shape == (size, size, len(ENDMEMBERS))
    assert (a >= 0).all() and (a <= 1).all()
    assert (a.sum(-1) <= 1 + 1e-9).all()
    assert a.sum(-1).mean() > 0.8  # shade is a minor part


def fraction(name: str, endmember: str, seeds: range = range(8)) -> float:
    return float(
        np.mean(
            [
                class_abundances(name, np.random.default_rng(s), 32, 10.0)[
                    ..., endmember_index(endmember)
                ].mean()
                for s in seeds
            ]
        )
    )


def test_class_compositions() -> None:
    assert fraction('SeaLake', 'water') > 0.7
    assert 0.03 < fraction('River', 'water') < 0.4
    assert fraction('Forest', 'forest_canopy') > 0.7
    assert fraction('Pasture', 'green_vegetation') > 0.85
    assert fraction('Industrial', 'green_vegetation') < 0.1
    built = ('asphalt', 'concrete', 'bright_roof', 'tile_roof')
    assert sum(fraction('Residential', e) for e in built) > 0.3
    assert fraction('Residential', 'tile_roof') > fraction('Industrial', 'tile_roof')


@pytest.mark.parametrize(
    ('layout', 'twin'),
    [(crop, 'stressed_crop'), (herbaceous, 'wetland_vegetation')],
)
def test_twins_share_the_spatial_layout(layout, twin: str) -> None:  # type: ignore[no-untyped-def]
    plain = layout(np.random.default_rng(7), 32, 10.0)
    other = layout(np.random.default_rng(7), 32, 10.0, vegetation=twin)
    g, t = endmember_index('green_vegetation'), endmember_index(twin)
    np.testing.assert_array_equal(plain[..., g], other[..., t])
    assert (other[..., g] == 0).all()
    rest = [i for i in range(len(ENDMEMBERS)) if i not in (g, t)]
    np.testing.assert_array_equal(plain[..., rest], other[..., rest])


def test_smooth_field_and_blobs() -> None:
    rng = np.random.default_rng(1)
    field = smooth_field(rng, 64, 4.0)
    assert abs(field.mean()) < 1e-9 and field.std() == pytest.approx(1.0)
    # Correlated: neighbours alike, unlike white noise.
    assert np.corrcoef(field[:, :-1].ravel(), field[:, 1:].ravel())[0, 1] > 0.9
    mask = blob_mask(rng, 64, 4.0, 0.3)
    assert (mask > 0.5).mean() == pytest.approx(0.3, abs=0.02)


def test_lines() -> None:
    d = np.array([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(line_mask(d, 3.0), [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(line_mask(d, 2.0), [1.0, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(
        grid_distance(np.array([0.0, 4.0, 9.0, 11.0]), 10.0), [0, 4, 1, 1]
    )


def test_unknown_class() -> None:
    with pytest.raises(ValueError, match='unknown class'):
        class_abundances('Highway', np.random.default_rng(0), 8, 10.0)
