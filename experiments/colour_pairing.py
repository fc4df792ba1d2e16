"""Is a pairing that sees more composition than SSM enough for a KD gain?

A diagnostic of the mixed synthetic benchmark (the default), not a method.
``matcher_semantics.py`` shows that the SSM matcher pairs a student with a
teacher of its dominant land cover no more often than a random draw of the
same label. A descriptor that needs no training does better: the deciles of
each RGB channel of an image (the student's RGB, the teacher's pseudo-RGB
view, both normalised as the pipeline normalises them), standardised within
each class *and each sensor* (so that the sensor gap, a per-sensor shift and
scale of every decile, cancels), compared by cosine within the class, as SSM
compares its embeddings. This script builds that pairing for the students of
a pipeline run, prints how often it holds the student's dominant cover, and
trains vanilla KD with it for the run's seeds, no re-matching, no SKA (the
configs of the pipeline's ``kd`` runs, the same teacher, splits and seeds),
as ``kd_colour`` runs beside the pipeline's::

    python -m torchgeo_ackd.pipeline --seeds 0,1,2
    python experiments/colour_pairing.py data/synthetic output --seeds 0,1,2
    python experiments/colour_pairing.py data/synthetic output --seeds 0,1,2 \\
        --kd-temperature-squared
    python experiments/fresh_test.py output --per-class 240 --against baseline,kd

``--kd-temperature-squared`` trains vanilla KD with random pairs and with
these pairs again, KD loss scaled by ``T^2``, into ``OUT/students-t2`` (next
to links to the baseline runs); score that folder with ``fresh_test.py
--students OUT/students-t2``. Finished runs are reused. Nothing is chosen on
the test split: the script reports what the runs give.
"""

import torch
from matcher_semantics import embed, same_dominant
from oracle_pairing import (
    link_baselines,
    mixed_parameters,
    mixed_run_parser,
    run_config,
    run_split,
    scene_mixture,
)
from torch import Tensor

from torchgeo_ackd.datamodules import SyntheticMSDataModule
from torchgeo_ackd.datasets import ACKDDataset, Pairing
from torchgeo_ackd.matching.search import match_cosine
from torchgeo_ackd.pipeline.stages import read_test_metrics, run_stage

#: The deciles' levels, from the 5th to the 95th percentile.
LEVELS = torch.linspace(0.05, 0.95, 10)


def channel_quantiles(images: Tensor, levels: Tensor = LEVELS) -> Tensor:
    """The quantiles of every channel of every image.

    Args:
        images: (B, C, H, W) images.
        levels: (Q,) quantile levels in [0, 1].

    Returns:
        (B, C * Q): channel 0's quantiles, then channel 1's, ...
    """
    quantiles = torch.quantile(images.flatten(2).float(), levels, dim=2)  # (Q, B, C)
    return quantiles.permute(1, 2, 0).flatten(1)


def standardise_within_classes(
    features: Tensor, labels: Tensor, tolerance: float = 1e-4
) -> Tensor:
    """Every feature to mean 0 and standard deviation 1 within each class.

    Args:
        features: (N, D) features of one sensor's images.
        labels: (N,) their classes.
        tolerance: The smallest standard deviation scaled to 1.

    Returns:
        (N, D) standardised features. A feature whose spread within a class
        is below *tolerance* becomes 0 there: rounding must not be scaled up
        to a unit difference.
    """
    out = torch.zeros_like(features)
    for label in labels.unique():
        rows = labels == label
        block = features[rows]
        spread = block.std(0, unbiased=False)
        centred = block - block.mean(0)
        out[rows] = torch.where(spread > tolerance, centred / spread, 0.0)
    return out


def colour_pairing(
    dm: SyntheticMSDataModule, students: ACKDDataset | None = None
) -> Pairing:
    """Each student image with the MS gallery image of its class of closest colours.

    Args:
        dm: The benchmark's datamodule (``pseudo_rgb=True``, set up for fit).
        students: The images to pair (default: the RGB training images);
            MS images are described by their pseudo-RGB view.

    Returns:
        The pairing, scored by cosine similarity.
    """

    def pseudo_rgb(raw: Tensor) -> tuple[Tensor]:
        return (channel_quantiles(dm.preprocess({'image': raw})['image_pseudo_rgb']),)

    def rgb(raw: Tensor) -> tuple[Tensor]:
        return (channel_quantiles(dm.preprocess({'image_rgb': raw})['image_rgb']),)

    students = students if students is not None else dm.rgb_train
    gallery = dm.gallery
    (student_features,) = embed(
        students, rgb if students.modality == 'rgb' else pseudo_rgb
    )
    (gallery_features,) = embed(gallery, pseudo_rgb)
    index, scores = match_cosine(
        standardise_within_classes(student_features, students.targets),
        students.targets,
        standardise_within_classes(gallery_features, gallery.targets),
        gallery.targets,
    )
    return Pairing.for_datasets(index, students, gallery, scores)


def main() -> None:
    parser = mixed_run_parser(__doc__.splitlines()[0])
    parser.add_argument(
        '--kd-temperature-squared',
        action='store_true',
        help='scale the KD loss by T^2; train vanilla KD again too (OUT/students-t2)',
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(',')]
    params = mixed_parameters(args.root)
    split = run_split(run_config(args.out, 'kd', seeds[0]))
    dm = SyntheticMSDataModule(
        args.root,
        generate=False,
        pseudo_rgb=True,
        mixed=True,
        **split,
    )
    dm.setup('fit')
    pairing = colour_pairing(dm)
    dominant = same_dominant(
        [scene_mixture('rgb', f, params).dominant for f in dm.rgb_train.files],
        [scene_mixture('ms', f, params).dominant for f in dm.gallery.files],
        pairing.teacher_index,
    )
    print(
        f'colour pairing of {len(pairing)} students: teacher of the same dominant '
        f'cover {dominant:.1%}; {pairing.distinct_teachers()} distinct teachers, '
        f'at most {pairing.max_load()} students on one'
    )
    # The same descriptor within the MS domain: MS validation images.
    val = dm.ms_dataset('val')
    in_domain = same_dominant(
        [scene_mixture('ms', f, params).dominant for f in val.files],
        [scene_mixture('ms', f, params).dominant for f in dm.gallery.files],
        colour_pairing(dm, val).teacher_index,
    )
    print(f'in domain, MS validation images: same dominant cover {in_domain:.1%}')
    students = args.out / ('students-t2' if args.kd_temperature_squared else 'students')
    _, csv_path = pairing.save(args.out / 'colour_pairing')
    methods = ['kd_colour']
    if args.kd_temperature_squared:
        methods.insert(0, 'kd')
        link_baselines(args.out, students, seeds)
    for method in methods:
        for seed in seeds:
            config = run_config(args.out, 'kd', seed)
            kd = config['model']['init_args']['kd']
            kd['options']['kd']['scale_by_temperature_squared'] = (
                args.kd_temperature_squared
            )
            if method == 'kd_colour':
                config['data']['init_args']['pairing_file'] = str(csv_path)
            name = f'{method}_seed{seed}'
            run_stage(name, config, students / name, False, {})
            accuracy = read_test_metrics(students / name)['test_OverallAccuracy']
            print(f'{name}: OA {100 * accuracy:.2f} % on the test split')


if __name__ == '__main__':
    main()
