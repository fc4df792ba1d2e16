"""Test a pipeline's synthetic students on fresh images: a test set without its noise.

A synthetic benchmark's test split holds 120 RGB images, so one image is 0.83
points and a 2-point difference between methods is within the noise of the
test set alone. The generator can draw any number of new scenes: a benchmark
with more images per class is the same benchmark with more images appended
(each file has its own seeded generator), so the images after the first
``rgb_per_class`` of each class were never seen by any stage. This script
writes that larger benchmark, takes the new RGB images as a test set
(``--per-class`` more per class), and scores every student of a pipeline
output folder on it with its best checkpoint, normalised with the statistics
stored in that checkpoint, as ``torchgeo test`` would. Then, paired by seed,
every method against the baseline and vanilla KD (``--against`` names
others, e.g. ``baseline,kd,kd_sembridge``), and the ratio of each method's
standard deviation over seeds to theirs, with a paired bootstrap interval::

    python experiments/fresh_test.py output/mixed --per-class 240
    python experiments/fresh_test.py output/mixed --per-class 240 --skip 240  # the next 2,400

``--skip`` passes over that many fresh images per class first, so that a
second run scores the same students on an independent test set: the
intervals over seeds do not include the test images' own sampling noise.

Nothing here chooses options: the fresh images are a test set.
"""

import argparse
import math
import random
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml

from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.pipeline.intervals import mean_interval, paired_difference
from torchgeo_ackd.synthetic import benchmark_parameters, generate_synthetic_benchmark
from torchgeo_ackd.tasks import ACKDTask

_RUN = re.compile(r'^(?P<method>.+?)_seed(?P<seed>\d+)$')


def fresh_indices(files: Sequence[Path], first: int, count: int) -> list[int]:
    """Positions of the images numbered ``first`` to ``first + count - 1``.

    Args:
        files: Image files named ``<class>_<number>.<ext>``.
        first: Number of the first fresh image of each class.
        count: Fresh images per class.

    Returns:
        Their positions in *files*, in order.
    """
    return [
        i
        for i, f in enumerate(files)
        if first <= int(f.stem.rsplit('_', 1)[1]) < first + count
    ]


@torch.no_grad()
def accuracy(
    checkpoint: Path, dm: SyntheticACKDDataModule, indices: list[int]
) -> float:
    """Overall accuracy (%) of a student checkpoint on the chosen RGB images."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    stats = state[type(dm).__name__]
    task = ACKDTask.load_from_checkpoint(
        checkpoint, map_location='cpu', weights_only=True
    )
    task.eval()
    # The statistics the student was trained with (what `torchgeo test` restores).
    dm.stats.update({k: v for k, v in stats.items() if k in dm.stats})
    dm._pipelines.clear()
    dataset = dm.rgb_dataset('all')
    right = 0
    for start in range(0, len(indices), 256):
        batch = dataset.__getitems__(indices[start : start + 256]).collated
        batch = dm.preprocess(batch, train=False)
        predicted = task.student(batch['image']).argmax(1)
        right += int((predicted == batch['label']).sum())
    return 100 * right / len(indices)


def comparisons(
    scores: dict[str, dict[str, float]], against: list[str], over: str = 'seeds'
) -> dict[str, str]:
    """One line per method: its OA and its paired difference to each of *against*.

    Args:
        scores: OA (%) per method, per seed (or other run key).
        against: Methods every other method is compared with, paired by seed
            (those absent from *scores* are skipped).
        over: What the keys of *scores* are, for the line.

    Returns:
        The line of each method, in the order of *scores*.
    """
    lines = {}
    for method, values in scores.items():
        line = f'{method}: OA {mean_interval(list(values.values()))} over {over} {sorted(values)}'
        for other in against:
            if other != method and other in scores:
                line += f'; vs {other} {paired_difference(values, scores[other])}'
        lines[method] = line
    return lines


def spread_ratio(
    method: dict[str, float],
    baseline: dict[str, float],
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Ratio of two methods' standard deviations over seeds, with an interval.

    The issue's spread target compares SemBridge's seed-to-seed standard
    deviation with the baseline's. With few seeds that ratio is very
    uncertain, so it comes with a percentile bootstrap interval: the seeds
    both methods have are drawn with replacement, *resamples* times, the same
    draw for both (paired by seed, as the gains are).

    Args:
        method: OA per seed of the method.
        baseline: OA per seed of the method it is compared with.
        resamples: Bootstrap draws.
        seed: Of the draws.
        confidence: Coverage of the interval.

    Returns:
        ``(ratio, low, high)``: ``stdev(method) / stdev(baseline)`` over the
        shared seeds and its interval (a draw whose baseline values are all
        equal counts as an infinite ratio).

    Raises:
        ValueError: With fewer than 3 shared seeds, or a baseline of equal values.
    """
    keys = sorted(set(method) & set(baseline))
    if len(keys) < 3:
        raise ValueError(f'a spread ratio needs 3 or more shared seeds, got {keys}')

    def ratio(draw: list[str]) -> float:
        below = statistics.stdev(baseline[k] for k in draw)
        above = statistics.stdev(method[k] for k in draw)
        return above / below if below > 0 else (0.0 if above == 0 else math.inf)

    observed = ratio(keys)
    if not math.isfinite(observed):
        raise ValueError('the baseline has the same OA for every seed')
    rng = random.Random(seed)
    draws = sorted(ratio(rng.choices(keys, k=len(keys))) for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = draws[int(tail * resamples)]
    high = draws[min(resamples - 1, int((1 - tail) * resamples))]
    return observed, low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', type=Path, help='a pipeline output folder (synthetic)')
    parser.add_argument(
        '--per-class', type=int, default=240, help='fresh RGB images per class'
    )
    parser.add_argument(
        '--skip',
        type=int,
        default=0,
        help='fresh images per class to pass over first: another, independent test set',
    )
    parser.add_argument('--root', type=Path, help='where to write the larger benchmark')
    parser.add_argument(
        '--students',
        type=Path,
        help='folder of the student runs (default: OUT/students)',
    )
    parser.add_argument(
        '--against',
        default='baseline,kd',
        help='comma-separated methods every method is compared with, paired by seed',
    )
    args = parser.parse_args()
    if args.per_class < 1 or args.skip < 0:
        parser.error(
            f'--per-class must be >= 1 and --skip >= 0 (images already seen would '
            f'be tested), got {args.per_class} and {args.skip}'
        )
    students = args.students or args.out / 'students'
    runs = sorted(d for d in students.iterdir() if _RUN.match(d.name))
    config = yaml.safe_load((runs[0] / 'config.yaml').read_text())['data']['init_args']
    # The generator's parameters as written (the students' configs may leave
    # them at their defaults when the benchmark was generated beforehand).
    generator = benchmark_parameters(config['root'])
    seen = generator.pop('rgb_per_class')
    total = seen + args.skip + args.per_class
    root = args.root or Path(str(config['root']) + f'-fresh{total - seen}')
    generate_synthetic_benchmark(root, rgb_per_class=total, **generator)
    seed = generator.pop('seed')
    del generator['rgb_format']
    dm = SyntheticACKDDataModule(
        root,
        generate=False,
        rgb_per_class=total,
        generator_seed=seed,
        check_images=False,
        **generator,
    )
    first = seen + args.skip
    indices = fresh_indices(dm.rgb_dataset('all').files, first, args.per_class)
    print(
        f'{len(indices)} fresh RGB test images ({args.per_class} per class, '
        f'numbered {first} to {first + args.per_class - 1}) in {root}'
    )
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for run in runs:
        match = _RUN.match(run.name)
        assert match is not None
        scores[match['method']][match['seed']] = accuracy(
            run / 'best.ckpt', dm, indices
        )
        print(f'{run.name}: {scores[match["method"]][match["seed"]]:.2f} %')
    against = args.against.split(',')
    for line in comparisons(scores, against).values():
        print(line)
    for method, values in scores.items():
        for other in against:
            if other != method and len(set(values) & set(scores.get(other, {}))) >= 3:
                r, low, high = spread_ratio(values, scores[other])
                print(
                    f'spread: SD of {method} / SD of {other} = {r:.2f} '
                    f'[{low:.2f}, {high:.2f}] (paired bootstrap over seeds)'
                )


if __name__ == '__main__':
    main()
