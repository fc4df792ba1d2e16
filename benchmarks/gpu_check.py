"""CUDA checks of the pure-torch parts: matching engine, Planner, KD losses.

Compares each CUDA result with the CPU result on the same inputs and prints
the differences (pairings that differ can only be near-ties, so their score
gap is printed too). Needs only torch and timm, so it runs on a bare GPU
machine with the repository on ``PYTHONPATH``::

    PYTHONPATH=. python benchmarks/gpu_check.py
"""

import torch
import torch.nn.functional as F

from torchgeo_ackd.losses import available_kd_losses, build_kd_loss
from torchgeo_ackd.matching import compute_embeddings, eval_mode, match_cosine, match_kl
from torchgeo_ackd.models import Planner


def check_search(cuda: torch.device) -> None:
    gen = torch.Generator().manual_seed(0)
    n_s, n_t, k = 20_000, 22_000, 10
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
        assert torch.equal(g_cls[gpu_pair], s_cls), 'CUDA pairing left its class'
        print(
            f'search {name:>6}: {same}/{n_s} identical pairings CPU vs CUDA, '
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
            f'planner {name}: CPU {float(c.detach()):.6f} CUDA {float(g.detach()):.6f}'
        )
    grad_diff = float((cpu_grad - s_emb_gpu.grad.cpu()).abs().max())
    print(f'planner grad max |CPU - CUDA|: {grad_diff:.2e}')
    with torch.autocast('cuda', dtype=torch.bfloat16):
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
        print(f'kd {name:>6}: CPU {float(c):.6f} CUDA {float(g):.6f}')


def check_embeddings(cuda: torch.device) -> None:
    import timm

    model = timm.create_model('resnet18', num_classes=10).to(cuda).train()
    images = torch.randn(600, 3, 64, 64)
    loader = [
        {'image': images[i : i + 128], 'index': torch.arange(i, min(i + 128, 600))}
        for i in range(0, 600, 128)
    ]
    with eval_mode(model):
        out = compute_embeddings(model, loader, 600, device=cuda)
    assert model.training, 'train mode not restored'
    with torch.no_grad():
        model.eval()
        ref = model(images[:10].to(cuda))
    print(
        f'compute_embeddings on CUDA: {tuple(out.shape)} {out.device}, '
        f'max |diff| to a direct forward {float((out[:10] - ref).abs().max()):.2e}'
    )
    kl = F.kl_div(F.log_softmax(out, 1), F.softmax(out, 1), reduction='batchmean')
    print(f'self-KL of the embeddings (should be ~0): {float(kl):.2e}')


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit('gpu_check.py needs a CUDA device')
    cuda = torch.device('cuda')
    print(f'torch {torch.__version__} on {torch.cuda.get_device_name(cuda)}')
    torch.backends.cuda.matmul.allow_tf32 = False  # compare full float32
    check_search(cuda)
    check_planner_and_losses(cuda)
    check_embeddings(cuda)


if __name__ == '__main__':
    main()
