"""Does matching the pseudo-RGB colours help the matcher across the modality gap?

Trains the SSM matcher on the MS images of a benchmark twice, with the
reference's normalisation of the pseudo-RGB views (RGB statistics) and with
``match_pseudo_rgb`` (their own statistics), and prints the zero-shot
cross-modal retrieval of the RGB validation images (``cross_modal_top1``:
nearest MS training image over all classes has the right class) and the hub
statistics of the SSM pairing. Same seed and epochs for both.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pseudo_rgb_retrieval.py \
        --root ../shared/data/ackd-real-mini --match false
"""

import argparse
import importlib
import time
from pathlib import Path

from lightning.pytorch import Trainer, seed_everything

from torchgeo_ackd.callbacks import InitialPairing
from torchgeo_ackd.pipeline import resolve_benchmark
from torchgeo_ackd.tasks import MatcherTask


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--root', type=Path, required=True)
    parser.add_argument('--match', choices=('true', 'false'), required=True)
    parser.add_argument('--epochs', type=int, default=16)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    bench = resolve_benchmark(args.root, None)
    module, _, name = bench.datamodule.rpartition('.')
    cls = getattr(importlib.import_module(module), name)
    dm = cls(
        **bench.init_args,
        modality='ms',
        pseudo_rgb=True,
        match_pseudo_rgb=args.match == 'true',
        batch_size=64,
    )
    seed_everything(args.seed)
    matcher = MatcherTask(in_channels=len(bench.bands))
    start = time.perf_counter()
    Trainer(
        max_epochs=args.epochs,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(matcher, dm)
    fit_s = time.perf_counter() - start
    # The same matcher, its RGB embedding as the reference's and with M_G's
    # BatchNorm statistics re-estimated on the RGB training images.
    for adapt in (False, True):
        ssm = InitialPairing(adapt_batchnorm=adapt)
        pairing = ssm.pairing(matcher, dm)
        accuracy = ssm.cross_modal_accuracy(matcher, dm)
        print(
            f'match_pseudo_rgb={args.match} adapt_batchnorm={adapt} '
            f'epochs={args.epochs} seed={args.seed} fit_s={fit_s:.0f} '
            f'cross_modal_top1={accuracy:.4f} '
            f'ssm_distinct_teachers={pairing.distinct_teachers()} '
            f'ssm_max_load={pairing.max_load()} '
            f'ssm_mean_cosine={float(pairing.scores.mean()):.4f}'
        )


if __name__ == '__main__':
    main()
