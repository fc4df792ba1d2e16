"""The pipeline's results figures."""

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from torchgeo_ackd.pipeline.methods import LABELS
from torchgeo_ackd.pipeline.results import accuracy_figure


@pytest.mark.parametrize('methods', [1, 2, 3, 9])
def test_accuracy_figure_title_is_not_clipped(methods: int) -> None:
    rows: list[dict[str, object]] = [
        {
            'label': label,
            'oa_mean': 50.0 + i,
            'oa_high': 53.0 + i,
            'f1_mean': 45.0,
            'f1_high': float('nan'),
        }
        for i, label in enumerate(list(LABELS.values())[:methods])
    ]
    fig = accuracy_figure(rows)
    canvas = FigureCanvasAgg(fig)  # the figure is pyplot-free: draw it with Agg
    canvas.draw()
    title = fig.axes[0].title.get_window_extent(canvas.get_renderer())
    width, height = canvas.get_width_height()
    assert 0 <= title.x0 and title.x1 <= width and title.y1 <= height
    assert len(fig.axes[0].patches) == 2 * methods
