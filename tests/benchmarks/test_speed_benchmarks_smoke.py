"""Every speed benchmark runs on the current API, with tiny arguments.

Each script's ``main(argv)`` runs in this process (the scripts import one
another by name: tests/conftest.py puts benchmarks/ on ``sys.path``) and the
numbers it prints are parsed: finite, and positive where they are times or
rates. ``gpu_check.py`` runs with ``--device cpu`` (the CPU in place of CUDA,
every difference 0); its CUDA run is skipped where no GPU is present.

``bench_scale.py`` has its own test: tests/scripts/test_bench_scale.py.
"""

import importlib
import math
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from torchgeo_ackd.synthetic import generate_synthetic_benchmark

NUMBER = r' *([-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|nan|inf))'


def numbers(pattern: str, text: str) -> list[float]:
    """The numbers of the one line of *text* that matches *pattern* (NUMBER: {n})."""
    regex = re.compile(pattern.format(n=NUMBER))
    lines = [line for line in text.splitlines() if regex.search(line)]
    assert len(lines) == 1, f'{pattern!r}: {len(lines)} lines in\n{text}'
    match = regex.search(lines[0])
    assert match is not None
    values = [float(v) for v in match.groups()]
    assert all(math.isfinite(v) for v in values), lines[0]
    return values


def positive(pattern: str, text: str) -> list[float]:
    """:func:`numbers`, each > 0 (times, rates)."""
    values = numbers(pattern, text)
    assert all(v > 0 for v in values), (pattern, values)
    return values


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Threads, temporary folders, cache and working folder as they were.

    The scripts set torch's thread count and the preflight cache's folder, and
    write into temporary folders: all of it goes under ``tmp_path``.
    """
    threads = torch.get_num_threads()
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    monkeypatch.setenv('TORCHGEO_ACKD_CACHE', str(tmp_path / 'cache'))
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    torch.set_num_threads(threads)
    # Nothing is written into the folder a benchmark runs in.
    assert list(cwd.iterdir()) == []


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic benchmark of 2 MS and 2 RGB images per class (10 classes)."""
    return generate_synthetic_benchmark(
        tmp_path_factory.mktemp('bench') / 'synthetic',
        ms_per_class=2,
        rgb_per_class=2,
    )


def run(script: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run a benchmark's ``main(argv)`` and return what it printed."""
    capsys.readouterr()
    importlib.import_module(script).main(argv)
    return capsys.readouterr().out


def test_bench_ackd(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(
        'bench_ackd',
        [
            '--batch-size=4',
            '--steps=1',
            '--threads=1',
            '--model=resnet10t',
            '--gallery=8',
            '--per-class=2',
        ],
        capsys,
    )
    student = positive(r'\(1\) student alone\s*: {n} s/step', out)[0]
    kd = positive(r'\(2\) vanilla KD, teacher every step\s*: {n} s/step', out)[0]
    sem = positive(r'\(3\) vanilla KD \+ SemBridge, cached\s*: {n} s/step', out)[0]
    ratio_kd, ratio_student = positive(
        r'\(3\) / \(2\) = {n} .*\(3\) / \(1\) = {n}', out
    )
    assert ratio_kd == pytest.approx(sem / kd, rel=0.05, abs=2e-3)
    assert ratio_student == pytest.approx(sem / student, rel=0.05, abs=2e-3)
    # One epoch of the generated benchmark, without and with a DynM re-matching.
    for label in ('without re-matching', 'with a DynM re-matching'):
        students, seconds = positive(
            rf'one epoch \({{n}} students\), {label}\s*: {{n}} s', out
        )
        assert students == 20 and seconds > 0


def test_bench_ska(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(
        'bench_ska',
        [
            '--batch-size=4',
            '--image-size=32',
            '--channels=64',
            '--repeats=1',
            '--threads=1',
        ],
        capsys,
    )
    planner = positive(r'Planner \+ CORAL fwd\+bwd \(B=4, .*\): {n} ms', out)[0]
    student = positive(r'ResNet-34 student fwd\+bwd \(B=4, .*\): {n} ms', out)[0]
    ratio = positive(r'ratio alignment / student step: {n} %', out)[0]
    assert ratio == pytest.approx(100 * planner / student, rel=0.05, abs=0.1)


def test_bench_matching(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(
        'bench_matching',
        [
            '--students=200',
            '--gallery=220',
            '--rematch-students=20',
            '--rematch-gallery=20',
            '--naive-subset=4',
            '--batch-size=8',
            '--image-size=32',
            '--threads=1',
            '--repeats=1',
        ],
        capsys,
    )
    # (a) each search in its own process: seconds and peak memory.
    for label in ('cosine 256-d', 'KL 10-class'):
        seconds, peak, before = numbers(
            rf'{label}: +{{n}} s, peak RSS +{{n}} GiB .*; {{n}} GiB before', out
        )
        assert seconds >= 0 and peak > 0 and before > 0
    # (b) the batched re-matching against the naive loop.
    fast, search = numbers(
        r'batched forward \+ match_kl: +{n} s \(match_kl alone {n} s\)', out
    )
    assert fast > 0 and 0 <= search <= fast
    naive, subset, subset_s = positive(
        r'naive loop: +{n} s \(extrapolated from {n} students in {n} s\)', out
    )
    assert subset == 4 and naive == pytest.approx(subset_s * 20 / 4, rel=0.1, abs=2e-3)
    speed_up = positive(r'speed-up: +{n}x', out)[0]
    assert speed_up == pytest.approx(naive / fast, rel=0.1, abs=0.1)
    agree, of = numbers(r'same pairing on the naive subset: {n}/{n}', out)
    assert of == 4 and 0 <= agree <= 4


def test_bench_datasets(tiny_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(
        'bench_datasets',
        [f'--root={tiny_root}', '--repeats=1', '--batch-size=4'],
        capsys,
    )
    assert f'benchmark root: {tiny_root} (20 MS files, (13, 32, 32))' in out
    raw = positive(r'raw rasterio read\s*: {n} samples/s', out)[0]
    dataset, ratio = positive(
        r'dataset \(\+normalisation\)\s*: {n} samples/s\s+\({n}x raw', out
    )
    assert ratio == pytest.approx(dataset / raw, rel=0.05, abs=0.01)
    for name, shape in (('MS', r'\(4, 13, 32, 32\)'), ('RGB', r'\(4, 3, 64, 64\)')):
        positive(
            rf'kornia {name} train augmentation, batch {shape}: +{{n}} ms/batch '
            rf'\( *{{n}} samples/s\)',
            out,
        )


def test_bench_preflight(tiny_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run('bench_preflight', [f'--root={tiny_root}'], capsys)
    for label in ('cold', 'warm'):
        images, seconds = numbers(
            rf'{re.escape(str(tiny_root))}: {{n}} images, preflight {label}: {{n}} s',
            out,
        )
        # 2 MS and 2 RGB images of each of 10 classes.
        assert images == 40 and seconds >= 0


@pytest.mark.parametrize(
    'device',
    [
        'cpu',
        pytest.param(
            'cuda',
            marks=pytest.mark.skipif(
                not torch.cuda.is_available(),
                reason='no CUDA device: gpu_check.py runs with --device cpu only',
            ),
        ),
    ],
)
def test_gpu_check(device: str, capsys: pytest.CaptureFixture[str]) -> None:
    students = 500
    out = run(
        'gpu_check',
        [f'--device={device}', f'--students={students}', '--embeddings=20'],
        capsys,
    )
    other = device.upper()
    tolerance = 0.0 if device == 'cpu' else 1e-3
    for name in ('cosine', 'kl'):
        same, n, diff = numbers(
            rf'search +{name}: {{n}}/{{n}} identical pairings CPU vs {other}, '
            rf'max \|score diff\| {{n}}',
            out,
        )
        # Only near-ties may differ between devices.
        assert n == students and same >= (students if device == 'cpu' else 0.99 * n)
        assert diff <= tolerance
    for name in ('L_ot1', 'L_ot2'):
        cpu, other_value = numbers(rf'planner {name}: CPU {{n}} {other} {{n}}', out)
        assert other_value == pytest.approx(cpu, rel=1e-4, abs=1e-6)
    grad = numbers(rf'planner grad max \|CPU - {other}\|: {{n}}', out)[0]
    assert 0 <= grad <= tolerance
    assert 'planner under bf16 autocast finite: True' in out
    losses = re.findall(rf'kd +(\w+): CPU {NUMBER} {other} {NUMBER}', out)
    assert {'kd', 'dkd', 'none'} <= {name for name, _, _ in losses}
    for _, cpu_loss, other_loss in losses:
        assert math.isfinite(float(cpu_loss))
        assert float(other_loss) == pytest.approx(float(cpu_loss), rel=1e-4, abs=1e-6)
    shape = numbers(rf'compute_embeddings on {other}: \({{n}}, {{n}}\)', out)
    assert shape == [20, 10]
    assert 0 <= numbers(r'self-KL of the embeddings .*: {n}', out)[0] < 1e-4
