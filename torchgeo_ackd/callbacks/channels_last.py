"""Channels-last memory format for the convolutional networks of a stage."""

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class ChannelsLast(Callback):
    """Keep every 4-D parameter and buffer of the task in channels-last order.

    cuDNN's (and oneDNN's) fastest convolution kernels, tensor-core ones under
    bf16 in particular, work on NHWC tensors; a convolution whose weight is
    channels-last runs in that layout and hands it on, so converting the
    weights once is enough (batches stay NCHW and are converted by the first
    convolution). The values are unchanged: checkpoints, the teacher cache and
    matching give the same numbers up to floating-point rounding.

    In a config::

        trainer:
          callbacks:
            - class_path: torchgeo_ackd.callbacks.ChannelsLast
    """

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Convert the task's convolutional weights before the first step.

        Args:
            trainer: The trainer.
            pl_module: The task (student, frozen teacher, matcher encoders).
        """
        pl_module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
