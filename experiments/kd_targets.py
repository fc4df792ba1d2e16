# Archived: ran at commit a261fe0 (`git checkout a261fe0`, where it is
# benchmarks/kd_targets.py); the option it studies (out-of-fold teacher logits and the label-space pairing)
# was removed from the package after it showed no gain (see
# experiments/README.md). It does not run on the current package; no test.
"""What does a pairing's KD target tell a student about its own scene?

On a mixed synthetic benchmark with annotated labels (``python -m
torchgeo_ackd.synthetic --mixed --label-rule annotated``) a third of the RGB
training labels name a scene's *minor* land cover. Distillation can only
raise accuracy there if the soft label a student is given points at the
student's own dominant cover, which the generator knows (replayed by
``oracle_pairing.scene_mixture``). This script scores the KD targets of a
finished pipeline run without training anything: for each pairing rule, how
often the target's top class is the student's dominant cover, on all
students and on those whose label is not their dominant cover (the only
ones a target can correct), and the target's mean probability of the
dominant cover.

Targets scored (each from the teacher's logits on the MS gallery, out of
fold when the run used ``--teacher-folds``, at the KD temperature):

* ``random``: a random same-class teacher image (vanilla KD's pairing);
* ``class mean``: the mean target of all same-class teacher images;
* ``oracle``: a same-class teacher image of the student's own mixture;
* ``label space top-k``: the mean target of the k same-class teacher images
  of lowest KL to the baseline's prediction (k = 1 is the pipeline's
  label-space pairing);
* ``baseline's own``: the baseline's prediction itself (what a student
  distilled from its own predictions would be given).

::

    python experiments/kd_targets.py data/synthetic-annotated output/annotated --seeds 0,1,2

Only the RGB *training* images are scored; no test split is read.
"""

import argparse
from pathlib import Path
from typing import NamedTuple

import torch
from matcher_semantics import random_same_class
from oracle_pairing import mixed_parameters, oracle_pairing, scene_mixture
from torch import Tensor

from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.datasets import relative_files
from torchgeo_ackd.io import read_torch_file
from torchgeo_ackd.matching import gallery_logits, student_logits
from torchgeo_ackd.models.teacher import read_out_of_fold_logits
from torchgeo_ackd.pipeline.pairings import LABEL_SPACE_TEMPERATURE
from torchgeo_ackd.synthetic import benchmark_parameters
from torchgeo_ackd.tasks import ACKDTask

DATAMODULE = 'torchgeo_ackd.datamodules.SyntheticACKDDataModule'


def checkpoint_statistics(state: dict) -> dict[str, list[float]]:  # type: ignore[type-arg]
    """The normalisation statistics a checkpoint's datamodule was trained with."""
    stats = state[DATAMODULE.rpartition('.')[2]]
    return {k: v.tolist() for k, v in stats.items() if k.endswith(('_mean', '_std'))}


class TargetScore(NamedTuple):
    """How well one set of KD targets names the students' dominant covers."""

    #: Fraction of students whose target's top class is their dominant cover.
    top_is_dominant: float
    #: The same, over students whose label is not their dominant cover.
    top_is_dominant_mislabelled: float
    #: Mean probability the targets give the dominant cover.
    dominant_probability: float


def score_targets(targets: Tensor, dominant: Tensor, labels: Tensor) -> TargetScore:
    """Score KD targets against the students' dominant covers.

    Args:
        targets: (N, K) target distributions, one row per student.
        dominant: (N,) class index of each student's dominant cover.
        labels: (N,) each student's (annotated) label.

    Returns:
        The score; the mislabelled fraction is NaN when every label is dominant.
    """
    top = targets.argmax(1) == dominant
    mislabelled = labels != dominant
    return TargetScore(
        top.float().mean().item(),
        top[mislabelled].float().mean().item() if mislabelled.any() else float('nan'),
        targets.gather(1, dominant[:, None]).mean().item(),
    )


def label_space_neighbours(
    student_logits: Tensor,
    student_classes: Tensor,
    teacher_logits: Tensor,
    teacher_classes: Tensor,
    k: int,
    temperature: float = LABEL_SPACE_TEMPERATURE,
) -> Tensor:
    """The k same-class teachers of lowest ``KL(p_t || p_s)`` for each student.

    Args:
        student_logits: (N_s, K) student logits.
        student_classes: (N_s,) student labels.
        teacher_logits: (N_t, K) teacher logits.
        teacher_classes: (N_t,) teacher labels.
        k: Neighbours per student (at most the smallest class of teachers).
        temperature: Softmax temperature of both distributions.

    Returns:
        (N_s, k) teacher indices, closest first.
    """
    log_s = (student_logits / temperature).log_softmax(1)
    log_t = (teacher_logits / temperature).log_softmax(1)
    kl = (log_t.exp()[None] * (log_t[None] - log_s[:, None])).sum(-1)
    kl[student_classes[:, None] != teacher_classes[None, :]] = float('inf')
    return kl.topk(k, dim=1, largest=False).indices


@torch.no_grad()
def targets_of_run(
    root: Path, out: Path, seed: int, ks: list[int], kd_temperature: float
) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """The KD targets of each rule for the students of one baseline run.

    Returns:
        Targets by rule (each (N_s, K)), the students' dominant covers and
        their labels (each (N_s,)).
    """
    params = benchmark_parameters(root)
    checkpoint = out / 'students' / f'baseline_seed{seed}' / 'best.ckpt'
    task = ACKDTask.load_from_checkpoint(
        checkpoint, map_location='cpu', weights_only=True
    ).eval()
    stats = checkpoint_statistics(read_torch_file(checkpoint, 'baseline checkpoint'))
    init = {'root': str(root), 'generate': False}
    dm = SyntheticACKDDataModule(**(init | {'pairing_file': None} | stats))
    dm.setup('fit')
    cpu = torch.device('cpu')
    out_of_fold = out / 'teacher_folds' / 'out_of_fold_logits.pt'
    teacher = (
        read_out_of_fold_logits(out_of_fold, dm.gallery)
        if out_of_fold.is_file()
        else gallery_logits(
            lambda image: task.teacher(image).logits,
            dm.gallery_dataloader(),
            dm.preprocess,
            cpu,
        )
    )
    student = student_logits(task.student, dm.student_dataloader(), dm.preprocess, cpu)
    labels, teacher_classes = dm.rgb_train.targets, dm.gallery.targets
    classes = list(dm.rgb_train.classes)
    dominant = torch.tensor(
        [
            classes.index(scene_mixture('rgb', root / f, params).dominant)
            for f in relative_files(dm.rgb_train)
        ]
    )
    soft = (teacher / kd_temperature).softmax(1)
    same = (labels[:, None] == teacher_classes[None, :]).float()
    oracle = oracle_pairing(dm.rgb_train, dm.gallery, params).teacher_index
    targets = {
        'random': soft[random_same_class(labels, teacher_classes, seed)],
        'class mean': same @ soft / same.sum(1, keepdim=True),
        'oracle': soft[oracle],
    }
    for k in ks:
        neighbours = label_space_neighbours(
            student, labels, teacher, teacher_classes, k
        )
        targets[f'label space top-{k}'] = soft[neighbours].mean(1)
    targets["baseline's own"] = (student / kd_temperature).softmax(1)
    return targets, dominant, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', type=Path, help='a mixed synthetic benchmark')
    parser.add_argument('out', type=Path, help='the pipeline output folder')
    parser.add_argument('--seeds', default='0,1,2', help='baseline runs to read')
    parser.add_argument('--k', default='1,3,10,30', help='label-space neighbours')
    parser.add_argument('--kd-temperature', type=float, default=3.0)
    args = parser.parse_args()
    mixed_parameters(args.root)  # stops unless the benchmark is mixed
    ks = [int(k) for k in args.k.split(',')]
    scores: dict[str, list[TargetScore]] = {}
    for seed in [int(s) for s in args.seeds.split(',')]:
        targets, dominant, labels = targets_of_run(
            args.root, args.out, seed, ks, args.kd_temperature
        )
        print(
            f'seed {seed}: {len(labels)} students, '
            f'{(labels != dominant).float().mean():.1%} labelled with a minor cover'
        )
        for rule, target in targets.items():
            scores.setdefault(rule, []).append(score_targets(target, dominant, labels))
    print(
        '\n| KD target | top class = dominant cover | on mislabelled students '
        '| p(dominant cover) |\n|---|---|---|---|'
    )
    for rule, runs in scores.items():
        mean = TargetScore(*torch.tensor(runs).mean(0).tolist())
        print(
            f'| {rule} | {mean.top_is_dominant:.1%} | '
            f'{mean.top_is_dominant_mislabelled:.1%} | {mean.dominant_probability:.3f} |'
        )


if __name__ == '__main__':
    main()
