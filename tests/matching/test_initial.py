import torch
from torch import Tensor
from torch.utils.data import DataLoader

from torchgeo_ackd.matching import initial_pairing


def test_engine_needs_no_task_or_datamodule() -> None:
    """The engine takes embedding functions and loaders (here: identity on 2-D points)."""
    gallery = [
        torch.tensor([1.0, 0.0]),
        torch.tensor([0.0, 1.0]),
        torch.tensor([1.0, 1.0]),
    ]
    students = [torch.tensor([0.9, 0.1]), torch.tensor([0.1, 0.9])]

    def loader(points: list[Tensor], key: str) -> DataLoader:  # type: ignore[type-arg]
        rows = [{key: p, 'index': torch.tensor(i)} for i, p in enumerate(points)]
        return DataLoader(rows, batch_size=2)  # type: ignore[arg-type]

    pairing, scores = initial_pairing(
        lambda x: x,
        lambda x: x,
        loader(gallery, 'image_ms'),
        loader(students, 'image_rgb'),
        gallery_targets=torch.tensor([0, 0, 1]),
        student_targets=torch.tensor([0, 1]),
    )
    # Student 1 may only take gallery 2 (its class); student 0 the closest of 0, 1.
    assert pairing.tolist() == [0, 2]
    torch.testing.assert_close(
        scores, torch.tensor([0.9 / (0.82**0.5), 1.0 / (0.82**0.5 * 2**0.5)])
    )
