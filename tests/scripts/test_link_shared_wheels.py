"""Tests of scripts/link_shared_wheels.py (disk sharing between the test lanes)."""

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / 'scripts' / 'link_shared_wheels.py'


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location('link_shared_wheels', SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_dist(site: Path, name: str, tag: str, files: dict[str, bytes]) -> None:
    """A minimal installed distribution: its files, WHEEL and RECORD."""
    dist_info = site / f'{name}-1.0.dist-info'
    dist_info.mkdir(parents=True)
    (dist_info / 'WHEEL').write_text(f'Wheel-Version: 1.0\nTag: {tag}\n')
    (dist_info / 'METADATA').write_text(f'Name: {name}\nVersion: 1.0\n')
    records = []
    for rel, data in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
        records.append(f'{rel},sha256=x,{len(data)}')
    records += [f'{dist_info.name}/{f},,' for f in ('WHEEL', 'METADATA', 'RECORD')]
    records.append('../../../bin/some-script,,')  # outside site-packages: skipped
    (dist_info / 'RECORD').write_text('\n'.join(records) + '\n')


def test_links_only_python_independent_nvidia_wheels(tmp_path: Path) -> None:
    source, target = tmp_path / 'src', tmp_path / 'dst'
    target.mkdir()
    lib = 'nvidia/cublas/lib/libcublas.so.13'
    _fake_dist(
        source, 'nvidia_cublas', 'py3-none-manylinux_2_27_x86_64', {lib: b'\x7fELF'}
    )
    _fake_dist(
        source, 'nvidia_cpython_only', 'cp311-cp311-linux_x86_64', {'nv/x.so': b'1'}
    )
    _fake_dist(source, 'numpy', 'py3-none-any', {'numpy/__init__.py': b''})

    assert _load().link_shared_wheels(source, target) == 1

    assert (target / lib).samefile(source / lib)  # a hard link, not a copy
    assert (target / 'nvidia_cublas-1.0.dist-info' / 'RECORD').is_file()
    assert not (target / 'nv').exists()  # cp311-specific: pip must install it
    assert not (target / 'numpy').exists()  # not an NVIDIA wheel
    assert not (tmp_path / 'bin').exists()


def test_an_installed_distribution_is_left_alone(tmp_path: Path) -> None:
    source, target = tmp_path / 'src', tmp_path / 'dst'
    lib = 'nvidia/nccl/lib/libnccl.so.2'
    _fake_dist(source, 'nvidia_nccl', 'py3-none-manylinux_2_18_x86_64', {lib: b'new'})
    _fake_dist(target, 'nvidia_nccl', 'py3-none-manylinux_2_18_x86_64', {lib: b'old'})

    assert _load().link_shared_wheels(source, target) == 0
    assert (target / lib).read_bytes() == b'old'


def test_command_line_with_a_missing_source(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / 'absent'), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert 'does not exist; nothing shared' in result.stdout
