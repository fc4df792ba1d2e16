"""Cost of SemBridge's alignment (Planner + CORAL) next to a student training step.

Times, on CPU with 2 threads, the forward + backward of

* the SKA Planner (L_ot1 + L_ot2) for a batch of 256 with 2 x 2 patches of 512
  channels (ResNet-34 layer4 on 64 x 64 inputs), teacher and student alike;
* a ResNet-34 student (cross-entropy) on a 256 x 3 x 64 x 64 batch,

and prints the ratio. Target: the alignment costs <= 5 % of the student step.

Usage: python benchmarks/bench_ska.py [--batch-size 256] [--repeats 3]
"""

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
import torchvision

from torchgeo_ackd.models import Planner


def median_seconds(step: Callable[[], None], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--channels', type=int, default=512)
    parser.add_argument('--grid', type=int, default=2, help='patch grid side')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch, channels, patches = args.batch_size, args.channels, args.grid**2

    student = torchvision.models.resnet34(num_classes=10)
    student.train()
    images = torch.randn(batch, 3, args.image_size, args.image_size)
    labels = torch.randint(0, 10, (batch,))

    def student_step() -> None:
        student.zero_grad(set_to_none=True)
        F.cross_entropy(student(images), labels).backward()

    planner = Planner(channels, channels)
    teacher_patches = torch.rand(batch, patches, channels)
    teacher_embedding = teacher_patches.mean(dim=1)
    student_patches = torch.rand(batch, patches, channels, requires_grad=True)

    def planner_step() -> None:
        planner.zero_grad(set_to_none=True)
        student_patches.grad = None
        loss_ot1, loss_ot2 = planner(
            teacher_patches,
            student_patches,
            teacher_embedding,
            student_patches.mean(dim=1),
        )
        (loss_ot1 + loss_ot2).backward()

    planner_seconds = median_seconds(planner_step, warmup=2, repeats=5 * args.repeats)
    student_seconds = median_seconds(student_step, warmup=1, repeats=args.repeats)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, CPU')
    print(
        f'Planner + CORAL fwd+bwd (B={batch}, {args.grid}x{args.grid} patches, '
        f'{channels} ch): {planner_seconds * 1e3:.1f} ms'
    )
    print(
        f'ResNet-34 student fwd+bwd (B={batch}, 3x{args.image_size}x{args.image_size}): '
        f'{student_seconds * 1e3:.1f} ms'
    )
    print(
        f'ratio alignment / student step: {100 * planner_seconds / student_seconds:.2f} %'
    )


if __name__ == '__main__':
    main()
