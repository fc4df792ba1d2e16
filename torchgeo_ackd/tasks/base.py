"""TorchGeo's ``BaseTask`` (from ``torchgeo.tasks`` or ``torchgeo.trainers``)."""

from typing import Literal

from ..datamodules import ACKDDataModule

try:  # TorchGeo >= 0.10
    from torchgeo.tasks import BaseTask
except ImportError:  # TorchGeo 0.8
    from torchgeo.trainers import BaseTask


def check_fits(
    dm: ACKDDataModule,
    counted: Literal['bands', 'classes'],
    task: str,
    option: str,
    expected: int,
) -> None:
    """Refuse a datamodule whose MS band or class count a network was not built for.

    Called before the first step: a clear error naming the option to change
    instead of a shape error inside the network.

    Args:
        dm: The datamodule, e.g. an ``S2SEUDataModule``.
        counted: What is counted: its MS bands or its classes.
        task: The task, e.g. ``'TeacherTask'``.
        option: The task's option (``model.init_args.`` is added).
        expected: The option's value.

    Raises:
        ValueError: If the counts differ.
    """
    if counted == 'bands':
        count, what = len(dm.ms_bands), f'MS bands {list(dm.ms_bands)}'
    else:
        count, what = len(dm.dataset_class.classes), 'classes'
    if count != expected:
        raise ValueError(
            f'{type(dm).__name__} gives {count} {what}, but {task} takes '
            f'{option}={expected}: set --model.init_args.{option}={count}'
        )


__all__ = ('BaseTask', 'check_fits')
