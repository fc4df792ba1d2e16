"""Runs docs/add-a-sensor.md as written: its module, then its commands, on fake data."""

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from ackd_fake_data import make_benchmark

REPO = Path(__file__).parents[2]
DOC = REPO / 'docs' / 'add-a-sensor.md'
CLASSES = ['cropland', 'forest', 'urban']

# The harness of the documented commands (how a command of the docs is run).
_spec = importlib.util.spec_from_file_location(
    'documented_commands', REPO / 'tests' / 'test_documented_commands.py'
)
assert _spec is not None and _spec.loader is not None
documented = importlib.util.module_from_spec(_spec)
sys.modules['documented_commands'] = documented
_spec.loader.exec_module(documented)


def _module_code() -> str:
    (code,) = re.findall(r'```python\n(.*?)```', DOC.read_text(), flags=re.S)
    return code


def test_add_a_sensor_example(tmp_path: Path) -> None:
    namespace: dict = {}
    exec(compile(_module_code(), str(DOC), 'exec'), namespace)
    make_benchmark(tmp_path, CLASSES, ms_bands=5, rgb_size=256, n_ms=5, n_rgb=5)
    dm = namespace['PlanetToAerialDataModule'](tmp_path, batch_size=4)
    dm.setup('fit')
    batch = dm.preprocess(next(iter(dm.train_dataloader())), train=True)
    assert batch['image'].shape == (4, 3, 128, 128)
    assert batch['image_ms'].shape == (4, 5, 8, 8)
    ms = namespace['PlanetToAerialMSDataModule'](
        tmp_path, batch_size=4, pseudo_rgb=True
    )
    ms.setup('fit')
    batch = ms.preprocess(next(iter(ms.train_dataloader())), train=True)
    assert batch['image'].shape == (4, 5, 8, 8)
    assert batch['image_pseudo_rgb'].shape == (4, 3, 8, 8)
    # Pseudo-RGB of the new sensor takes red, green, blue by name.
    ds = namespace['PlanetToAerial'](tmp_path, split='all')
    assert ds.sensor.rgb_indices == [2, 1, 0]
    assert np.isfinite(ds[0]['image'].numpy()).all() and torch.is_tensor(ds[0]['label'])


def test_add_a_sensor_three_stages(tmp_path: Path) -> None:
    """The page's commands, in its order, with short-run overrides appended."""
    commands, problems = documented.markdown_commands(DOC)
    assert not problems
    plans = []
    for command in commands:
        assert command.marker is None, f'{command.text}: the page runs every command'
        plan = documented.plan(command.text)
        assert isinstance(plan, documented.Plan), f'{command.text}: {plan}'
        plans.append((command, plan))
    # All three stages, in order, each with the page's DataModule of its kind.
    fits = [p.config for _, p in plans if p.subcommand == 'fit']
    assert fits == list(documented.CHAIN)
    for command, plan in plans:
        if plan.kind == 'cli':
            ms = plan.config != 'conf/ackd.yaml'
            data = f'my_sensor.PlanetToAerial{"MS" if ms else ""}DataModule'
            assert f'--data={data}' in plan.args, command
            assert '--data.init_args.root=data/planet' in plan.args, command

    # What the page tells the user to have: the configs, my_sensor.py, the data.
    shutil.copytree(REPO / 'conf', tmp_path / 'conf')
    (tmp_path / 'my_sensor.py').write_text(_module_code())
    make_benchmark(
        tmp_path / 'data' / 'planet',
        CLASSES,
        ms_bands=5,
        ms_size=16,
        rgb_size=256,
        n_ms=8,
        n_rgb=8,
    )
    for command, plan in plans:
        try:
            # Also checks that a stage's fit wrote its outputs.
            documented.execute(plan, tmp_path)
        except BaseException as error:
            raise AssertionError(
                f'docs/add-a-sensor.md: {command.text}\nfailed: {error!r}'
            ) from error
    for output in (
        'output/teacher/teacher.ckpt',
        'output/matcher/matcher.ckpt',
        'output/matcher/pairing.pt',
        'output/ackd/best.ckpt',
    ):
        assert (tmp_path / output).exists(), output
    assert 'my_sensor' not in sys.modules
