"""Does the SSM matcher pair students with teachers of the same composition?

On a mixed synthetic benchmark (``python -m torchgeo_ackd.synthetic``, the default)
every scene's dominant land cover is known to the generator (replayed from
each file's seed, as in ``oracle_pairing.py``), so a pairing can be scored:
the share of students whose matched teacher has *their* dominant land cover.
With annotated labels a third of the labels name the minor cover, so a
teacher of the same label has the student's dominant cover only about 44 % of
the time when drawn at random; a matching that sees the composition does
better. Reported, within each class as SSM pairs:

* ``SSM``: the pipeline's matcher, RGB students (M_G) against the MS gallery
  (M_V) (the rows with the hub limit, capacity 1, and with M_G's BatchNorm
  statistics re-estimated on the students, ``adapt_batchnorm``, ran at commit
  a261fe0: both options left the package);
* ``in domain``: MS *validation* images against the MS gallery, through the
  matcher's MS encoder and through its pseudo-RGB encoder, and through the
  teacher's pooled features: what the embeddings know before any domain gap;
* ``random``: a random gallery image of the class (seeded).

Nothing is trained; every number is of the pipeline's own checkpoints::

    python experiments/matcher_semantics.py data/synthetic-annotated output/annotated
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
import yaml
from oracle_pairing import mixed_parameters, scene_mixture
from torch import Tensor

from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.datasets import ACKDDataset
from torchgeo_ackd.matching.search import match_cosine
from torchgeo_ackd.models.teacher import FrozenTeacher, TeacherConfig
from torchgeo_ackd.tasks import MatcherTask


def same_dominant(queries: list[str], gallery: list[str], index: Tensor) -> float:
    """Share of queries whose matched gallery image has their dominant cover.

    Args:
        queries: Dominant land cover of each query.
        gallery: Dominant land cover of each gallery image.
        index: (N_q,) gallery index matched to each query.

    Returns:
        The share in [0, 1].
    """
    hits = sum(queries[q] == gallery[g] for q, g in enumerate(index.tolist()))
    return hits / len(queries)


def random_same_class(
    query_classes: Tensor, gallery_classes: Tensor, seed: int
) -> Tensor:
    """A uniformly random gallery image of each query's class (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    index = torch.empty(len(query_classes), dtype=torch.long)
    for q, label in enumerate(query_classes.tolist()):
        candidates = (gallery_classes == label).nonzero().flatten()
        pick = torch.randint(len(candidates), (1,), generator=generator)
        index[q] = candidates[pick]
    return index


@torch.no_grad()
def embed(
    dataset: ACKDDataset, fn: Callable[[Tensor], tuple[Tensor, ...]]
) -> list[Tensor]:
    """Run *fn* on the raw images of a dataset in batches of 256; concatenate."""
    outputs = []
    for start in range(0, len(dataset), 256):
        stop = min(start + 256, len(dataset))
        outputs.append(
            fn(dataset.__getitems__(list(range(start, stop))).collated['image'])
        )
    return [torch.cat(parts) for parts in zip(*outputs, strict=True)]


def pipeline_parts(
    root: Path, out: Path
) -> tuple[dict, SyntheticACKDDataModule, FrozenTeacher]:  # type: ignore[type-arg]
    """What a pipeline output folder on a mixed benchmark holds for these probes.

    Args:
        root: The mixed synthetic benchmark.
        out: The pipeline's output folder (its matcher stage and the
            ``kd_seed0`` student run).

    Returns:
        The benchmark's generator parameters, the matcher stage's datamodule
        (set up for ``fit``) and the frozen teacher the students were given.
    """
    params = mixed_parameters(root)
    config = yaml.safe_load((out / 'matcher' / 'config.yaml').read_text())
    data = config['data']['init_args'] | {'root': root, 'generate': False}
    data |= {'mixed': True}
    dm = SyntheticACKDDataModule(**data)
    dm.setup('fit')
    student_config = yaml.safe_load(
        (out / 'students' / 'kd_seed0' / 'config.yaml').read_text()
    )
    teacher_args = TeacherConfig(**student_config['model']['init_args']['teacher'])
    teacher = FrozenTeacher.from_config(teacher_args, len(dm.gallery.classes))
    return params, dm, teacher.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', type=Path, help='a mixed synthetic benchmark')
    parser.add_argument('out', type=Path, help='the pipeline output folder')
    parser.add_argument('--seed', type=int, default=0, help='of the random pairing')
    args = parser.parse_args()
    params, dm, teacher = pipeline_parts(args.root, args.out)
    matcher = MatcherTask.load_from_checkpoint(
        args.out / 'matcher' / 'best.ckpt', map_location='cpu'
    ).eval()

    def ms_views(raw: Tensor) -> tuple[Tensor, ...]:
        batch = dm.preprocess({'image': raw})
        ms, pseudo = batch['image'], batch['image_pseudo_rgb']
        return (
            matcher.embed_ms(ms),
            matcher.embed_rgb(pseudo),
            teacher(ms).embedding,
        )

    def rgb_view(raw: Tensor) -> tuple[Tensor, ...]:
        return (matcher.embed_rgb(dm.preprocess({'image_rgb': raw})['image_rgb']),)

    gallery, students, val = dm.gallery, dm.rgb_train, dm.ms_dataset('val')
    g_ms, _, g_teacher = embed(gallery, ms_views)
    (s_rgb,) = embed(students, rgb_view)
    v_ms, v_pseudo, v_teacher = embed(val, ms_views)

    def dominant(modality: str, dataset: ACKDDataset) -> list[str]:
        return [scene_mixture(modality, f, params).dominant for f in dataset.files]

    g_dom = dominant('ms', gallery)
    s_dom, v_dom = dominant('rgb', students), dominant('ms', val)
    rows = [
        ('SSM: RGB students -> MS gallery', s_dom, s_rgb, g_ms, students),
        ('in domain: MS val (M_V) -> MS gallery', v_dom, v_ms, g_ms, val),
        ('in domain: MS val pseudo-RGB (M_G) -> MS gallery', v_dom, v_pseudo, g_ms, val),
        ('in domain: teacher features, MS val -> MS gallery', v_dom, v_teacher, g_teacher, val),
    ]  # fmt: skip
    for name, queries, q_emb, g_emb, dataset in rows:
        index, _ = match_cosine(q_emb, dataset.targets, g_emb, gallery.targets)
        print(f'{name}: same dominant cover {same_dominant(queries, g_dom, index):.1%}')
    for name, queries, dataset in (
        ('RGB students', s_dom, students),
        ('MS val', v_dom, val),
    ):
        index = random_same_class(dataset.targets, gallery.targets, args.seed)
        print(
            f'random same-class, {name}: same dominant cover '
            f'{same_dominant(queries, g_dom, index):.1%}'
        )


if __name__ == '__main__':
    main()
