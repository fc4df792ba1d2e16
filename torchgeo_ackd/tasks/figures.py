"""Figures logged by the ACKD task: confusion matrices."""

from matplotlib.figure import Figure
from torch import Tensor


def confusion_figure(matrix: Tensor, class_names: list[str]) -> Figure:
    """A confusion-matrix heat map with counts.

    Args:
        matrix: Counts, (K, K), rows true class, columns predicted class.
        class_names: K class names.

    Returns:
        The figure.
    """
    k = len(class_names)
    fig = Figure(figsize=(0.6 * k + 2, 0.6 * k + 1.5))
    ax = fig.subplots()
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


__all__ = ('confusion_figure',)
