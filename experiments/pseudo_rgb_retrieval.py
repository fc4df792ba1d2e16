"""How well does the SSM matcher retrieve, in its own domain and across the gap?

Trains the SSM matcher on the MS images of a benchmark, with the reference's
normalisation of the pseudo-RGB views (RGB statistics), at an InfoNCE
``--temperature`` (the reference's 1.0 by default), and prints

* ``val_instance_top1`` / ``val_class_top1``: on the MS *validation* images,
  how often a pseudo-RGB view's nearest MS embedding is its own scene / a
  scene of its class (in the matcher's domain; no RGB image is read);
* ``cross_modal_top1``: the zero-shot cross-modal retrieval of the RGB
  validation images (nearest MS training image over all classes has the
  right class);
* the hub statistics of the SSM pairing.

The runs of the lab notebook also normalised the pseudo-RGB views with their
own statistics (``--match true``, ``match_pseudo_rgb``) and re-estimated
M_G's BatchNorm statistics on the RGB images (``adapt_batchnorm``): both
options left the package; those rows ran at commit a261fe0. Same seed and
epochs for every setting::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/pseudo_rgb_retrieval.py \
        --root ../shared/data/ackd-real-mini [--temperature 16]
"""

import argparse
import importlib
import time
from pathlib import Path

from lightning.pytorch import Trainer, seed_everything
from torch.utils.data import DataLoader

from torchgeo_ackd.datasets import RenamedDataset
from torchgeo_ackd.matching import (
    cross_modal_accuracy,
    gallery_embedding,
    ssm_pairing,
)
from torchgeo_ackd.pipeline import resolve_benchmark
from torchgeo_ackd.tasks import MatcherTask


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path, required=True)
    parser.add_argument('--epochs', type=int, default=16)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--temperature', type=float, default=1.0, help='InfoNCE temperature'
    )
    args = parser.parse_args(argv)
    bench = resolve_benchmark(args.root, None)
    module, _, name = bench.ms_datamodule.rpartition('.')
    cls = getattr(importlib.import_module(module), name)
    dm = cls(
        **bench.init_args,
        pseudo_rgb=True,
        batch_size=64,
    )
    seed_everything(args.seed)
    matcher = MatcherTask(in_channels=len(bench.bands), temperature=args.temperature)
    start = time.perf_counter()
    trainer = Trainer(
        max_epochs=args.epochs,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(matcher, dm)
    fit_s = time.perf_counter() - start
    # The last epoch's validation, which fit has just run with these weights.
    val = {k: float(v) for k, v in trainer.callback_metrics.items()}
    # The SSM pairing and the zero-shot retrieval of the trained matcher.
    gallery = gallery_embedding(matcher, dm.gallery_dataloader(), dm.preprocess)
    loaders = (dm.student_dataloader(), dm.gallery_dataloader())
    pairing = ssm_pairing(
        matcher, dm.rgb_train, dm.gallery, loaders, dm.preprocess, embedding=gallery
    )
    rgb_val = dm.rgb_dataset('val')
    queries = DataLoader(
        RenamedDataset(rgb_val, 'image_rgb'),
        batch_size=dm.eval_batch_size,
        collate_fn=dm.collate_fn,
    )
    accuracy = cross_modal_accuracy(
        matcher, queries, rgb_val.targets, gallery, dm.gallery.targets, dm.preprocess
    )
    print(
        f'temperature={args.temperature:g} epochs={args.epochs} '
        f'seed={args.seed} fit_s={fit_s:.0f} '
        f'val_instance_top1={val["val_retrieval_top1"]:.4f} '
        f'val_class_top1={val["val_retrieval_class_top1"]:.4f} '
        f'cross_modal_top1={accuracy:.4f} '
        f'ssm_distinct_teachers={pairing.distinct_teachers()} '
        f'ssm_max_load={pairing.max_load()} '
        f'ssm_mean_cosine={float(pairing.scores.mean()):.4f}'
    )


if __name__ == '__main__':
    main()
