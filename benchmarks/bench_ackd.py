"""Cost of SemBridge per training step, CPU, ResNet-34 -> ResNet-34 at 64 x 64.

usage: python benchmarks/bench_ackd.py [--batch-size 64] [--steps 5] [--threads 2]
    [--model resnet34] [--gallery 512] [--per-class 40] [--skip-epoch]

Prints seconds per optimisation step on the same batches for
(1) the student alone (cross-entropy),
(2) vanilla KD with the teacher run every step,
(3) vanilla KD + SemBridge (Planner + CORAL) with the cached teacher,
and the ratio (3) / (2) (target <= 1.05), plus one whole epoch with a DynM
re-matching through Lightning on a generated benchmark. The teacher is randomly
initialised (``weights='random'``): the benchmark times the compute only.
"""

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader

from torchgeo_ackd.callbacks import DynamicMatching
from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.matching import loader_outputs
from torchgeo_ackd.models.teacher import TeacherOutputs
from torchgeo_ackd.tasks import ACKDTask


def time_interleaved(steps: list[Callable[[], None]], rounds: int) -> list[float]:
    """Fastest seconds per call of each step, calls interleaved round by round.

    Interleaving and taking the minimum keep the comparison fair on a shared
    machine: load spikes hit every variant alike and the minimum ignores them.
    """
    for step in steps:
        step()  # warm-up
    best = [float('inf')] * len(steps)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            t = time.perf_counter()
            step()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def make_step(
    task: ACKDTask, batch: dict[str, torch.Tensor], mode: str
) -> Callable[[], None]:
    optimizer = torch.optim.Adam(
        [p for p in task.parameters() if p.requires_grad], lr=1e-3
    )

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        if mode == 'student':
            logits = task.student(batch['image'])
            loss = task.criterion(logits, batch['label'])
        else:
            loss = task.compute_losses(batch)[0]
        loss.backward()
        optimizer.step()

    return step


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--model', default='resnet34')
    parser.add_argument(
        '--gallery', type=int, default=512, help='teacher gallery size of the cache'
    )
    parser.add_argument(
        '--per-class',
        type=int,
        default=40,
        help='MS and RGB images per class of the one-epoch benchmark',
    )
    parser.add_argument('--skip-epoch', action='store_true')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    b, k, n_gallery = args.batch_size, 10, args.gallery
    batch = {
        'image': torch.randn(b, 3, 64, 64),
        'image_ms': torch.randn(b, 13, 64, 64),
        'label': torch.randint(k, (b,)),
        'teacher_index': torch.randint(n_gallery, (b,)),
    }
    # A random teacher on purpose: the steps' compute does not depend on weights.
    common: dict[str, Any] = {
        'num_classes': k,
        'student': args.model,
        'teacher': {'model': args.model, 'in_channels': 13, 'weights': 'random'},
    }
    no_ska = {'use_ot1': False, 'use_ot2': False}

    student_only = ACKDTask(**common, kd={'loss': 'none'}, ska=no_ska)
    student_only.train()
    kd = ACKDTask(**common, kd={'loss': 'kd'}, ska=no_ska, cache_teacher=False)
    kd.train()

    sem = ACKDTask(**common, kd={'loss': 'kd'}, ska={'use_ot1': True, 'use_ot2': True})
    sem.train()
    # The cache the task builds at fit start: teacher outputs per gallery sample.
    gallery = torch.randn(n_gallery, 13, 64, 64)
    rows = [
        {'image_ms': gallery[i], 'index': torch.tensor(i)} for i in range(n_gallery)
    ]
    loader = DataLoader(rows, batch_size=128)  # type: ignore[arg-type]
    sem.teacher.set_cache(
        TeacherOutputs(*loader_outputs(sem.teacher, loader, 'image_ms'))
    )
    sem.teacher_cached = True
    t1, t2, t3 = time_interleaved(
        [
            make_step(student_only, batch, 'student'),
            make_step(kd, batch, 'kd'),
            make_step(sem, batch, 'kd'),
        ],
        args.steps,
    )

    print(
        f'{args.model} -> {args.model}, batch {b} x 64 x 64, {args.threads} threads, '
        f'fastest of {args.steps} interleaved steps'
    )
    print(f'(1) student alone                     : {t1:7.3f} s/step')
    print(f'(2) vanilla KD, teacher every step     : {t2:7.3f} s/step')
    print(f'(3) vanilla KD + SemBridge, cached     : {t3:7.3f} s/step')
    print(f'(3) / (2) = {t3 / t2:.3f}  (target <= 1.05);  (3) / (1) = {t3 / t1:.3f}')

    if args.skip_epoch:
        return
    with tempfile.TemporaryDirectory() as tmp:
        dm = SyntheticACKDDataModule(
            root=Path(tmp) / 'synthetic',
            ms_per_class=args.per_class,
            rgb_per_class=args.per_class,
            ms_size=64,
            rgb_size=64,
            batch_size=b,
        )
        dm.prepare_data()
        for dynm in (False, True):
            task = ACKDTask(**common, kd={'loss': 'kd'})
            trainer = Trainer(
                callbacks=[DynamicMatching(epochs=[0] if dynm else [])],
                accelerator='cpu',
                max_epochs=1,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                limit_val_batches=0,
                default_root_dir=tmp,
            )
            t = time.perf_counter()
            trainer.fit(task, dm)
            label = 'with a DynM re-matching' if dynm else 'without re-matching   '
            n_students = len(dm.rgb_train)
            print(
                f'one epoch ({n_students} students), {label}: {time.perf_counter() - t:6.1f} s (fit start and teacher cache included)'
            )


if __name__ == '__main__':
    main()
