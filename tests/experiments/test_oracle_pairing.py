"""experiments/oracle_pairing.py: the replayed mixture of each scene is the drawn one."""

from pathlib import Path

import numpy as np
import oracle_pairing as oracle
import pytest

from torchgeo_ackd.datasets import SyntheticACKD
from torchgeo_ackd.synthetic import generate_synthetic_benchmark, mixtures, scenes
from torchgeo_ackd.synthetic.layouts import SYNTHETIC_CLASSES, class_abundances

PARAMS = {'seed': 0, 'ms_size': 16, 'rgb_size': 16}


def _marked(
    class_name: str, rng: np.random.Generator, size: int, pixel_m: float
) -> np.ndarray:
    """The real layout's draws, but every pixel marked with the class index."""
    real = class_abundances(class_name, rng, size, pixel_m)
    return np.full(real.shape, float(SYNTHETIC_CLASSES.index(class_name)))


@pytest.mark.parametrize('modality', ['ms', 'rgb'])
def test_replayed_mixture_is_the_rendered_one(
    modality: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Render scenes whose layouts are class markers, independently of the replay."""
    rendered: list[np.ndarray] = []
    real_scene = mixtures.scene_abundances

    def record(*args: object) -> np.ndarray:
        rendered.append(real_scene(*args)[0])  # type: ignore[arg-type]
        raise StopIteration  # the rest of the rendering is not needed

    folder = tmp_path / 'MS' if modality == 'ms' else tmp_path / 'RGB'
    for class_name in ('AnnualCrop', 'River', 'Wetland'):
        for index in range(3):
            path = folder / class_name / f'{class_name}_{index:04d}.tif'
            dominant_name, second, share = oracle.scene_mixture(modality, path, PARAMS)
            with monkeypatch.context() as patch:
                patch.setattr(mixtures, 'class_abundances', _marked)
                patch.setattr(scenes, 'scene_abundances', record)
                with pytest.raises(StopIteration):
                    if modality == 'ms':
                        scenes.synthetic_ms_image(class_name, index, seed=0, size=16)
                    else:
                        scenes.synthetic_rgb_image(
                            class_name,
                            index,
                            seed=0,
                            size=16,
                            mixed=True,
                        )
            marks = rendered[-1][..., 0]
            dominant = float(SYNTHETIC_CLASSES.index(dominant_name))
            assert set(np.unique(marks)) == {dominant, SYNTHETIC_CLASSES.index(second)}
            # The dominant region is the top `share` quantile of a smooth field.
            assert abs(float((marks == dominant).mean()) - share) <= 1 / 16
            assert mixtures.DOMINANT_SHARE[0] <= share <= mixtures.DOMINANT_SHARE[1]


def test_annotated_oracle_pairs_hold_the_mixture(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(
        tmp_path / 'bench', ms_per_class=10, rgb_per_class=2, ms_size=16, rgb_size=16,
        mixed=True,
    )  # fmt: skip
    params = PARAMS
    student = SyntheticACKD(root, modality='rgb', split='all')
    teacher = SyntheticACKD(root, modality='ms', split='all')
    pairing = oracle.oracle_pairing(student, teacher, params)
    mixtures_of = {f: oracle.scene_mixture('ms', f, params)[:2] for f in teacher.files}
    # Students for which some teacher of their label holds their mixture.
    can = 0
    for s, f in enumerate(student.files):
        wanted = oracle.scene_mixture('rgb', f, params)[:2]
        can += any(
            mixtures_of[t] == wanted
            for t, label in zip(teacher.files, teacher.targets.tolist(), strict=True)
            if label == int(student.targets[s])
        )
    dominant, mixture = oracle.mixture_agreement(pairing, root, params)
    assert mixture == can / len(student)
    assert 0 < mixture <= dominant <= 1
    # Labels name the minor cover for some scenes (10 x 12 scenes).
    minor = sum(
        oracle.scene_mixture('rgb', f, params).dominant != f.parent.name
        for f in student.files
    )
    assert 0 < minor < len(student)


def test_helpers_of_scripts_beside_a_pipeline_run(tmp_path: Path) -> None:
    """Parser, mixed check, run configs and baseline links of the student scripts."""
    import yaml

    args = oracle.mixed_run_parser('x').parse_args(['data', 'out', '--seeds', '1,2'])
    assert (args.root, args.out, args.seeds) == (Path('data'), Path('out'), '1,2')

    pure = generate_synthetic_benchmark(
        tmp_path / 'pure',
        ms_per_class=1,
        rgb_per_class=1,
        ms_size=8,
        rgb_size=8,
        mixed=False,
    )
    with pytest.raises(SystemExit, match='is not a mixed benchmark'):
        oracle.mixed_parameters(pure)

    out = tmp_path / 'out'
    data = {
        'root': 'r',
        'val_fraction': 0.2,
        'test_fraction': 0.2,
        'seed': 3,
        'batch_size': 8,
    }
    for seed in (0, 1):
        run = out / 'students' / f'baseline_seed{seed}'
        run.mkdir(parents=True)
        (run / 'config.yaml').write_text(yaml.safe_dump({'data': {'init_args': data}}))
    config = oracle.run_config(out, 'baseline', 1)
    config['data']['init_args']['seed'] = 99  # a copy: the file is untouched
    assert oracle.run_config(out, 'baseline', 1)['data']['init_args']['seed'] == 3
    split = oracle.run_split(oracle.run_config(out, 'baseline', 0))
    assert split == {'val_fraction': 0.2, 'test_fraction': 0.2, 'seed': 3}

    linked = out / 'students-t2'
    oracle.link_baselines(out, linked, [0, 1])
    oracle.link_baselines(out, linked, [0, 1])  # again: existing links are kept
    for seed in (0, 1):
        link = linked / f'baseline_seed{seed}'
        assert link.is_symlink()
        assert link.resolve() == (out / 'students' / f'baseline_seed{seed}').resolve()
