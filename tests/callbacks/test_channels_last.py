"""ChannelsLast: NHWC weights with the same values and the same outputs."""

from pathlib import Path

import torch
from conftest import fit_student

from torchgeo_ackd.callbacks import ChannelsLast
from torchgeo_ackd.tasks import ACKDTask


def _fit(
    bench: dict[str, Path], tmp_path: Path, channels_last: bool, steps: int
) -> ACKDTask:
    return fit_student(  # type: ignore[no-any-return]
        bench, tmp_path, steps, [ChannelsLast()] if channels_last else []
    )


def test_weights_become_channels_last_with_the_same_values(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    plain = _fit(bench, tmp_path / 'plain', channels_last=False, steps=0)
    nhwc = _fit(bench, tmp_path / 'nhwc', channels_last=True, steps=0)
    for module in (nhwc.student, nhwc.teacher.model):
        assert module.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.student.conv1.weight.is_contiguous(
        memory_format=torch.channels_last
    )
    for a, b in zip(
        plain.state_dict().values(), nhwc.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)  # the same values, another layout
    x = torch.randn(2, 3, 24, 24)
    plain.eval()
    nhwc.eval()
    torch.testing.assert_close(nhwc.student(x), plain.student(x), rtol=1e-5, atol=1e-5)


def test_trains_in_channels_last(bench: dict[str, Path], tmp_path: Path) -> None:
    task = _fit(bench, tmp_path, channels_last=True, steps=2)
    weight = task.student.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert bool(torch.isfinite(weight).all())
