"""Does the mixed synthetic benchmark reward distillation from well-matched teachers?

An upper bound for any matching, SemBridge's included: every RGB student of a
mixed-scene benchmark (``python -m torchgeo_ackd.synthetic``, the default) is paired
with an MS teacher image of its class that holds the *same second land cover*
(the nearest dominant share among them), read from the generator itself: the
generator writes neither the second class nor the share, so they are
recomputed by replaying each file's seeded draws. Vanilla KD is then trained
with this oracle pairing (no re-matching, no SKA) with the seeds of a pipeline
run in the same ``OUT`` folder, and compared, paired by seed, with that run's
baseline, vanilla KD (random same-class pairs) and KD + SemBridge.

If oracle pairs do not beat random ones, the benchmark does not carry the
mechanism (no matching can show a gain on it); if they do and SemBridge does
not, the matching is what falls short::

    python -m torchgeo_ackd.synthetic --root data/synthetic-mixed
    python -m torchgeo_ackd.pipeline --root data/synthetic-mixed --out output/mixed \
        --methods baseline,kd,kd_sembridge --seeds 0,1,2
    python experiments/oracle_pairing.py data/synthetic-mixed output/mixed --seeds 0,1,2

The same splits as the pipeline (its default seed-0 split); nothing is tuned
on the test split: the script reports what the runs give.
"""

import argparse
import copy
from pathlib import Path

import torch
import yaml

from torchgeo_ackd.datasets import Pairing, SyntheticACKD
from torchgeo_ackd.pipeline.intervals import mean_interval, paired_difference
from torchgeo_ackd.pipeline.stages import read_test_metrics, run_stage
from torchgeo_ackd.synthetic import benchmark_parameters, mixtures, scenes


class _Drawn(Exception):
    """Carries a scene's mixture out of the generator."""


def mixed_run_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of a script that trains students beside a pipeline run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('root', type=Path, help='a mixed synthetic benchmark')
    parser.add_argument('out', type=Path, help='the pipeline output folder')
    parser.add_argument('--seeds', default='0,1,2')
    return parser


def mixed_parameters(root: Path) -> dict:  # type: ignore[type-arg]
    """The generator's parameters of *root*; stops unless it is a mixed benchmark."""
    params = benchmark_parameters(root)
    if not params.get('mixed'):
        raise SystemExit(f'{root} is not a mixed benchmark (synthetic.json)')
    return params


def run_config(out: Path, method: str, seed: int) -> dict:  # type: ignore[type-arg]
    """A copy of the config of the pipeline's student run ``<method>_seed<seed>``."""
    path = out / 'students' / f'{method}_seed{seed}' / 'config.yaml'
    return copy.deepcopy(yaml.safe_load(path.read_text()))


def run_split(config: dict) -> dict:  # type: ignore[type-arg]
    """The split arguments of a student run's datamodule."""
    data = config['data']['init_args']
    return {k: data[k] for k in ('val_fraction', 'test_fraction', 'seed') if k in data}


def link_baselines(out: Path, students: Path, seeds: list[int]) -> None:
    """Link the pipeline's baseline runs into *students* (they have no KD loss)."""
    for seed in seeds:
        link = students / f'baseline_seed{seed}'
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(
                (out / 'students' / link.name).resolve(), target_is_directory=True
            )


def scene_mixture(modality: str, path: Path, params: dict) -> mixtures.Mixture:  # type: ignore[type-arg]
    """The mixture of one file of a mixed benchmark, replayed from its seed."""
    class_name = path.parent.name
    index = int(path.stem.rsplit('_', 1)[1])
    real = scenes.scene_abundances

    def probe(*args: object) -> None:
        raise _Drawn(real(*args)[1])  # type: ignore[arg-type]

    scenes.scene_abundances = probe  # type: ignore[assignment]
    try:
        if modality == 'ms':
            scenes.synthetic_ms_image(
                class_name,
                index,
                seed=params['seed'],
                size=params['ms_size'],
                mixed=True,
            )
        else:
            scenes.synthetic_rgb_image(
                class_name,
                index,
                seed=params['seed'],
                size=params['rgb_size'],
                mixed=True,
            )
    except _Drawn as drawn:
        return drawn.args[0]
    finally:
        scenes.scene_abundances = real  # type: ignore[assignment]
    raise RuntimeError(f'{path}: no mixed scene drawn (is the benchmark mixed?)')


def oracle_pairing(
    student: SyntheticACKD, teacher: SyntheticACKD, params: dict
) -> Pairing:  # type: ignore[type-arg]
    """Each student with a same-class teacher of the same second land cover."""
    s_mix = [scene_mixture('rgb', f, params) for f in student.files]
    t_mix = [scene_mixture('ms', f, params) for f in teacher.files]
    index = torch.empty(len(student), dtype=torch.long)
    found = 0
    for s, (dominant, second, share) in enumerate(s_mix):
        label = int(student.targets[s])
        candidates = [
            t
            for t in range(len(teacher))
            if int(teacher.targets[t]) == label and t_mix[t][:2] == (dominant, second)
        ]
        found += bool(candidates)
        if not candidates:  # no such teacher image: any of the class
            candidates = (teacher.targets == label).nonzero().flatten().tolist()
        index[s] = min(candidates, key=lambda t: abs(t_mix[t].share - share))
    print(
        f'oracle pairing: {found} of {len(student)} students have a teacher of the same mixture'
    )
    return Pairing.for_datasets(index, student, teacher)


def mixture_agreement(
    pairing: Pairing, root: Path, params: dict
) -> tuple[float, float]:  # type: ignore[type-arg]
    """How often a pairing's teacher holds its student's mixture.

    Returns:
        The fractions of pairs whose teacher has the student's dominant land
        cover, and its dominant *and* second land cover.
    """
    same_dominant = same_mixture = 0
    for student_file, t in zip(
        pairing.student_files, pairing.teacher_index.tolist(), strict=True
    ):
        student = scene_mixture('rgb', root / student_file, params)
        teacher = scene_mixture('ms', root / pairing.teacher_files[t], params)
        same_dominant += student.dominant == teacher.dominant
        same_mixture += student[:2] == teacher[:2]
    n = len(pairing)
    return same_dominant / n, same_mixture / n


@torch.no_grad()
def teacher_on_gallery(
    checkpoint: Path, root: Path, params: dict, split: dict
) -> dict[str, tuple[float, float]]:  # type: ignore[type-arg]
    """What the teacher of a student checkpoint names, per MS split.

    Returns:
        Per split (``'train'``: the images it was trained on, the gallery;
        ``'test'``): the fractions of the images whose label is *not* their
        dominant land cover (annotated labels) on which the teacher's top
        class is the label, and is the dominant land cover.
    """
    from torchgeo_ackd.datamodules import SyntheticACKDDataModule
    from torchgeo_ackd.tasks import ACKDTask

    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    dm = SyntheticACKDDataModule(
        root,
        generate=False,
        mixed=True,
        **split,
    )
    saved = state[type(dm).__name__]
    dm.stats.update({k: v for k, v in saved.items() if k in dm.stats})
    task = ACKDTask.load_from_checkpoint(checkpoint, map_location='cpu')
    task.eval()
    report = {}
    for name in ('train', 'test'):
        dataset = dm.ms_dataset(name)
        positions = list(range(len(dataset)))
        predicted = []
        for start in range(0, len(positions), 256):
            batch = dataset.__getitems__(positions[start : start + 256]).collated
            image = dm.preprocess({'image_ms': batch['image']})['image_ms']
            predicted.append(task.teacher(image).logits.argmax(1))
        top = torch.cat(predicted)
        dominant = torch.tensor(
            [
                SyntheticACKD.classes.index(scene_mixture('ms', f, params).dominant)
                for f in dataset.files
            ]
        )
        minority = dominant != dataset.targets
        n = max(int(minority.sum()), 1)
        report[name] = (
            float((top == dataset.targets)[minority].sum()) / n,
            float((top == dominant)[minority].sum()) / n,
        )
    return report


def write_split(
    student: SyntheticACKD,
    split: dict,
    path: Path,
    train_per_class: int,  # type: ignore[type-arg]
) -> Path:
    """A split file keeping the first *train_per_class* RGB training images per class.

    Every other file keeps its split; the RGB training images left out
    join the validation split (the same for every method).
    """
    root = student.root
    rows = []
    for modality in ('ms', 'rgb'):
        for name in ('train', 'val', 'test'):
            dataset = SyntheticACKD(root, modality=modality, split=name, **split)
            kept: dict[int, int] = {}
            for file, label in zip(
                dataset.files, dataset.targets.tolist(), strict=True
            ):
                assigned = name
                if modality == 'rgb' and name == 'train':
                    kept[label] = kept.get(label, 0) + 1
                    assigned = 'train' if kept[label] <= train_per_class else 'val'
                rows.append(f'{file.relative_to(root)},{assigned}')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('path,split\n' + '\n'.join(rows) + '\n')
    return path


def report_pairings(
    out: Path, root: Path, params: dict, seed: int, oracle: Pairing
) -> None:  # type: ignore[type-arg]
    """Print how often each pairing of a pipeline run holds the student's mixture."""
    students = out / 'students'
    candidates = {
        'oracle': oracle,
        'random same-class (vanilla KD)': students
        / f'kd_seed{seed}'
        / 'pairing_initial'
        / 'pairing.pt',
        'SSM (matcher)': out / 'matcher' / 'pairing.pt',
    }
    for run in sorted((students / f'kd_sembridge_seed{seed}').glob('pairing_epoch*')):
        candidates[f'DynM ({run.name})'] = run / 'pairing.pt'
    for name, source in candidates.items():
        if isinstance(source, Path):
            if not source.is_file():
                continue
            source = Pairing.read(source)
        dominant, mixture = mixture_agreement(source, root, params)
        print(
            f'{name}: teacher of the same dominant cover {dominant:.1%}, same mixture '
            f'{mixture:.1%}; {source.distinct_teachers()} distinct teachers'
        )


def main() -> None:
    parser = mixed_run_parser(__doc__.splitlines()[0])
    parser.add_argument(
        '--train-per-class',
        type=int,
        help='keep this many labelled RGB training images per class (then the '
        'baseline and vanilla KD are trained again too, into '
        'OUT/students-train<N>)',
    )
    parser.add_argument(
        '--batch-size',
        type=int,
        help='student batch size of the --train-per-class runs (default: as the '
        "pipeline's), so that a small training set still gives enough steps",
    )
    parser.add_argument(
        '--kd-temperature-squared',
        action='store_true',
        help='train vanilla KD, KD + SemBridge and the oracle again with the KD '
        'loss scaled by T^2 (Hinton et al.; the reference does not scale), into '
        'OUT/students-t2, next to links to the baseline runs',
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(',')]
    params = mixed_parameters(args.root)

    def config_of(method: str, seed: int) -> dict:  # type: ignore[type-arg]
        return run_config(args.out, method, seed)

    split = run_split(config_of('kd', seeds[0]))
    students = args.out / 'students'
    methods: tuple[str, ...] = ('baseline', 'kd', 'kd_sembridge', 'kd_oracle')
    split_file = None
    if args.train_per_class:
        everything = SyntheticACKD(args.root, modality='rgb', split='train', **split)
        n = args.train_per_class
        split_file = write_split(everything, split, args.out / f'split-train{n}.csv', n)
        students = args.out / f'students-train{n}'
        methods = ('baseline', 'kd', 'kd_oracle')
    if args.kd_temperature_squared:
        students = students.parent / f'{students.name}-t2'
        if not split_file:  # another split trains its own baseline
            link_baselines(args.out, students, seeds)
    chosen = split | ({'split_file': split_file} if split_file else {})
    student = SyntheticACKD(args.root, modality='rgb', split='train', **chosen)
    teacher = SyntheticACKD(args.root, modality='ms', split='train', **chosen)
    pairing = oracle_pairing(student, teacher, params)
    print(
        f'oracle pairing of {len(student)} students: {pairing.distinct_teachers()} '
        f'distinct teachers, at most {pairing.max_load()} students on one'
    )
    _, csv_path = pairing.save(students.parent / f'{students.name}-oracle_pairing')
    report_pairings(args.out, args.root, params, seeds[0], pairing)
    # Mixed scenes carry annotated labels: what the teacher names on those
    # labelled with their minor cover.
    checkpoint = args.out / 'students' / f'kd_seed{seeds[0]}' / 'best.ckpt'
    for name, (label, dominant) in teacher_on_gallery(
        checkpoint, args.root, params, split
    ).items():
        print(
            f'teacher on MS {name} images labelled with their minor land cover: '
            f'names the label on {label:.1%}, the dominant cover on {dominant:.1%}'
        )
    # The pipeline's runs this script compares with: those the pipeline made
    # (a run without SemBridge students has no kd_sembridge to train again).
    methods = tuple(
        m
        for m in methods
        if m == 'kd_oracle'
        or (args.out / 'students' / f'{m}_seed{seeds[0]}' / 'config.yaml').is_file()
    )
    runs: dict[str, dict[str, float]] = {}
    for method in methods:
        runs[method] = {}
        for seed in seeds:
            name = f'{method}_seed{seed}'
            scaled = args.kd_temperature_squared and method != 'baseline'
            if method == 'kd_oracle' or split_file or scaled:
                config = config_of('kd' if method == 'kd_oracle' else method, seed)
                if scaled:
                    kd = config['model']['init_args']['kd']
                    kd['options']['kd']['scale_by_temperature_squared'] = True
                if split_file:
                    config['data']['init_args']['split_file'] = str(split_file)
                    if args.batch_size:
                        config['data']['init_args']['batch_size'] = args.batch_size
                if method == 'kd_oracle':
                    config['data']['init_args']['pairing_file'] = str(csv_path)
                run_stage(name, config, students / name, False, {})
            runs[method][str(seed)] = (
                100 * read_test_metrics(students / name)['test_OverallAccuracy']
            )
    for method, values in runs.items():
        mean = mean_interval(list(values.values()))
        line = f'{method}: OA {mean}  per seed {values}'
        if method != 'baseline':
            line += f'  vs baseline {paired_difference(values, runs["baseline"])}'
        if method == 'kd_oracle':
            line += f'  vs kd {paired_difference(values, runs["kd"])}'
        print(line)


if __name__ == '__main__':
    main()
