"""Benchmark of the matching engine (issue 4).

(a) Search alone at the paper's scale (63,549 students x 70,414 gallery
    samples, 10 balanced classes): 256-d cosine and 10-class KL. Each search
    runs in a fresh process so that its peak resident memory (ru_maxrss, which
    includes the Python + torch baseline) is its own. Targets: <= 30 s each,
    <= 4 GiB.
(b) Whole DynM re-matching of 2,000 students against 2,000 gallery samples
    with a timm ResNet-18 student (10 classes, 3x64x64 inputs): batched
    forward passes in eval/inference mode + match_kl, against the reference's
    naive loop (one student at a time: forward with batch size 1, KL against
    its class's teacher logits, argmin), timed on a subset and extrapolated.
    Target: >= 20x faster.

Times are the best of ``--repeats`` runs (the machine may be shared).
Usage from the repository root (full run; a quick smoke run shrinks the
sizes; ``PYTHONPATH=.`` is only needed while the package is not installed)::

    PYTHONPATH=. python benchmarks/bench_matching.py
    PYTHONPATH=. python benchmarks/bench_matching.py --students 2000 --gallery 2000 \
        --rematch-students 200 --rematch-gallery 200 --naive-subset 20
"""

import argparse
import multiprocessing as mp
import resource
import time
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from torchgeo_ackd.matching import compute_embeddings, eval_mode, match_cosine, match_kl


def _rss_mib() -> float:
    """Current resident memory of this process in MiB (Linux /proc)."""
    try:
        import psutil  # optional

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024
    return float('nan')


def _peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _balanced_classes(n: int, num_classes: int, gen: torch.Generator) -> Tensor:
    classes = torch.arange(n) % num_classes
    return classes[torch.randperm(n, generator=gen)]


def _search_child(kind: str, args: argparse.Namespace, queue: 'mp.Queue[dict]') -> None:
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    s_cls = _balanced_classes(args.students, args.classes, gen)
    g_cls = _balanced_classes(args.gallery, args.classes, gen)
    if kind == 'cosine':
        student = torch.randn(args.students, args.dim, generator=gen)
        gallery = torch.randn(args.gallery, args.dim, generator=gen)
    else:
        student = 3 * torch.randn(args.students, args.classes, generator=gen)
        gallery = 3 * torch.randn(args.gallery, args.classes, generator=gen)
    device = torch.device(args.search_device)
    student, gallery = student.to(device), gallery.to(device)
    s_cls, g_cls = s_cls.to(device), g_cls.to(device)
    rss_inputs = _rss_mib()
    search = match_cosine if kind == 'cosine' else match_kl
    extra = () if kind == 'cosine' else (3.0,)
    if device.type == 'cuda':  # warm-up: CUDA context, cuBLAS handles
        search(student[:10], s_cls[:10], gallery, g_cls, *extra)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    pairing, _ = search(student, s_cls, gallery, g_cls, *extra, args.chunk_size)
    if device.type == 'cuda':
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    assert torch.equal(g_cls[pairing], s_cls)
    queue.put(
        {
            'seconds': seconds,
            'peak_mib': _peak_rss_mib(),
            'rss_inputs_mib': rss_inputs,
            'gpu_peak_mib': torch.cuda.max_memory_allocated() / 2**20
            if device.type == 'cuda'
            else 0.0,
        }
    )


def bench_search(args: argparse.Namespace) -> None:
    print(
        f'(a) search: {args.students} students x {args.gallery} gallery, '
        f'{args.classes} balanced classes, chunk {args.chunk_size}, '
        f'{args.threads} threads, on {args.search_device}'
    )
    ctx = mp.get_context('spawn')
    for kind, label in (
        ('cosine', f'cosine {args.dim}-d'),
        ('kl', f'KL {args.classes}-class'),
    ):
        queue: mp.Queue[dict] = ctx.Queue()
        proc = ctx.Process(target=_search_child, args=(kind, args, queue))
        proc.start()
        result = queue.get()
        proc.join()
        print(
            f'    {label:>14}: {result["seconds"]:7.2f} s, peak RSS '
            f'{result["peak_mib"] / 1024:5.2f} GiB (process total; '
            f'{result["rss_inputs_mib"] / 1024:.2f} GiB before the search)'
            + (
                f', peak GPU memory {result["gpu_peak_mib"] / 1024:.2f} GiB'
                if result['gpu_peak_mib']
                else ''
            )
        )


def _batches(images: Tensor, batch_size: int) -> Iterator[dict[str, Tensor]]:
    for lo in range(0, len(images), batch_size):
        hi = min(lo + batch_size, len(images))
        yield {'image': images[lo:hi], 'index': torch.arange(lo, hi)}


def _best_of(repeats: int, fn: Callable[[], Tensor]) -> tuple[float, Tensor]:
    """Minimum wall time of ``repeats`` calls (robust to a shared machine)."""
    best, result = float('inf'), torch.empty(0)
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_rematch(args: argparse.Namespace) -> None:
    import timm

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(1)
    n_s, n_t = args.rematch_students, args.rematch_gallery
    model = timm.create_model('resnet18', num_classes=args.classes, pretrained=False)
    model = model.to(device).train()  # as during training; both paths use eval
    images = torch.randn(n_s, 3, args.image_size, args.image_size, generator=gen)
    images = images.to(device)
    s_cls = _balanced_classes(n_s, args.classes, gen).to(device)
    t_cls = _balanced_classes(n_t, args.classes, gen).to(device)
    teacher_logits = (3 * torch.randn(n_t, args.classes, generator=gen)).to(device)
    print(
        f'(b) re-matching: {n_s} students x {n_t} gallery, ResNet-18 '
        f'{args.image_size}x{args.image_size} on {device}, batch '
        f'{args.batch_size}, {args.threads} threads, best of {args.repeats}'
    )

    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize()

    logits = torch.empty(0)

    def vectorised() -> Tensor:
        nonlocal logits
        with eval_mode(model):
            logits = compute_embeddings(
                model, _batches(images, args.batch_size), n_s, device=device
            )
        pairing = match_kl(logits, s_cls, teacher_logits, t_cls, temperature=3.0)[0]
        sync()
        return pairing

    def search_only() -> Tensor:
        pairing = match_kl(logits, s_cls, teacher_logits, t_cls, temperature=3.0)[0]
        sync()
        return pairing

    # The reference: teacher logits grouped by class once, then per student a
    # batch-1 forward, KL against its class block, argmin.
    blocks = {c: (t_cls == c).nonzero().flatten() for c in range(args.classes)}
    subset = min(args.naive_subset, n_s)

    def naive(count: int = subset) -> Tensor:
        pairing = torch.empty(count, dtype=torch.long)
        model.eval()
        with torch.no_grad():
            for i in range(count):
                z_s = model(images[i : i + 1])
                block = blocks[int(s_cls[i])]
                kl = F.kl_div(
                    F.log_softmax(z_s / 3.0, dim=1),
                    F.softmax(teacher_logits[block] / 3.0, dim=1),
                    reduction='none',
                ).sum(dim=1)
                pairing[i] = block[int(kl.argmin())]
        model.train()
        return pairing

    # Warm-up of both paths (allocator, oneDNN primitives / cuDNN autotuning).
    with eval_mode(model), torch.inference_mode():
        model(images[: args.batch_size])
    naive(2)
    sync()

    fast_s, fast = _best_of(args.repeats, vectorised)
    search_s, _ = _best_of(args.repeats, search_only)
    naive_subset_s, slow = _best_of(args.repeats, naive)
    naive_s = naive_subset_s * n_s / subset
    agree = int((fast[:subset].cpu() == slow).sum())
    print(
        f'    batched forward + match_kl: {fast_s:8.3f} s '
        f'(match_kl alone {search_s:.4f} s)'
    )
    print(
        f'    naive loop:                 {naive_s:8.3f} s (extrapolated from '
        f'{subset} students in {naive_subset_s:.3f} s)'
    )
    print(f'    speed-up:                   {naive_s / fast_s:8.1f}x')
    print(f'    same pairing on the naive subset: {agree}/{subset}')


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--students', type=int, default=63_549)
    parser.add_argument('--gallery', type=int, default=70_414)
    parser.add_argument('--classes', type=int, default=10)
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--chunk-size', type=int, default=4096)
    parser.add_argument('--rematch-students', type=int, default=2000)
    parser.add_argument('--rematch-gallery', type=int, default=2000)
    parser.add_argument('--naive-subset', type=int, default=200)
    parser.add_argument('--batch-size', type=int, default=250)
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu', help='device of part (b)')
    parser.add_argument('--search-device', default='cpu', help='device of part (a)')
    parser.add_argument('--skip-search', action='store_true')
    parser.add_argument('--skip-rematch', action='store_true')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {args.threads} threads')
    if not args.skip_search:
        bench_search(args)
    if not args.skip_rematch:
        bench_rematch(args)


if __name__ == '__main__':
    main()
