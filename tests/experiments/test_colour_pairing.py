"""experiments/colour_pairing.py: the descriptor and the pairing, by hand."""

from pathlib import Path

import colour_pairing as colour
import numpy as np
import torch

from torchgeo_ackd.datamodules import SyntheticMSDataModule
from torchgeo_ackd.synthetic import generate_synthetic_benchmark


def test_channel_quantiles_are_numpys_per_channel() -> None:
    images = torch.randn(3, 2, 5, 4, generator=torch.Generator().manual_seed(0))
    levels = torch.tensor([0.1, 0.5, 0.9])
    got = colour.channel_quantiles(images, levels)
    assert got.shape == (3, 2 * 3)
    for b in range(3):
        for c in range(2):
            expected = np.quantile(images[b, c].numpy().ravel(), [0.1, 0.5, 0.9])
            np.testing.assert_allclose(got[b, 3 * c : 3 * c + 3], expected, rtol=1e-5)


def test_standardise_within_classes_by_hand() -> None:
    features = torch.tensor([[1.0, 5.0], [3.0, 5.00001], [10.0, 0.0], [4.0, 2.0]])
    labels = torch.tensor([0, 0, 1, 1])
    got = colour.standardise_within_classes(features, labels)
    # Class 0: column 0 has mean 2, population sd 1; column 1 differs by
    # rounding only (sd 5e-6 < 1e-4) -> 0, not +-1.
    # Class 1: column 0 mean 7, sd 3; column 1 mean 1, sd 1.
    expected = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [1.0, -1.0], [-1.0, 1.0]])
    torch.testing.assert_close(got, expected)


def test_colour_pairing_is_the_nearest_standardised_deciles(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(
        tmp_path / 'synthetic',
        ms_per_class=6,
        rgb_per_class=6,
        ms_size=16,
        rgb_size=20,
    )
    dm = SyntheticMSDataModule(root=root, generate=False, pseudo_rgb=True, batch_size=8)
    dm.setup('fit')
    pairing = colour.colour_pairing(dm)
    students, gallery = dm.rgb_train, dm.gallery
    assert torch.equal(gallery.targets[pairing.teacher_index], students.targets)

    # Independently: one image at a time, numpy quantiles and statistics.
    def deciles(image: torch.Tensor) -> np.ndarray:
        levels = np.linspace(0.05, 0.95, 10)
        channels = image.double().numpy()
        return np.concatenate([np.quantile(c.ravel(), levels) for c in channels])

    def features(key: str, source: str, dataset: object) -> np.ndarray:
        rows = []
        for i in range(len(dataset)):  # type: ignore[arg-type]
            batch = dm.preprocess({source: dataset[i]['image'][None]})  # type: ignore[index]
            rows.append(deciles(batch[key][0]))
        return np.stack(rows)

    s = features('image_rgb', 'image_rgb', students)
    g = features('image_pseudo_rgb', 'image', gallery)
    for x, y in ((s, students.targets.numpy()), (g, gallery.targets.numpy())):
        for label in np.unique(y):
            block = x[y == label]
            sd = block.std(0)
            centred = block - block.mean(0)
            x[y == label] = np.where(sd > 1e-4, centred / np.where(sd > 0, sd, 1), 0)
    for i, label in enumerate(students.targets.tolist()):
        candidates = np.flatnonzero(gallery.targets.numpy() == label)
        cosine = [
            s[i] @ g[j] / (np.linalg.norm(s[i]) * np.linalg.norm(g[j]) + 1e-12)
            for j in candidates
        ]
        assert pairing.teacher_index[i] == candidates[int(np.argmax(cosine))]
