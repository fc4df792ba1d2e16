"""MS read throughput of the datasets vs raw rasterio, and kornia augmentation speed.

usage: python benchmarks/bench_datasets.py [--root DIR] [--repeats 3]

Without --root it uses ../shared/data/ackd-real-mini when present, else it
generates the synthetic benchmark into a temporary folder. The dataset class is
the one the pipeline picks for the root (SyntheticACKD for a synthetic root,
S2SEU otherwise).
"""

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import rasterio
import torch

from torchgeo_ackd.datamodules import band_statistics
from torchgeo_ackd.pipeline import resolve_benchmark
from torchgeo_ackd.sensors import SENTINEL2_EUROSAT
from torchgeo_ackd.synthetic import generate_synthetic_benchmark
from torchgeo_ackd.transforms import build_augmentation

REAL_MINI = Path(__file__).parents[2] / 'shared' / 'data' / 'ackd-real-mini'


def best_rate(fn, n: int, repeats: int) -> float:
    """Best items/s over *repeats* runs of fn() processing n items."""
    best = float('inf')
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--root', type=Path)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=64)
    args = parser.parse_args(argv)
    # Loader workers run single-threaded (DataLoader sets 1 thread per worker).
    torch.set_num_threads(1)

    root = args.root
    if root is None and (REAL_MINI / 'MS').is_dir():
        root = REAL_MINI
    if root is None:
        root = generate_synthetic_benchmark(
            Path(tempfile.mkdtemp()) / 'synthetic', ms_size=64
        )
    # All 13 stored bands so both paths read the same bytes.
    dataset_class = resolve_benchmark(root, None).dataset
    ds = dataset_class(root, modality='ms', split='all', bands=SENTINEL2_EUROSAT.bands)
    mean, std = band_statistics(ds, 256, 0)
    m, s = mean[:, None, None], std[:, None, None]
    ds.transforms = lambda x: {**x, 'image': (x['image'] - m) / s}
    files = ds.files

    def raw() -> None:
        for f in files:
            with rasterio.open(f) as src:
                src.read()

    def dataset() -> None:
        for i in range(len(ds)):
            ds[i]

    raw_rate = best_rate(raw, len(files), args.repeats)
    ds_rate = best_rate(dataset, len(ds), args.repeats)
    print(f'benchmark root: {root} ({len(ds)} MS files, {tuple(ds[0]["image"].shape)})')
    print(f'raw rasterio read        : {raw_rate:8.0f} samples/s')
    print(
        f'dataset (+normalisation) : {ds_rate:8.0f} samples/s  ({ds_rate / raw_rate:.2f}x raw; target >= 0.8x)'
    )

    torch.set_num_threads(2)  # batch augmentation runs in the main process
    batch = torch.stack([ds[i]['image'] for i in range(args.batch_size)])
    for name, c, size in (('MS', batch.shape[1], batch.shape[-1]), ('RGB', 3, 64)):
        x = batch[:, :c] if name == 'MS' else torch.rand(args.batch_size, 3, size, size)
        aug = build_augmentation(
            torch.zeros(c),
            torch.ones(c),
            size=size,
            spectral_jitter=0.05,
            band_dropout=0.1 if name == 'MS' else 0.0,
        )
        aug(x)  # warm-up
        rate = best_rate(
            lambda aug=aug, x=x: [aug(x) for _ in range(5)], 5, args.repeats
        )
        print(
            f'kornia {name} train augmentation, batch {tuple(x.shape)}: {1000 / rate:6.1f} ms/batch ({rate * args.batch_size:7.0f} samples/s)'
        )


if __name__ == '__main__':
    main()
