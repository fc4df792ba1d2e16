"""Mixed scenes: the dominant class covers its share; pure scenes are the control."""

from pathlib import Path

import numpy as np
import pytest

from torchgeo_ackd.synthetic import (
    SYNTHETIC_CLASSES,
    generate_synthetic_benchmark,
    synthetic_rgb_image,
)
from torchgeo_ackd.synthetic.layouts import class_abundances
from torchgeo_ackd.synthetic.mixtures import DOMINANT_SHARE, scene_abundances


@pytest.mark.parametrize('name', SYNTHETIC_CLASSES)
def test_pure_scene_is_the_class_layout(name: str) -> None:
    pure = scene_abundances(name, np.random.default_rng(7), 24, 10.0, mixed=False)
    expected = class_abundances(name, np.random.default_rng(7), 24, 10.0)
    np.testing.assert_array_equal(pure, expected)


@pytest.mark.parametrize('seed', range(8))
def test_mixed_scene_keeps_the_dominant_share(seed: int) -> None:
    name, size = SYNTHETIC_CLASSES[seed % len(SYNTHETIC_CLASSES)], 48
    mixed = scene_abundances(name, np.random.default_rng(seed), size, 10.0, True)
    # The same generator state first draws the dominant layout, then the
    # second class, the share, the second layout and the boundary field.
    rng = np.random.default_rng(seed)
    dominant = class_abundances(name, rng, size, 10.0)
    others = [c for c in SYNTHETIC_CLASSES if c != name]
    second = others[int(rng.integers(len(others)))]
    share = rng.uniform(*DOMINANT_SHARE)
    minor = class_abundances(second, rng, size, 10.0)
    from_dominant = (mixed == dominant).all(-1)
    from_minor = (mixed == minor).all(-1)
    assert (from_dominant | from_minor).all()  # every pixel is one of the two
    exclusive = from_dominant & ~from_minor
    # The boundary field's quantile gives the share up to one pixel; pixels
    # where both layouts agree count for both.
    pixel = 1 / size**2
    assert exclusive.mean() <= share + pixel and from_dominant.mean() >= share - pixel
    assert DOMINANT_SHARE[0] <= share <= DOMINANT_SHARE[1]
    assert second != name
    assert 0.0 <= mixed.min() and mixed.sum(-1).max() <= 1.0 + 1e-9


def test_mixed_changes_the_image_and_pure_is_unchanged() -> None:
    pure = synthetic_rgb_image('Forest', 3, seed=1, size=24)
    assert np.array_equal(pure, synthetic_rgb_image('Forest', 3, seed=1, size=24))
    mixed = synthetic_rgb_image('Forest', 3, seed=1, size=24, mixed=True)
    assert mixed.shape == pure.shape and not np.array_equal(mixed, pure)


def test_a_version_1_benchmark_is_the_pure_one(tmp_path: Path) -> None:
    import json

    tiny = {'ms_per_class': 2, 'rgb_per_class': 2, 'ms_size': 8, 'rgb_size': 8}
    root = generate_synthetic_benchmark(tmp_path / 'b', **tiny)
    meta = json.loads((root / 'synthetic.json').read_text())
    # What version 1 wrote for the same (pure) benchmark.
    meta['version'] = 1
    del meta['parameters']['mixed']
    (root / 'synthetic.json').write_text(json.dumps(meta))
    assert generate_synthetic_benchmark(root, **tiny) == root  # reused
    with pytest.raises(FileExistsError, match='other parameters'):
        generate_synthetic_benchmark(root, mixed=True, **tiny)
