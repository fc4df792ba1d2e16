"""Figures logged by the ACKD task: confusion matrices and matched pairs."""

import matplotlib

matplotlib.use('Agg')  # figures are written to loggers/files, never shown

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torch import Tensor

from ..datamodules import ACKDDataModule
from ..transforms import PseudoRGB


def confusion_figure(matrix: Tensor, class_names: list[str]) -> Figure:
    """A confusion-matrix heat map with counts.

    Args:
        matrix: Counts, (K, K), rows true class, columns predicted class.
        class_names: K class names.

    Returns:
        The figure.
    """
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(0.6 * k + 2, 0.6 * k + 1.5))
    counts = matrix.cpu().numpy()
    ax.imshow(counts, cmap='Blues')
    ax.set_xticks(range(k), class_names, rotation=90)
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel('predicted')
    ax.set_ylabel('true')
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                ax.text(
                    j, i, str(int(counts[i, j])), ha='center', va='center', fontsize=7
                )
    fig.tight_layout()
    return fig


def pairs_figure(dm: ACKDDataModule, num_pairs: int = 8) -> Figure:
    """Student RGB images next to the pseudo-RGB of their paired teacher images.

    Args:
        dm: A set-up datamodule in the paired mode.
        num_pairs: Number of pairs, spread evenly over the student samples.

    Returns:
        The figure: one row per pair.
    """
    assert dm.rgb_train is not None and dm.ms_train is not None
    pairing = dm.pairing
    students = np.linspace(0, len(pairing) - 1, min(num_pairs, len(pairing))).astype(
        int
    )
    pseudo = PseudoRGB(dm.ms_train.sensor, dm.ms_train.bands)
    fig, axes = plt.subplots(
        len(students), 2, figsize=(4, 2 * len(students)), squeeze=False
    )
    for row, s in enumerate(students.tolist()):
        t = int(pairing[s])
        rgb = dm.rgb_train[s]['image'] / dm.rgb_train.sensor.scale
        ms = pseudo(dm.ms_train[t]['image'][None])[0] / 255
        for ax, image, title in (
            (axes[row, 0], rgb, f'RGB #{s}'),
            (axes[row, 1], ms, f'MS #{t}'),
        ):
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_title(
                f'{title}: {dm.rgb_train.classes[int(dm.rgb_train.targets[s])]}',
                fontsize=7,
            )
            ax.axis('off')
    fig.tight_layout()
    return fig


__all__ = ('confusion_figure', 'pairs_figure')
