"""benchmarks/bench_scale.py runs on the CPU and ends with its summary line."""

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / 'benchmarks' / 'bench_scale.py'


def test_bench_scale_prints_its_line(tmp_path: Path) -> None:
    (tmp_path / 'cwd').mkdir()
    process = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            '--fraction=0.002',
            f'--root={tmp_path / "scale"}',
            '--batch-size=8',
            '--steps=1',
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {'OMP_NUM_THREADS': '1'},
        cwd=tmp_path / 'cwd',
    )
    assert process.returncode == 0, process.stderr[-2000:]
    lines = process.stdout.strip().splitlines()
    match = re.fullmatch(
        r'data_wait_fraction=([0-9.]+) images_per_s=([0-9.]+)', lines[-1]
    )
    assert match, lines[-1]
    assert 0 <= float(match[1]) < 1 and float(match[2]) > 0
    # 0.2 % of the paper's 70,414 MS / 63,549 RGB images: 14 and 13 per class.
    assert any('140 MS' in line and '130 RGB' in line for line in lines)
    assert any('every split decoded: True' in line for line in lines)
    # Nothing is written into the folder it runs in (pairing files, profiles).
    assert list((tmp_path / 'cwd').iterdir()) == []
