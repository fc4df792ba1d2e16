"""experiments/pseudo_rgb_retrieval.py: the matcher it reports on is the one asked for."""

from pathlib import Path
from typing import Any

import pseudo_rgb_retrieval as retrieval
import pytest

from torchgeo_ackd.synthetic import generate_synthetic_benchmark
from torchgeo_ackd.tasks import MatcherTask


@pytest.fixture
def benchmark(tmp_path: Path) -> Path:
    return generate_synthetic_benchmark(
        tmp_path / 'synthetic',
        ms_per_class=10,
        rgb_per_class=10,
        ms_size=16,
        rgb_size=20,
    )


def _fields(line: str) -> dict[str, str]:
    return dict(item.split('=', 1) for item in line.split())


def test_reports_the_temperature_it_trained_with(
    benchmark: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built: list[MatcherTask] = []

    def recording(**kwargs: Any) -> MatcherTask:
        built.append(MatcherTask(**kwargs))
        return built[-1]

    monkeypatch.setattr(retrieval, 'MatcherTask', recording)
    retrieval.main(['--root', str(benchmark), '--epochs', '1', '--temperature', '16'])
    out = capsys.readouterr().out.splitlines()
    (x,) = [_fields(x) for x in out if x.startswith('temperature=')]
    assert len(built) == 1
    assert built[0].hparams['temperature'] == 16.0
    assert x['temperature'] == '16'
    instance = float(x['val_instance_top1'])
    same_class = float(x['val_class_top1'])
    # Retrieving its own scene is retrieving a scene of its class.
    assert 0 <= instance <= same_class <= 1
    assert 0 <= float(x['cross_modal_top1']) <= 1


def test_refuses_a_temperature_that_is_not_positive(benchmark: Path) -> None:
    with pytest.raises(ValueError, match='temperature must be a finite number > 0'):
        retrieval.main(['--root', str(benchmark), '--temperature', '0'])
