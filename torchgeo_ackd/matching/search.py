"""Class-blocked, chunked nearest-teacher search for Student-Friendly Matching.

Every student is paired with one gallery (teacher) sample of the SAME class, by one
matrix product per chunk of students within a class block (extra memory:
``chunk_size x (largest gallery class)`` scores, not ``Ns x Nt``). Ties go to the
lowest gallery index (stable class sort, first-extreme ``torch.max``/``torch.min``).
"""

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_features(name: str, x: Tensor) -> None:
    """Check that ``x`` is a non-empty, finite (N, D) floating tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f'{name} must be a Tensor, got {type(x).__name__}')
    if x.ndim != 2:
        raise ValueError(f'{name} must have shape (N, D), got {tuple(x.shape)}')
    if not x.is_floating_point():
        raise TypeError(f'{name} must be a floating-point tensor, got {x.dtype}')
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f'{name} is empty: shape {tuple(x.shape)}')
    finite = torch.isfinite(x).all(dim=1)
    if not bool(finite.all()):
        bad = (~finite).nonzero().flatten()
        raise ValueError(
            f'{name} has NaN or inf values in {bad.numel()} of {x.shape[0]} rows '
            f'(first rows: {bad[:5].tolist()})'
        )


def _check_classes(name: str, classes: Tensor, n: int, device: torch.device) -> Tensor:
    """Check that ``classes`` is an (n,) integer tensor; move it to ``device``."""
    if not isinstance(classes, Tensor):
        raise TypeError(f'{name} must be a Tensor, got {type(classes).__name__}')
    if (
        classes.is_floating_point()
        or classes.is_complex()
        or classes.dtype == torch.bool
    ):
        raise TypeError(f'{name} must be an integer tensor, got {classes.dtype}')
    if classes.shape != (n,):
        raise ValueError(
            f'{name} must have shape ({n},) to match its features, got '
            f'{tuple(classes.shape)}'
        )
    return classes.to(device=device, dtype=torch.long)


def _check_chunk_size(chunk_size: int) -> None:
    """Check that ``chunk_size`` is a positive int."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f'chunk_size must be an int, got {type(chunk_size).__name__}')
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')


def _check_pair(
    names: tuple[str, str, str, str],
    student: Tensor,
    student_classes: Tensor,
    gallery: Tensor,
    gallery_classes: Tensor,
) -> tuple[Tensor, Tensor]:
    """Validate a student/gallery pair (``names``: argument names); return long classes."""
    student_name, s_cls_name, gallery_name, g_cls_name = names
    _check_features(student_name, student)
    _check_features(gallery_name, gallery)
    if student.shape[1] != gallery.shape[1]:
        raise ValueError(
            f'{student_name} has dimension {student.shape[1]} but {gallery_name} '
            f'has dimension {gallery.shape[1]}'
        )
    if student.device != gallery.device:
        raise ValueError(
            f'{student_name} is on {student.device} but {gallery_name} is on '
            f'{gallery.device}'
        )
    s_cls = _check_classes(s_cls_name, student_classes, len(student), student.device)
    g_cls = _check_classes(g_cls_name, gallery_classes, len(gallery), gallery.device)
    return s_cls, g_cls


def _compute_dtype(a: Tensor, b: Tensor) -> torch.dtype:
    """Common floating dtype of two inputs, at least float32 for stable arg-extremes."""
    return torch.promote_types(torch.promote_types(torch.float32, a.dtype), b.dtype)


def _blocked_search(
    student: Tensor,
    student_classes: Tensor,
    gallery: Tensor,
    gallery_classes: Tensor,
    gallery_bias: Tensor | None,
    chunk_size: int,
) -> tuple[Tensor, Tensor]:
    """Within-class best gallery sample for every student.

    The score is ``student @ gallery^T`` (maximum wins) or, with ``gallery_bias``
    (Nt,), ``gallery_bias - student @ gallery^T`` (minimum wins).

    Returns:
        (Ns,) long global gallery indices and (Ns,) winning scores.
    """
    device = student.device
    s_sorted_cls, s_order = torch.sort(student_classes, stable=True)
    g_sorted_cls, g_order = torch.sort(gallery_classes, stable=True)
    s_cls, s_counts = torch.unique_consecutive(s_sorted_cls, return_counts=True)
    g_cls, g_counts = torch.unique_consecutive(g_sorted_cls, return_counts=True)

    missing = ~torch.isin(s_cls, g_cls)
    if bool(missing.any()):
        students = zip(s_cls[missing].tolist(), s_counts[missing].tolist(), strict=True)
        details = ', '.join(f'class {c} ({n} students)' for c, n in students)
        raise ValueError(
            f'no gallery (teacher) samples for student classes: {details}; every '
            'student class needs at least one teacher sample of the same class'
        )

    g_ends = torch.cumsum(g_counts, 0).tolist()
    g_block = {
        c: (end - n, n)
        for c, end, n in zip(g_cls.tolist(), g_ends, g_counts.tolist(), strict=True)
    }
    s_feats = student[s_order]
    g_feats = gallery[g_order]
    g_bias = None if gallery_bias is None else gallery_bias[g_order]

    pairing = torch.empty(len(student), dtype=torch.long, device=device)
    score = torch.empty(len(student), dtype=student.dtype, device=device)
    # One reusable score buffer: chunk_size x largest gallery block.
    max_chunk = min(chunk_size, int(s_counts.max()))
    buffer = torch.empty(
        max_chunk * int(g_counts.max()), dtype=student.dtype, device=device
    )

    s_start = 0
    for c, s_count in zip(s_cls.tolist(), s_counts.tolist(), strict=True):
        g_start, g_count = g_block[c]
        block_t = g_feats[g_start : g_start + g_count].T
        block_bias = None if g_bias is None else g_bias[g_start : g_start + g_count]
        block_index = g_order[g_start : g_start + g_count]
        for lo in range(s_start, s_start + s_count, chunk_size):
            hi = min(lo + chunk_size, s_start + s_count)
            scores = buffer[: (hi - lo) * g_count].view(hi - lo, g_count)
            torch.mm(s_feats[lo:hi], block_t, out=scores)
            if block_bias is None:
                best, arg = scores.max(dim=1)
            else:
                scores.neg_().add_(block_bias)
                best, arg = scores.min(dim=1)
            rows = s_order[lo:hi]  # back to the students' own order
            pairing[rows] = block_index[arg]
            score[rows] = best
        s_start += s_count
    return pairing, score


def match_cosine(
    student_emb: Tensor,
    student_classes: Tensor,
    gallery_emb: Tensor,
    gallery_classes: Tensor,
    chunk_size: int = 4096,
) -> tuple[Tensor, Tensor]:
    """Pair each student with the most cosine-similar gallery sample of its class.

    The initial pairing of SSM: the matcher's RGB against its MS embeddings.

    Args:
        student_emb: (Ns, D) student embeddings.
        student_classes: (Ns,) integer class index of each student.
        gallery_emb: (Nt, D) gallery (teacher) embeddings on the same device.
        gallery_classes: (Nt,) integer class index of each gallery sample.
        chunk_size: Students per matrix product.

    Returns:
        ``(pairing, score)``: (Ns,) long global gallery index of each student's
        match (ties: lowest index), and (Ns,) its cosine similarity in [-1, 1]
        (float32 or wider; 0 for an all-zero embedding).

    Raises:
        TypeError: If an input has the wrong type or dtype.
        ValueError: If inputs are empty, non-finite, of mismatched shapes or
            devices, or a student class has no gallery sample.
    """
    _check_chunk_size(chunk_size)
    names = ('student_emb', 'student_classes', 'gallery_emb', 'gallery_classes')
    s_cls, g_cls = _check_pair(
        names, student_emb, student_classes, gallery_emb, gallery_classes
    )
    dtype = _compute_dtype(student_emb, gallery_emb)
    student = F.normalize(student_emb.to(dtype), dim=1)
    gallery = F.normalize(gallery_emb.to(dtype), dim=1)
    return _blocked_search(student, s_cls, gallery, g_cls, None, chunk_size)


def match_kl(
    student_logits: Tensor,
    student_classes: Tensor,
    teacher_logits: Tensor,
    teacher_classes: Tensor,
    temperature: float = 3.0,
    chunk_size: int = 4096,
) -> tuple[Tensor, Tensor]:
    """Pair each student with the teacher sample of its class of lowest KL.

    The re-matching of DynM: ``KL(softmax(z_t / T) || softmax(z_s / T))`` in nats,
    computed as ``sum_k p_t log p_t - log p_s @ p_t^T``.

    Args:
        student_logits: (Ns, K) current student logits.
        student_classes: (Ns,) integer class index of each student.
        teacher_logits: (Nt, K) frozen teacher logits of the gallery, same device.
        teacher_classes: (Nt,) integer class index of each gallery sample.
        temperature: Softmax temperature T > 0 (reference: 3).
        chunk_size: Students per matrix product.

    Returns:
        ``(pairing, kl)``: (Ns,) long global gallery index of each student's
        match (ties: lowest index), and (Ns,) its KL divergence in nats (>= 0,
        float32 or wider).

    Raises:
        TypeError: If an input has the wrong type or dtype.
        ValueError: If inputs are empty, non-finite, of mismatched shapes or devices,
            the temperature is not positive, or a student class has no gallery sample.
    """
    _check_chunk_size(chunk_size)
    if not (isinstance(temperature, int | float) and 0 < temperature < float('inf')):
        raise ValueError(
            f'temperature must be a finite number > 0, got {temperature!r}'
        )
    names = ('student_logits', 'student_classes', 'teacher_logits', 'teacher_classes')
    s_cls, t_cls = _check_pair(
        names, student_logits, student_classes, teacher_logits, teacher_classes
    )
    dtype = _compute_dtype(student_logits, teacher_logits)
    log_p_s = F.log_softmax(student_logits.to(dtype) / temperature, dim=1)
    log_p_t = F.log_softmax(teacher_logits.to(dtype) / temperature, dim=1)
    p_t = log_p_t.exp()
    # Negative entropy of each teacher; an underflowed p_t = 0 contributes 0.
    neg_entropy_t = (p_t * log_p_t).sum(dim=1)
    pairing, kl = _blocked_search(log_p_s, s_cls, p_t, t_cls, neg_entropy_t, chunk_size)
    # Rounding can leave a true 0 slightly negative.
    return pairing, kl.clamp_min_(0)
