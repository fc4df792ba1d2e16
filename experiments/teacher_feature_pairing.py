"""Can an RGB-side encoder learn the teacher's view of a scene from pseudo-RGB?

The teacher's pooled features know a mixed scene's dominant cover (77 % of MS
validation images find a same-class gallery image of their dominant cover
through them, against 50 % at random), the SSM matcher's encoders barely
(``matcher_semantics.py``). This probe trains a pseudo-RGB encoder to
*predict* the frozen teacher's output from each MS image's own pseudo-RGB
view: no RGB label, no pair, only the MS archive the teacher was trained on.
Then it pairs within each class, as SSM does, and scores the pairs with the
generator's dominant covers (replayed, as in ``oracle_pairing.py``):

* ``in domain``: MS validation pseudo-RGB (predicted) against the gallery's
  teacher outputs: what the encoder learnt, before any sensor gap;
* ``students``: the RGB training images (area-resized to the MS image size,
  as the encoder was trained) against the same gallery, nearest neighbour.
  (The notebook's rows with the RGB images' BatchNorm statistics, AdaBN, and
  with capacity 1, the hub limit, ran at commit a261fe0: both options left
  the package.)

Reference rows: the teacher's own features, in domain, and a random same-class
teacher for the students. The encoder is a ResNet-18 (timm) with an output of
the target's width, trained with a cosine loss, AdamW and a cosine schedule,
on the gallery's pseudo-RGB views augmented by a random resized crop, flips and
colour jitter (the RGB region's colours differ). Nothing of the pipeline's
output is changed::

    python experiments/teacher_feature_pairing.py data/synthetic output \
        [--target features|logits] [--epochs 40] [--seed 0]
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import kornia.augmentation as K
import timm
import torch
import torch.nn.functional as F
from matcher_semantics import embed, pipeline_parts, random_same_class, same_dominant
from oracle_pairing import scene_mixture
from torch import Tensor, nn

from torchgeo_ackd.datasets import ACKDDataset
from torchgeo_ackd.matching.search import match_cosine


def cosine_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean of ``1 - cos(prediction_i, target_i)`` over the batch.

    Args:
        prediction: (B, D) predicted outputs.
        target: (B, D) the teacher's outputs.

    Returns:
        Scalar in [0, 2].
    """
    return (1 - F.cosine_similarity(prediction, target, dim=1)).mean()


def in_batches(x: Tensor, size: int = 256) -> list[Tensor]:
    """*x* split along its first dimension into batches of at most *size*."""
    return list(x.split(size))


@torch.no_grad()
def predict(model: nn.Module, images: Tensor) -> Tensor:
    """(N, D) outputs of *model* in eval mode on (N, C, H, W) *images*."""
    model.eval()
    return torch.cat([model(batch) for batch in in_batches(images)])


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    augment: Callable[[Tensor], Tensor],
    images: Tensor,
    targets: Tensor,
    generator: torch.Generator,
    batch_size: int = 64,
) -> float:
    """One epoch of the cosine regression in shuffled batches.

    A last batch of one sample is left out (BatchNorm needs two).

    Returns:
        The mean training loss over the samples trained on.
    """
    model.train()
    order = torch.randperm(len(images), generator=generator)
    total, seen = 0.0, 0
    for batch in order.split(batch_size):
        if len(batch) < 2:
            continue
        loss = cosine_loss(model(augment(images[batch])), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
        seen += len(batch)
    return total / seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', type=Path, help='a mixed synthetic benchmark')
    parser.add_argument('out', type=Path, help='the pipeline output folder')
    parser.add_argument('--target', choices=('features', 'logits'), default='features')
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument('--jitter', type=float, default=0.3, help='colour jitter')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    params, dm, teacher = pipeline_parts(args.root, args.out)

    def ms_views(raw: Tensor) -> tuple[Tensor, ...]:
        batch = dm.preprocess({'image': raw})
        out = teacher(batch['image'])
        output = out.embedding if args.target == 'features' else out.logits
        return batch['image_pseudo_rgb'], output

    gallery, students, val = dm.gallery, dm.rgb_train, dm.ms_dataset('val')
    with torch.no_grad():
        g_pseudo, g_target = embed(gallery, ms_views)
        v_pseudo, v_target = embed(val, ms_views)
    ms_size = (g_pseudo.shape[-2], g_pseudo.shape[-1])

    def rgb_view(raw: Tensor) -> tuple[Tensor, ...]:
        rgb = dm.preprocess({'image_rgb': raw})['image_rgb']
        return (F.interpolate(rgb, size=ms_size, mode='area'),)

    with torch.no_grad():
        (s_rgb,) = embed(students, rgb_view)

    g_dom = [scene_mixture('ms', f, params).dominant for f in gallery.files]
    v_dom = [scene_mixture('ms', f, params).dominant for f in val.files]
    s_dom = [scene_mixture('rgb', f, params).dominant for f in students.files]

    def score(queries: Tensor, dataset: ACKDDataset, dominant: list[str]) -> float:
        index, _ = match_cosine(queries, dataset.targets, g_target, gallery.targets)
        return same_dominant(dominant, g_dom, index)

    own = score(v_target, val, v_dom)
    print(f"in domain, the teacher's own {args.target}: same dominant cover {own:.1%}")
    chance = random_same_class(students.targets, gallery.targets, args.seed)
    chance_score = same_dominant(s_dom, g_dom, chance)
    print(
        f'students, a random same-class teacher: same dominant cover {chance_score:.1%}'
    )

    model = timm.create_model('resnet18', in_chans=3, num_classes=g_target.shape[1])
    augment = K.AugmentationSequential(
        K.RandomResizedCrop(ms_size, scale=(0.6, 1.0)),
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(),
        K.ColorJiggle(args.jitter, args.jitter, args.jitter, 0.03, p=1.0),
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        loss = train_epoch(model, optimizer, augment, g_pseudo, g_target, generator)
        schedule.step()
        if epoch % 10 and epoch != args.epochs:
            continue
        v_pred = predict(model, v_pseudo)
        s_pred = predict(model, s_rgb)
        print(
            f'epoch {epoch}: loss train {loss:.3f} val '
            f'{cosine_loss(v_pred, v_target).item():.3f} | in domain '
            f'{score(v_pred, val, v_dom):.1%} | students {score(s_pred, students, s_dom):.1%}',
            flush=True,
        )


if __name__ == '__main__':
    main()
