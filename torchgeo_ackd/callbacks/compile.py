"""``torch.compile`` for the convolutional networks of a stage."""

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn


def convolutional_children(module: nn.Module) -> dict[str, nn.Module]:
    """The direct children of a task that are convolutional networks.

    The networks a step spends its time in (student, teacher, matcher encoders,
    TorchGeo's ``model``), not metrics, losses or the small SKA planner.

    Args:
        module: The task.

    Returns:
        The children that hold a 2-D convolution, by attribute name.
    """
    return {
        name: child
        for name, child in module.named_children()
        if any(isinstance(m, nn.Conv2d) for m in child.modules())
    }


class CompileModels(Callback):
    """Compile the task's convolutional networks with ``torch.compile``.

    Each network is compiled in place (``nn.Module.compile``), so its parameters,
    state-dict keys and checkpoints stay what they are; only its forward runs through
    the compiler. Compiling happens on the first step (and again for a new batch shape,
    e.g. the last smaller batch) and pays only over a long run. Off by default: it has
    not been measured on a GPU yet; measure on your device first
    (``benchmarks/bench_scale.py --compile``). In a config, an entry of
    ``trainer.callbacks``: ``{class_path: torchgeo_ackd.callbacks.CompileModels}``.
    """

    def __init__(
        self,
        mode: str | None = None,
        backend: str = 'inductor',
        dynamic: bool | None = None,
    ) -> None:
        """Initialize a new CompileModels instance.

        Args:
            mode: ``torch.compile`` mode (None: its default).
            backend: ``torch.compile`` backend (``'inductor'``; ``'eager'``
                only traces, for checking that a model compiles).
            dynamic: ``torch.compile``'s dynamic-shape setting (None: its
                default, recompiling once for a last smaller batch).
        """
        self.options: dict[str, Any] = dict(mode=mode, backend=backend, dynamic=dynamic)
        #: Names of the networks compiled by the last ``fit``.
        self.compiled: list[str] = []

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Compile the task's convolutional networks before the first step.

        Args:
            trainer: The trainer.
            pl_module: The task.
        """
        self.compiled = []
        for name, child in convolutional_children(pl_module).items():
            child.compile(**self.options)
            self.compiled.append(name)
