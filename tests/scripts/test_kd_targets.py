"""benchmarks/kd_targets.py: target scores and label-space neighbours, by hand."""

import math

import kd_targets
import pytest
import torch

from torchgeo_ackd.matching.search import match_kl


def test_score_targets_by_hand() -> None:
    targets = torch.tensor(
        [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]]
    )
    dominant = torch.tensor([0, 2, 1, 2])
    labels = torch.tensor([0, 1, 0, 2])  # students 1 and 2 are mislabelled
    score = kd_targets.score_targets(targets, dominant, labels)
    # Top classes 0, 1, 0, 2: right for students 0 and 3, wrong for 1 and 2.
    assert score.top_is_dominant == 0.5
    assert score.top_is_dominant_mislabelled == 0.0
    assert score.dominant_probability == pytest.approx((0.7 + 0.3 + 0.4 + 0.6) / 4)
    clean = kd_targets.score_targets(targets, dominant, dominant)
    assert math.isnan(clean.top_is_dominant_mislabelled)


def test_label_space_neighbours_sorted_by_kl_within_class() -> None:
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(7, 4, generator=generator) * 2
    teacher = torch.randn(12, 4, generator=generator) * 2
    student_classes = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    teacher_classes = torch.arange(12) % 3
    neighbours = kd_targets.label_space_neighbours(
        student, student_classes, teacher, teacher_classes, k=4, temperature=2.0
    )
    assert neighbours.shape == (7, 4)
    for s in range(7):
        # KL(p_t || p_s) from its definition, one pair at a time.
        p_s = (student[s] / 2).softmax(0)
        kl = {
            t: float((p_t * (p_t / p_s).log()).sum())
            for t in range(12)
            if teacher_classes[t] == student_classes[s]
            for p_t in [(teacher[t] / 2).softmax(0)]
        }
        assert neighbours[s].tolist() == sorted(kl, key=kl.__getitem__)
    nearest, _ = match_kl(student, student_classes, teacher, teacher_classes, 2.0)
    assert torch.equal(neighbours[:, 0], nearest)
