import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from torchgeo_ackd.matching import match_cosine, match_kl

Float64 = NDArray[np.float64]
Int64 = NDArray[np.int64]


def _log_softmax(x: Float64) -> Float64:
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _brute_cosine(
    s: Float64, s_cls: Int64, g: Float64, g_cls: Int64
) -> tuple[Int64, Float64, Float64]:
    """Best same-class gallery index, its cosine and the gap to the runner-up."""
    sn = s / np.linalg.norm(s, axis=1, keepdims=True)
    gn = g / np.linalg.norm(g, axis=1, keepdims=True)
    pairing = np.empty(len(s), dtype=np.int64)
    best = np.empty(len(s))
    gap = np.full(len(s), np.inf)
    for i in range(len(s)):
        candidates = np.flatnonzero(g_cls == s_cls[i])
        cos = np.array([float(np.dot(sn[i], gn[j])) for j in candidates])
        k = int(np.argmax(cos))
        pairing[i], best[i] = candidates[k], cos[k]
        if len(cos) > 1:
            gap[i] = cos[k] - np.sort(cos)[-2]
    return pairing, best, gap


def _brute_kl(
    zs: Float64, s_cls: Int64, zt: Float64, t_cls: Int64, temperature: float
) -> tuple[Int64, Float64, Float64]:
    """Same-class teacher of lowest KL(p_t || p_s), that KL and the gap."""
    log_ps = _log_softmax(zs / temperature)
    log_pt = _log_softmax(zt / temperature)
    pairing = np.empty(len(zs), dtype=np.int64)
    best = np.empty(len(zs))
    gap = np.full(len(zs), np.inf)
    for i in range(len(zs)):
        candidates = np.flatnonzero(t_cls == s_cls[i])
        kl = np.array(
            [
                float(np.sum(np.exp(log_pt[j]) * (log_pt[j] - log_ps[i])))
                for j in candidates
            ]
        )
        k = int(np.argmin(kl))
        pairing[i], best[i] = candidates[k], kl[k]
        if len(kl) > 1:
            gap[i] = np.sort(kl)[1] - kl[k]
    return pairing, best, gap


def _random_problem(
    seed: int, dim: int, scale: float = 1.0
) -> tuple[Float64, Int64, Float64, Int64]:
    """Students of classes {3, 7, 11, 20}; gallery adds teacher-only class 5."""
    rng = np.random.default_rng(seed)
    s_cls = rng.choice(np.array([3, 7, 11, 20]), size=157)
    g_cls = rng.choice(np.array([3, 5, 7, 11, 20]), size=133)
    s = rng.normal(size=(157, dim)) * scale
    g = rng.normal(size=(133, dim)) * scale
    return s, s_cls, g, g_cls


@pytest.mark.parametrize('chunk_size', [1, 7, 4096])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_cosine_matches_brute_force(chunk_size: int, dtype: torch.dtype) -> None:
    s, s_cls, g, g_cls = _random_problem(0, dim=16)
    ref_pairing, ref_score, gap = _brute_cosine(s, s_cls, g, g_cls)
    # The data must not have near-ties that float32 could flip.
    assert gap.min() > 1e-5
    pairing, score = match_cosine(
        torch.tensor(s, dtype=dtype),
        torch.tensor(s_cls),
        torch.tensor(g, dtype=dtype),
        torch.tensor(g_cls),
        chunk_size=chunk_size,
    )
    assert pairing.dtype == torch.long
    assert pairing.shape == (157,)
    np.testing.assert_array_equal(pairing.numpy(), ref_pairing)
    atol = 1e-6 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(score.numpy(), ref_score, rtol=0, atol=atol)


@pytest.mark.parametrize('chunk_size', [1, 7, 4096])
@pytest.mark.parametrize('temperature', [3.0, 1.0])
def test_kl_matches_brute_force(chunk_size: int, temperature: float) -> None:
    zs, s_cls, zt, t_cls = _random_problem(1, dim=10, scale=3.0)
    ref_pairing, ref_kl, gap = _brute_kl(zs, s_cls, zt, t_cls, temperature)
    assert gap.min() > 1e-5
    pairing, kl = match_kl(
        torch.tensor(zs, dtype=torch.float32),
        torch.tensor(s_cls),
        torch.tensor(zt, dtype=torch.float32),
        torch.tensor(t_cls),
        temperature=temperature,
        chunk_size=chunk_size,
    )
    np.testing.assert_array_equal(pairing.numpy(), ref_pairing)
    np.testing.assert_allclose(kl.numpy(), ref_kl, rtol=1e-4, atol=1e-6)


def test_kl_float64() -> None:
    zs, s_cls, zt, t_cls = _random_problem(2, dim=6, scale=10.0)
    ref_pairing, ref_kl, gap = _brute_kl(zs, s_cls, zt, t_cls, 3.0)
    assert gap.min() > 1e-8
    pairing, kl = match_kl(
        torch.tensor(zs), torch.tensor(s_cls), torch.tensor(zt), torch.tensor(t_cls)
    )
    assert kl.dtype == torch.float64
    np.testing.assert_array_equal(pairing.numpy(), ref_pairing)
    np.testing.assert_allclose(kl.numpy(), ref_kl, rtol=1e-10, atol=1e-12)


def test_kl_extreme_logits() -> None:
    # Logits of size ~1e3: most probabilities underflow in float32 and naive
    # softmax-then-log gives NaN/inf; log_softmax keeps every KL finite.
    zs, s_cls, zt, t_cls = _random_problem(6, dim=6, scale=1000.0)
    pairing, kl = match_kl(
        torch.tensor(zs, dtype=torch.float32),
        torch.tensor(s_cls),
        torch.tensor(zt, dtype=torch.float32),
        torch.tensor(t_cls),
    )
    assert torch.isfinite(kl).all()
    # Near-one-hot teachers tie a lot, so compare the achieved KL (float64)
    # with the optimum rather than the indices.
    _, ref_kl, _ = _brute_kl(zs, s_cls, zt, t_cls, 3.0)
    log_ps = _log_softmax(zs / 3.0)
    log_pt = _log_softmax(zt / 3.0)[pairing.numpy()]
    achieved = np.sum(np.exp(log_pt) * (log_pt - log_ps), axis=1)
    np.testing.assert_allclose(achieved, ref_kl, rtol=1e-5, atol=1e-3)
    assert (t_cls[pairing.numpy()] == s_cls).all()


def test_chunk_size_independence() -> None:
    gen = torch.Generator().manual_seed(3)
    s = torch.randn(500, 32, generator=gen)
    g = torch.randn(400, 32, generator=gen)
    s_cls = torch.randint(0, 6, (500,), generator=gen)
    g_cls = torch.randint(0, 6, (400,), generator=gen)
    results = [
        match_cosine(s, s_cls, g, g_cls, chunk_size=c) for c in (1, 7, 64, 10**6)
    ]
    for pairing, score in results[1:]:
        assert torch.equal(pairing, results[0][0])
        torch.testing.assert_close(score, results[0][1])
    kl_results = [
        match_kl(s[:, :6], s_cls, g[:, :6], g_cls, chunk_size=c) for c in (1, 7, 10**6)
    ]
    for pairing, kl in kl_results[1:]:
        assert torch.equal(pairing, kl_results[0][0])
        torch.testing.assert_close(kl, kl_results[0][1])


def test_same_class_guarantee() -> None:
    # Every student's closest gallery vector is of another class: the search
    # must still stay within the class.
    gen = torch.Generator().manual_seed(4)
    s = torch.randn(60, 8, generator=gen)
    s_cls = torch.arange(60) % 3
    g = torch.cat([s, -s[:3]])  # exact copies of the students...
    g_cls = torch.cat(
        [(torch.arange(60) + 1) % 3, torch.arange(3)]
    )  # ...in other classes
    pairing, score = match_cosine(s, s_cls, g, g_cls)
    assert torch.equal(g_cls[pairing], s_cls)
    assert (score < 0.999).all()
    pairing_kl, _ = match_kl(s, s_cls, g, g_cls)
    assert torch.equal(g_cls[pairing_kl], s_cls)


def test_teacher_only_class_never_matched() -> None:
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s_cls = torch.tensor([0, 0])
    # Class 9 holds perfect matches but has no students.
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    g_cls = torch.tensor([9, 9, 0])
    pairing, score = match_cosine(s, s_cls, g, g_cls)
    assert pairing.tolist() == [2, 2]
    torch.testing.assert_close(score, torch.full((2,), 0.5**0.5))


def test_cosine_ties_go_to_lowest_index() -> None:
    # Entries in {0, +-1} with four non-zeros: unit vectors with entries
    # +-0.5, so every cosine is an exact multiple of 0.25 (no rounding).
    a = torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0])
    b = torch.tensor([1.0, -1, 0, 0, 1, 1, 0, 0])
    c = torch.tensor([0.0, 0, 1, -1, 0, 0, 1, 1])
    g = torch.stack([a, b, a, c, b, a, a])
    g_cls = torch.tensor([1, 0, 0, 0, 0, 0, 0])
    s = torch.stack([a, b, c, 2 * a])
    s_cls = torch.tensor([0, 0, 0, 0])
    for chunk_size in (1, 3, 100):
        pairing, score = match_cosine(s, s_cls, g, g_cls, chunk_size=chunk_size)
        # a: gallery 0 is a but of class 1, so 2 (not 5 or 6); b: 1 (not 4).
        assert pairing.tolist() == [2, 1, 3, 2]
        assert score.tolist() == [1.0, 1.0, 1.0, 1.0]
    # All scores equal (student orthogonal to the whole class): lowest index.
    orthogonal = torch.tensor([[1.0, -1, 0, 0, 0, 0, 0, 0]])
    pairing, score = match_cosine(
        orthogonal, torch.tensor([0]), g[[0, 2, 5, 6]], torch.tensor([1, 0, 0, 0])
    )
    assert pairing.tolist() == [1]
    assert score.tolist() == [0.0]


def test_kl_ties_go_to_lowest_index() -> None:
    gen = torch.Generator().manual_seed(5)
    t = torch.randn(4, 5, generator=gen)
    teacher = torch.stack([t[0], t[1], t[0], t[2], t[0], t[1], t[3]])
    t_cls = torch.tensor([1, 0, 0, 0, 0, 0, 0])
    student = torch.stack([t[0], t[1], t[3]])
    pairing, kl = match_kl(student, torch.zeros(3, dtype=torch.long), teacher, t_cls)
    # t[0] of class 0 first appears at 2 (index 0 is class 1), t[1] at 1.
    assert pairing.tolist() == [2, 1, 6]
    torch.testing.assert_close(kl, torch.zeros(3), atol=1e-6, rtol=0)


def test_missing_student_class() -> None:
    s = torch.randn(5, 4)
    s_cls = torch.tensor([0, 2, 2, 2, 4])
    g = torch.randn(3, 4)
    g_cls = torch.tensor([0, 1, 4])
    with pytest.raises(ValueError, match=r'class 2 \(3 students\)'):
        match_cosine(s, s_cls, g, g_cls)
    with pytest.raises(ValueError, match=r'class 2 \(3 students\)'):
        match_kl(s, s_cls, g, g_cls)


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_inputs(bad: float) -> None:
    s = torch.randn(5, 4)
    g = torch.randn(3, 4)
    cls5, cls3 = torch.zeros(5, dtype=torch.long), torch.zeros(3, dtype=torch.long)
    s_bad = s.clone()
    s_bad[3, 1] = bad
    g_bad = g.clone()
    g_bad[2, 0] = bad
    with pytest.raises(
        ValueError,
        match=r'student_emb has NaN or inf values in 1 of 5 rows \(first rows: \[3\]\)',
    ):
        match_cosine(s_bad, cls5, g, cls3)
    with pytest.raises(ValueError, match='gallery_emb has NaN or inf'):
        match_cosine(s, cls5, g_bad, cls3)
    with pytest.raises(ValueError, match='student_logits has NaN or inf'):
        match_kl(s_bad, cls5, g, cls3)
    with pytest.raises(ValueError, match='teacher_logits has NaN or inf'):
        match_kl(s, cls5, g_bad, cls3)


def test_shape_errors() -> None:
    s, g = torch.randn(5, 4), torch.randn(3, 4)
    cls5, cls3 = torch.zeros(5, dtype=torch.long), torch.zeros(3, dtype=torch.long)
    with pytest.raises(
        ValueError, match='student_emb has dimension 4 but gallery_emb has dimension 6'
    ):
        match_cosine(s, cls5, torch.randn(3, 6), cls3)
    with pytest.raises(
        ValueError, match='student_logits has dimension 4 but teacher_logits'
    ):
        match_kl(s, cls5, torch.randn(3, 6), cls3)
    with pytest.raises(ValueError, match=r'student_classes must have shape \(5,\)'):
        match_cosine(s, cls3, g, cls3)
    with pytest.raises(ValueError, match=r'teacher_classes must have shape \(3,\)'):
        match_kl(s, cls5, g, cls5)
    with pytest.raises(ValueError, match=r'gallery_emb must have shape \(N, D\)'):
        match_cosine(s, cls5, g[0], cls3)
    with pytest.raises(ValueError, match='student_emb is empty'):
        match_cosine(s[:0], cls5[:0], g, cls3)
    with pytest.raises(ValueError, match='gallery_emb is empty'):
        match_cosine(s, cls5, g[:0], cls3[:0])


def test_type_and_argument_errors() -> None:
    s, g = torch.randn(5, 4), torch.randn(3, 4)
    cls5, cls3 = torch.zeros(5, dtype=torch.long), torch.zeros(3, dtype=torch.long)
    with pytest.raises(TypeError, match='student_classes must be an integer tensor'):
        match_cosine(s, cls5.float(), g, cls3)
    with pytest.raises(TypeError, match='gallery_emb must be a floating-point tensor'):
        match_cosine(s, cls5, g.long(), cls3)
    with pytest.raises(ValueError, match='chunk_size must be >= 1'):
        match_cosine(s, cls5, g, cls3, chunk_size=0)
    with pytest.raises(ValueError, match='temperature must be a finite number > 0'):
        match_kl(s, cls5, g, cls3, temperature=0.0)


def test_nearest_class_accuracy_hand_computed() -> None:
    from torchgeo_ackd.matching import nearest_class_accuracy

    gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    gallery_labels = torch.tensor([0, 1, 2])
    # Nearest over ALL classes: rows 0, 1 and 2 retrieve gallery 0, 1 and 2.
    query = torch.tensor([[2.0, 0.1], [0.1, 3.0], [-1.0, -0.2]])
    labels = torch.tensor([0, 0, 2])  # the second query's nearest is class 1
    accuracy = nearest_class_accuracy(query, labels, gallery, gallery_labels)
    assert float(accuracy) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match='one width'):
        nearest_class_accuracy(query, labels, gallery[:, :1], gallery_labels)
