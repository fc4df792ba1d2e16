"""CUDA checks of the pure-torch parts: matching engine, Planner, KD losses.

Compares each CUDA result with the CPU result on the same inputs and prints
the differences (pairings that differ can only be near-ties, so their score
gap is printed too). Needs only torch and timm, so it runs on a bare GPU
machine with the repository on ``PYTHONPATH``::

    PYTHONPATH=. python benchmarks/gpu_check.py

``--device cpu`` runs the same checks with the CPU in place of CUDA (every
difference is then 0): a smoke run of the script where no GPU is present.
``--students`` / ``--embeddings`` shrink the searches and the forward passes.
"""

import argparse
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from torchgeo_ackd.losses import available_kd_losses, build_kd_loss
from torchgeo_ackd.matching import compute_embeddings, eval_mode, match_cosine, match_kl
from torchgeo_ackd.models import Planner


def _name(device: torch.device) -> str:
    """How the checks name the compared device: CUDA (or CPU for a smoke run)."""
    return device.type.upper()


def check_search(cuda: torch.device, n_s: int = 20_000) -> None:
    gen = torch.Generator().manual_seed(0)
    n_t, k = round(1.1 * n_s), 10
    s_cls = torch.randint(0, k, (n_s,), generator=gen)
    g_cls = torch.randint(0, k, (n_t,), generator=gen)
    for name, dim in (('cosine', 256), ('kl', k)):
        student = 3 * torch.randn(n_s, dim, generator=gen)
        gallery = 3 * torch.randn(n_t, dim, generator=gen)
        search = match_cosine if name == 'cosine' else match_kl
        cpu_pair, cpu_score = search(student, s_cls, gallery, g_cls)
        gpu_pair, gpu_score = search(
            student.to(cuda), s_cls.to(cuda), gallery.to(cuda), g_cls.to(cuda)
        )
        gpu_pair, gpu_score = gpu_pair.cpu(), gpu_score.cpu()
        same = int((cpu_pair == gpu_pair).sum())
        assert torch.equal(g_cls[gpu_pair], s_cls), (
            f'{_name(cuda)} pairing left its class'
        )
        print(
            f'search {name:>6}: {same}/{n_s} identical pairings CPU vs {_name(cuda)}, '
            f'max |score diff| {float((cpu_score - gpu_score).abs().max()):.2e}'
        )


def check_planner_and_losses(cuda: torch.device) -> None:
    torch.manual_seed(0)
    planner = Planner(teacher_channels=512, student_channels=256, embed_dim=128)
    b = 16
    t_patches, s_patches = torch.randn(b, 4, 512), torch.randn(b, 16, 256)
    t_emb, s_emb = torch.randn(b, 512), torch.randn(b, 256, requires_grad=True)
    cpu = planner(t_patches, s_patches, t_emb, s_emb)
    sum(cpu).backward()
    cpu_grad = s_emb.grad.clone()
    s_emb.grad = None
    planner_gpu = planner.to(cuda)
    s_emb_gpu = s_emb.detach().to(cuda).requires_grad_()
    gpu = planner_gpu(t_patches.to(cuda), s_patches.to(cuda), t_emb.to(cuda), s_emb_gpu)
    sum(gpu).backward()
    for name, c, g in zip(('L_ot1', 'L_ot2'), cpu, gpu, strict=True):
        print(
            f'planner {name}: CPU {float(c.detach()):.6f} '
            f'{_name(cuda)} {float(g.detach()):.6f}'
        )
    grad_diff = float((cpu_grad - s_emb_gpu.grad.cpu()).abs().max())
    print(f'planner grad max |CPU - {_name(cuda)}|: {grad_diff:.2e}')
    with torch.autocast(cuda.type, dtype=torch.bfloat16):
        bf16 = planner_gpu(
            t_patches.to(cuda), s_patches.to(cuda), t_emb.to(cuda), s_emb_gpu
        )
    print(f'planner under bf16 autocast finite: {all(map(torch.isfinite, bf16))}')

    logits_s, logits_t = torch.randn(b, 10), 5 * torch.randn(b, 10)
    target = torch.randint(0, 10, (b,))
    feats_s, feats_t = torch.randn(b, 32), torch.randn(b, 64)
    args = (logits_s, logits_t, target, feats_s, feats_t)
    for name in available_kd_losses():
        loss = build_kd_loss(name)
        c = loss(*args)
        g = loss.to(cuda)(*(a.to(cuda) for a in args))
        print(
            f'kd {name:>6}: CPU {float(c.detach()):.6f} '
            f'{_name(cuda)} {float(g.detach()):.6f}'
        )


def check_embeddings(cuda: torch.device, n: int = 600) -> None:
    import timm

    model = timm.create_model('resnet18', num_classes=10).to(cuda).train()
    images = torch.randn(n, 3, 64, 64)
    loader = [
        {'image': images[i : i + 128], 'index': torch.arange(i, min(i + 128, n))}
        for i in range(0, n, 128)
    ]
    with eval_mode(model):
        out = compute_embeddings(model, loader, n, device=cuda)
    assert model.training, 'train mode not restored'
    with torch.no_grad():
        model.eval()
        ref = model(images[:10].to(cuda))
    print(
        f'compute_embeddings on {_name(cuda)}: {tuple(out.shape)} {out.device}, '
        f'max |diff| to a direct forward {float((out[:10] - ref).abs().max()):.2e}'
    )
    kl = F.kl_div(F.log_softmax(out, 1), F.softmax(out, 1), reduction='batchmean')
    print(f'self-KL of the embeddings (should be ~0): {float(kl):.2e}')


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--device', default='cuda', help='device compared with the CPU (cpu: smoke)'
    )
    parser.add_argument(
        '--students', type=int, default=20_000, help='students of the searches'
    )
    parser.add_argument(
        '--embeddings', type=int, default=600, help='images of compute_embeddings'
    )
    args = parser.parse_args(argv)
    cuda = torch.device(args.device)
    if cuda.type == 'cuda':
        if not torch.cuda.is_available():
            raise SystemExit('gpu_check.py needs a CUDA device (or --device cpu)')
        print(f'torch {torch.__version__} on {torch.cuda.get_device_name(cuda)}')
    else:
        print(f'torch {torch.__version__} on {cuda} (smoke run: CPU vs {cuda})')
    torch.backends.cuda.matmul.allow_tf32 = False  # compare full float32
    check_search(cuda, args.students)
    check_planner_and_losses(cuda)
    check_embeddings(cuda, args.embeddings)


if __name__ == '__main__':
    main()
