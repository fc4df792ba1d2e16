"""Mixed scenes: the dominant class covers its share; pure scenes are the control."""

from pathlib import Path

import numpy as np
import pytest

from torchgeo_ackd.synthetic import (
    SYNTHETIC_CLASSES,
    benchmark_parameters,
    generate_synthetic_benchmark,
    synthetic_ms_image,
    synthetic_rgb_image,
)
from torchgeo_ackd.synthetic.layouts import class_abundances
from torchgeo_ackd.synthetic.mixtures import (
    DOMINANT_SHARE,
    Mixture,
    _annotated_mixture,
    scene_abundances,
)


@pytest.mark.parametrize('name', SYNTHETIC_CLASSES)
def test_pure_scene_is_the_class_layout(name: str) -> None:
    pure, mixture = scene_abundances(
        name, np.random.default_rng(7), 24, 10.0, mixed=False
    )
    expected = class_abundances(name, np.random.default_rng(7), 24, 10.0)
    np.testing.assert_array_equal(pure, expected)
    assert mixture == Mixture(name, None, 1.0)


def test_mixed_changes_the_image_and_pure_is_unchanged() -> None:
    pure = synthetic_rgb_image('Forest', 3, seed=1, size=24, mixed=False)
    assert np.array_equal(
        pure, synthetic_rgb_image('Forest', 3, seed=1, size=24, mixed=False)
    )
    mixed = synthetic_rgb_image('Forest', 3, seed=1, size=24, mixed=True)
    assert mixed.shape == pure.shape and not np.array_equal(mixed, pure)


def test_the_default_scene_is_mixed() -> None:
    for render, size in ((synthetic_ms_image, 16), (synthetic_rgb_image, 24)):
        default = render('Wetland', 2, seed=1, size=size)
        np.testing.assert_array_equal(
            default, render('Wetland', 2, seed=1, size=size, mixed=True)
        )
        assert not np.array_equal(
            default, render('Wetland', 2, seed=1, size=size, mixed=False)
        )


def test_a_version_1_benchmark_is_the_pure_one(tmp_path: Path) -> None:
    import json

    tiny = {'ms_per_class': 2, 'rgb_per_class': 2, 'ms_size': 8, 'rgb_size': 8}
    root = generate_synthetic_benchmark(tmp_path / 'b', mixed=False, **tiny)
    meta = json.loads((root / 'synthetic.json').read_text())
    written = dict(meta['parameters'])
    # What version 1 wrote for the same (pure) benchmark.
    meta['version'] = 1
    del meta['parameters']['mixed']
    (root / 'synthetic.json').write_text(json.dumps(meta))
    assert generate_synthetic_benchmark(root, mixed=False, **tiny) == root  # reused
    # Read back as the pure benchmark it is, not with today's defaults.
    del written['label_rule']
    assert benchmark_parameters(root) == written
    assert written['mixed'] is False
    with pytest.raises(FileExistsError, match='other parameters'):
        generate_synthetic_benchmark(root, **tiny)
    # Another version's benchmark is not reused, whatever its parameters.
    meta['version'] = 99
    (root / 'synthetic.json').write_text(json.dumps(meta))
    with pytest.raises(FileExistsError, match=r'version 99'):
        generate_synthetic_benchmark(root, mixed=False, **tiny)


def _marked(
    class_name: str, rng: np.random.Generator, size: int, pixel_m: float
) -> np.ndarray:
    """The real layout's draws, every pixel marked with the class index."""
    real = class_abundances(class_name, rng, size, pixel_m)
    return np.full(real.shape, float(SYNTHETIC_CLASSES.index(class_name)))


@pytest.mark.parametrize('seed', range(6))
def test_annotated_scene_holds_its_label_and_reports_its_mixture(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchgeo_ackd.synthetic import mixtures

    monkeypatch.setattr(mixtures, 'class_abundances', _marked)
    label, size = SYNTHETIC_CLASSES[seed % len(SYNTHETIC_CLASSES)], 40
    marks, mixture = scene_abundances(
        label, np.random.default_rng(seed), size, 10.0, True
    )
    marks = marks[..., 0]
    assert label in (mixture.dominant, mixture.second)
    assert mixture.dominant != mixture.second
    index = {SYNTHETIC_CLASSES.index(c) for c in mixture[:2]}
    assert set(np.unique(marks).astype(int)) == index
    dominant = SYNTHETIC_CLASSES.index(mixture.dominant)
    assert abs(float((marks == dominant).mean()) - mixture.share) <= 1 / size
    assert DOMINANT_SHARE[0] <= mixture.share <= DOMINANT_SHARE[1]


def test_annotated_labels_follow_the_area() -> None:
    """Drawn given its label, a scene is dominated by it with probability E[s].

    With ``s`` uniform on [a, b] and the label the dominant cover with
    probability ``s``: P(dominant = label | label) = E[s] = (a + b) / 2, and
    given that, ``s`` has density proportional to ``s``, so its mean is
    E[s^2] / E[s] = (a^2 + ab + b^2) / (3 E[s]) (and for the minor case,
    E[s (1 - s)] / E[1 - s]).
    """
    a, b = DOMINANT_SHARE
    mean_s = (a + b) / 2
    mean_s2 = (a * a + a * b + b * b) / 3
    rng = np.random.default_rng(0)
    n = 20_000
    drawn = [_annotated_mixture('Forest', rng) for _ in range(n)]
    dominated = [m for m in drawn if m.dominant == 'Forest']
    minor = [m for m in drawn if m.second == 'Forest']
    assert len(dominated) + len(minor) == n
    p = len(dominated) / n
    assert abs(p - mean_s) < 4 * np.sqrt(mean_s * (1 - mean_s) / n)
    share_dominated = np.mean([m.share for m in dominated])
    share_minor = np.mean([m.share for m in minor])
    assert share_dominated == pytest.approx(mean_s2 / mean_s, abs=0.004)
    assert share_minor == pytest.approx((mean_s - mean_s2) / (1 - mean_s), abs=0.004)
    # The other land cover is uniform over the nine other classes.
    counts = np.unique([m.dominant for m in minor], return_counts=True)[1]
    assert len(counts) == len(SYNTHETIC_CLASSES) - 1
    assert counts.min() > 0.8 * len(minor) / 9


def test_the_label_rule_is_recorded_and_dominant_refused(tmp_path: Path) -> None:
    """Only the annotated rule is left; the metadata records it as before."""
    import json

    tiny = {'ms_per_class': 2, 'rgb_per_class': 2, 'ms_size': 8, 'rgb_size': 8}
    root = generate_synthetic_benchmark(tmp_path / 'b', **tiny)
    meta = json.loads((root / 'synthetic.json').read_text())
    assert meta['parameters']['mixed'] is True
    assert meta['parameters']['label_rule'] == 'annotated'
    assert 'probability equal to its share' in meta['scenes']
    # Read back as generator arguments that rewrite it: no label rule.
    parameters = benchmark_parameters(root)
    assert parameters == {
        k: v for k, v in meta['parameters'].items() if k != 'label_rule'
    }
    assert generate_synthetic_benchmark(root, **tiny) == root  # reused
    # Mixed scenes labelled by their dominant cover (recorded, or written
    # before the rule was recorded): refused, naming the file.
    for rule in ('dominant', None):
        if rule is None:
            del meta['parameters']['label_rule']
        else:
            meta['parameters']['label_rule'] = rule
        (root / 'synthetic.json').write_text(json.dumps(meta))
        match = r'b/synthetic\.json: mixed scenes .*dominant'
        with pytest.raises(ValueError, match=match):
            benchmark_parameters(root)
        with pytest.raises(ValueError, match=match):
            generate_synthetic_benchmark(root, **tiny)
    # Overwriting it writes today's benchmark.
    generate_synthetic_benchmark(root, overwrite=True, **tiny)
    assert benchmark_parameters(root) == parameters
    # A pure scene's label is its one land cover, whatever rule is recorded.
    pure = generate_synthetic_benchmark(tmp_path / 'p', mixed=False, **tiny)
    meta = json.loads((pure / 'synthetic.json').read_text())
    assert meta['parameters']['label_rule'] == 'dominant'
    assert benchmark_parameters(pure) == parameters | {'mixed': False}
    # The generator takes no label rule.
    with pytest.raises(TypeError, match='label_rule'):
        generate_synthetic_benchmark(tmp_path / 'c', label_rule='dominant', **tiny)  # type: ignore[call-arg]
    assert not (tmp_path / 'c').exists()


def test_benchmark_parameters_refuses_other_folders(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='not the metadata of a synthetic benchmark'):
        benchmark_parameters(tmp_path)
    (tmp_path / 'synthetic.json').write_text('{"generator": "someone else"}')
    with pytest.raises(ValueError, match=r'synthetic\.json: not the metadata'):
        benchmark_parameters(tmp_path)
