"""Is the student stage bound by the device or by the data? Measured at paper scale.

Writes (or reuses) a synthetic benchmark of a fraction of the paper's size
(70,414 MS images of 10 bands at 64 x 64 and 63,549 RGB images, 10 balanced
classes; the default fraction 0.1), then measures on one device:

* the decoded in-memory cache: build rate next to the raw read rate;
* the student stage (ResNet-34 -> ResNet-34, batch 256, vanilla KD +
  SemBridge with the teacher cache): seconds per measured step, the fraction
  of the time spent waiting for the next batch (Lightning's profiler:
  ``train_dataloader_next``), images/s and the achieved TFLOP/s (FLOPs of one
  step counted by ``torch.utils.flop_counter``) next to the device's peak
  where it is known; projected to a whole epoch and to 200 epochs;
* one DynM re-matching of every student and one matcher step.

The last line is ``data_wait_fraction=<x> images_per_s=<y>``::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_scale.py            # CPU, 10 %
    python benchmarks/bench_scale.py --fraction 1 --device cuda --steps 30  # a GPU
"""

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.profilers import SimpleProfiler
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

from torchgeo_ackd.callbacks import ChannelsLast, CompileModels, DynamicMatching
from torchgeo_ackd.datamodules import SyntheticACKDDataModule, SyntheticMSDataModule
from torchgeo_ackd.models.teacher import TeacherConfig
from torchgeo_ackd.sensors import SENTINEL2_10BAND
from torchgeo_ackd.synthetic import generate_synthetic_benchmark, paper_counts
from torchgeo_ackd.tasks import ACKDTask, MatcherTask

CLASSES = 10
#: Dense bf16 tensor peak (TFLOP/s) of devices the project runs on.
PEAK_TFLOPS = {'H100': 989.0, 'H200': 989.0, 'A100': 312.0, 'L4': 121.0}


class StepTimer(Callback):
    """Wall time of the training steps after the first few (warm-up)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.end = 0.0
        self.steps = 0

    def on_train_batch_start(self, trainer: Trainer, *args: Any) -> None:
        if trainer.global_step == self.warmup:
            _sync(trainer)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
        if self.start is not None:
            _sync(trainer)
            self.end = time.perf_counter()
            self.steps += 1

    @property
    def seconds_per_step(self) -> float:
        """Mean wall time of the measured steps."""
        return (self.end - (self.start or self.end)) / max(self.steps, 1)


def _sync(trainer: Trainer) -> None:
    if trainer.strategy.root_device.type == 'cuda':
        torch.cuda.synchronize()


class PerSample(Dataset[dict[str, Any]]):
    """A dataset seen one sample at a time (hides the batched fetch)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.dataset[index]  # type: ignore[no-any-return]


def loader_rate(loader: DataLoader[Any], batches: int = 12) -> float:
    """Images/s of a loader alone, after its first batch (workers started)."""
    iterator = iter(loader)
    next(iterator)
    start, images = time.perf_counter(), 0
    for _, batch in zip(range(batches), iterator, strict=False):
        images += len(batch['index'])
    return images / (time.perf_counter() - start)


def step_flops(task: ACKDTask, dm: SyntheticACKDDataModule, device: str) -> float:
    """FLOPs of one SemBridge training step (forward and backward)."""
    batch = next(iter(dm.train_dataloader()))
    batch = dm.preprocess({k: v.to(device) for k, v in batch.items()}, train=True)
    with FlopCounterMode(display=False) as counter:
        loss, _, _ = task.compute_losses(batch)
        loss.backward()
    task.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--fraction', type=float, default=0.1)
    parser.add_argument('--root', type=Path, help='default: data/scale-<fraction>')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--steps', type=int, default=4, help='measured steps')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--in-memory-gb', type=float, default=16.0)
    parser.add_argument('--precision', default=None, help='e.g. bf16-mixed')
    parser.add_argument(
        '--channels-last', action='store_true', help='the ChannelsLast callback'
    )
    parser.add_argument(
        '--compile', action='store_true', help='the CompileModels callback (inductor)'
    )
    parser.add_argument(
        '--num-workers', type=int, default=None, help="default: the datamodule's choice"
    )
    args = parser.parse_args()
    # Everything the runs write (pairing files, the profile) stays out of the
    # working folder.
    scratch = tempfile.mkdtemp(prefix='bench_scale_')
    root = args.root or Path(f'data/scale-{args.fraction:g}')
    ms_per_class, rgb_per_class = paper_counts(args.fraction)
    start = time.perf_counter()
    generate_synthetic_benchmark(
        root,
        ms_per_class=ms_per_class,
        rgb_per_class=rgb_per_class,
        ms_size=64,
        rgb_size=64,
    )
    print(
        f'benchmark {root}: {ms_per_class * CLASSES} MS (10 of 13 bands, 64 x 64) and '
        f'{rgb_per_class * CLASSES} RGB (64 x 64) images; ready in '
        f'{time.perf_counter() - start:.1f} s'
    )

    def datamodule(
        in_memory_gb: float, stage: type = SyntheticACKDDataModule, **overrides: Any
    ) -> Any:
        kwargs: dict[str, Any] = {
            'batch_size': args.batch_size,
            'num_workers': args.num_workers,
        } | overrides
        return stage(
            root,
            bands=list(SENTINEL2_10BAND.bands),
            ms_per_class=ms_per_class,
            rgb_per_class=rgb_per_class,
            ms_size=64,
            rgb_size=64,
            in_memory_gb=in_memory_gb,
            check_images=False,
            **kwargs,
        )

    def timed_fit(task: Any, dm: Any, callbacks: list[Callback], **kw: Any) -> Trainer:
        trainer = Trainer(
            accelerator=device,
            devices=1,
            max_epochs=1,
            limit_train_batches=args.warmup + args.steps,
            limit_val_batches=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=scratch,
            callbacks=callbacks,
            precision=args.precision,
            **kw,
        )
        trainer.fit(task, dm)
        return trainer

    device = 'cuda' if args.device.startswith('cuda') else 'cpu'
    # Raw read rate (files, float32 samples) against the decoded cache's build
    # rate, on the same files (both after a first read: the page cache is warm).
    files_only = datamodule(0.0)
    for modality, make in (
        ('RGB', files_only.rgb_dataset),
        ('MS', files_only.ms_dataset),
    ):
        dataset = make('train')
        start = time.perf_counter()
        for i in range(len(dataset)):
            dataset[i]
        raw_rate = len(dataset) / (time.perf_counter() - start)
        start = time.perf_counter()
        assert dataset.decode(2**40)
        build_rate = len(dataset) / (time.perf_counter() - start)
        print(
            f'{modality} training split ({len(dataset)} images): raw read '
            f'{raw_rate:.0f} images/s, decoded cache built at {build_rate:.0f} '
            f'images/s ({build_rate / raw_rate:.2f}x)'
        )
    dm = datamodule(args.in_memory_gb)
    dm.setup('fit')
    print(
        f'in memory: {dm.datasets.memory_used / 2**20:.0f} MiB of {dm.datasets.memory_budget / 2**30:.0f} '
        f'GiB; every split decoded: {dm.datasets.all_decoded}; loader workers {dm.loader_workers}'
    )

    # The loader alone (no model): the rate at which it can feed any device,
    # with the teacher's images (uncached teacher) and without (teacher cache,
    # the measured step). The batched fetch (ACKDDataset.__getitems__, what the
    # datamodule's loaders use) against one sample at a time.
    for teacher_images in (True, False):
        dm.teacher_images = teacher_images
        for label, dataset in (
            ('batched fetch', dm.train_dataset),
            ('one sample at a time', PerSample(dm.train_dataset)),
        ):
            loader = dm._loader(dataset, shuffle=True, batch_size=args.batch_size)
            print(
                f'training loader alone ({"RGB + MS" if teacher_images else "RGB"}, '
                f'{label}, {dm.loader_workers} workers): '
                f'{loader_rate(loader):.0f} images/s'
            )
    dm.teacher_images = True  # the task decides when it sets up

    torch.manual_seed(0)
    task = ACKDTask(
        num_classes=CLASSES,
        student='resnet34',
        teacher=TeacherConfig('resnet34', in_channels=10, weights='random'),
    )
    timer = StepTimer(args.warmup)
    # The profiler's table and the pairing files go to the scratch folder.
    profiler = SimpleProfiler(dirpath=scratch, filename='profile')
    dynm = DynamicMatching(epochs=[], log_pairs=0, output_dir=scratch)
    trainer = timed_fit(
        task,
        dm,
        [timer, dynm]
        + [ChannelsLast()] * args.channels_last
        + [CompileModels()] * args.compile,
        profiler=profiler,
    )
    step_s = timer.seconds_per_step
    waits = profiler.recorded_durations.get(
        '[_TrainingEpochLoop].train_dataloader_next', []
    )
    wait_s = sum(waits[args.warmup :]) / max(len(waits[args.warmup :]), 1)
    wait_fraction = wait_s / step_s if step_s else math.nan
    images_per_s = args.batch_size / step_s
    task.to(device)
    flops = step_flops(task, dm, device)
    tflops = flops / step_s / 1e12
    name = torch.cuda.get_device_name() if device == 'cuda' else 'CPU'
    peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    steps_per_epoch = math.ceil(len(dm.rgb_train) / args.batch_size)
    epoch_s = steps_per_epoch * step_s
    print(
        f'student step ({name}, batch {args.batch_size}, ResNet-34 -> ResNet-34, '
        f'KD + SemBridge, teacher cached): {step_s:.3f} s, data wait '
        f'{wait_s:.4f} s ({100 * wait_fraction:.1f} %), {images_per_s:.0f} images/s, '
        f'{flops / 1e9:.0f} GFLOP/step, {tflops:.2f} TFLOP/s'
        + (f' ({100 * tflops / peak:.1f} % of {peak:.0f} peak)' if peak else '')
    )
    print(
        f'projected: {epoch_s:.1f} s per epoch ({steps_per_epoch} steps), '
        f'{200 * epoch_s / 60:.1f} min for 200 epochs'
    )

    # One re-matching of every student (lowest KL within each class).
    task.train()
    start = time.perf_counter()
    dynm.rematch(trainer, task)
    _sync(trainer)
    print(
        f'one re-matching of {len(dm.rgb_train)} students: {time.perf_counter() - start:.2f} s'
    )

    # One matcher step (ResNet-34 encoders, batch 64, as the reference).
    matcher_dm = datamodule(
        args.in_memory_gb, SyntheticMSDataModule, pseudo_rgb=True, batch_size=64
    )
    matcher = MatcherTask('resnet34', 'resnet34', in_channels=10)
    matcher_timer = StepTimer(args.warmup)
    timed_fit(matcher, matcher_dm, [matcher_timer])
    matcher_step = matcher_timer.seconds_per_step
    matcher_steps = math.ceil(len(matcher_dm.ms_train) / 64)
    print(
        f'matcher step (batch 64): {matcher_step:.3f} s; projected epoch '
        f'{matcher_steps * matcher_step:.1f} s ({matcher_steps} steps)'
    )
    print(f'data_wait_fraction={wait_fraction:.4f} images_per_s={images_per_s:.1f}')


if __name__ == '__main__':
    main()
