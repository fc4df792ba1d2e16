"""Statistics of the matched teachers, against hand-computed values."""

import math

import pytest
import torch

from torchgeo_ackd.matching import matched_teachers


def test_matched_teachers_by_hand() -> None:
    # Gallery: image 0 of class 0, confident and right; image 1 of class 1,
    # undecided (a tie goes to class 0, so the teacher is wrong on it).
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    classes = torch.tensor([0, 1])
    index = torch.tensor([0, 1, 1])  # one student on image 0, two on image 1
    stats = matched_teachers(logits, classes, index, temperature=1.0)
    p0 = math.exp(2) / (math.exp(2) + 1)  # 0.8808
    h0 = -(p0 * math.log(p0) + (1 - p0) * math.log(1 - p0))  # 0.3654
    assert float(stats.entropy) == pytest.approx((h0 + 2 * math.log(2)) / 3, abs=1e-6)
    assert float(stats.true_class_probability) == pytest.approx((p0 + 1.0) / 3)
    assert float(stats.wrong_fraction) == pytest.approx(2 / 3)


def test_temperature_softens() -> None:
    logits = torch.tensor([[4.0, 0.0]])
    index, classes = torch.tensor([0]), torch.tensor([0])
    sharp = matched_teachers(logits, classes, index, temperature=1.0)
    soft = matched_teachers(logits, classes, index, temperature=4.0)
    p = 1 / (1 + math.exp(-1.0))  # softmax([1, 0])[0] at T = 4
    assert float(soft.true_class_probability) == pytest.approx(p)
    assert float(soft.entropy) > float(sharp.entropy)
    assert float(sharp.wrong_fraction) == float(soft.wrong_fraction) == 0.0
