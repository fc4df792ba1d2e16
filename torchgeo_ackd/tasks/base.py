"""TorchGeo's ``BaseTask``, wherever the installed TorchGeo keeps it.

TorchGeo 0.10 renamed ``torchgeo.trainers`` to ``torchgeo.tasks`` (keeping a
deprecated alias); TorchGeo 0.8 only has ``torchgeo.trainers``.
"""

try:  # TorchGeo >= 0.10
    from torchgeo.tasks import BaseTask
except ImportError:  # TorchGeo 0.8
    from torchgeo.trainers import BaseTask


def check_fits(
    data: str, count: int, what: str, task: str, option: str, expected: int
) -> None:
    """Refuse data whose band or class count a network was not built for.

    Called before the first step, so a mismatch is one line naming both
    sides and the option to change instead of a shape error inside the
    network.

    Args:
        data: What gives the count, e.g. ``'S2SEUDataModule'``.
        count: The data's count.
        what: What is counted, with details, e.g. ``'MS bands (B02, B03)'``.
        task: The task, e.g. ``'TeacherTask'``.
        option: The task's option (``model.init_args.`` is added).
        expected: The option's value.

    Raises:
        ValueError: If the counts differ.
    """
    if count != expected:
        raise ValueError(
            f'{data} gives {count} {what}, but {task} takes {option}={expected}: '
            f'set --model.init_args.{option}={count}'
        )


__all__ = ('BaseTask', 'check_fits')
