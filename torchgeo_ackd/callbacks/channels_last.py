"""Channels-last memory format for the convolutional networks of a stage."""

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class ChannelsLast(Callback):
    """Keep every 4-D parameter and buffer of the task in channels-last order.

    cuDNN's fastest (tensor-core) convolutions work on NHWC; converting the weights
    once is enough, as each convolution hands the layout on. Values are unchanged
    up to floating-point rounding. In a config, an entry of ``trainer.callbacks``:
    ``{class_path: torchgeo_ackd.callbacks.ChannelsLast}``.
    """

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Convert the task's convolutional weights before the first step.

        Args:
            trainer: The trainer.
            pl_module: The task (student, frozen teacher, matcher encoders).
        """
        pl_module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
