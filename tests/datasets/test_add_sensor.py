"""Runs the worked example of docs/add-a-sensor.md on fake data."""

import re
from pathlib import Path

import numpy as np
import torch
from ackd_fake_data import make_benchmark

DOC = Path(__file__).parents[2] / 'docs' / 'add-a-sensor.md'


def test_add_a_sensor_example(tmp_path: Path) -> None:
    code = re.findall(r'```python\n(.*?)```', DOC.read_text(), flags=re.S)[0]
    namespace: dict = {}
    exec(compile(code, str(DOC), 'exec'), namespace)
    make_benchmark(
        tmp_path,
        ['cropland', 'forest', 'urban'],
        ms_bands=5,
        rgb_size=256,
        n_ms=5,
        n_rgb=5,
    )
    dm = namespace['PlanetToAerialDataModule'](tmp_path, batch_size=4)
    dm.setup('fit')
    batch = dm.preprocess(next(iter(dm.train_dataloader())), train=True)
    assert batch['image'].shape == (4, 3, 128, 128)
    assert batch['image_ms'].shape == (4, 5, 8, 8)
    # Pseudo-RGB of the new sensor takes red, green, blue by name.
    ds = namespace['PlanetToAerial'](tmp_path, split='all')
    assert ds.sensor.rgb_indices == [2, 1, 0]
    assert np.isfinite(ds[0]['image'].numpy()).all() and torch.is_tensor(ds[0]['label'])
