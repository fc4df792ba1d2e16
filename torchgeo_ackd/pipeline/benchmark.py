"""The benchmark a pipeline run uses: its DataModule, checked files and fold splits."""

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datamodules import ACKDDataModule, PairedDataModule
from ..datasets import ACKDDataset
from ..datasets.preflight import preflight
from ..io import file_hashes
from ..synthetic import benchmark_parameters
from .classes import class_path, load_class
from .folds import split_kwargs, write_fold_split

SYNTHETIC = 'torchgeo_ackd.datamodules.SyntheticACKDDataModule'


@dataclass
class Benchmark:
    """The data a pipeline run uses.

    Attributes:
        datamodule: Class path of the student stage's DataModule.
        ms_datamodule: Class path of the teacher and matcher stages' one.
        init_args: DataModule arguments shared by all stages.
        dataset: The dataset class (classes, sensor, default bands).
        student_classes: RGB classes present (``None``: all).
    """

    datamodule: str
    ms_datamodule: str
    init_args: dict[str, Any]
    dataset: type[ACKDDataset]
    student_classes: list[str] | None

    @property
    def bands(self) -> tuple[str, ...]:
        """MS bands the stages use."""
        bands = self.init_args.get('bands')
        if bands is not None:
            return tuple(bands)
        return self.dataset.default_bands or self.dataset.ms_sensor.bands


def download_benchmark(root: Path | None, datamodule: str | None) -> None:
    """Download a benchmark into *root* with TorchGeo's dataset classes.

    Args:
        root: The benchmark root.
        datamodule: Class path of its (downloadable) paired DataModule.

    Raises:
        ValueError: Without *root* or *datamodule*, or if the benchmark has no
            download.
    """
    if root is None or not datamodule:
        raise ValueError('--download needs --root and --datamodule')
    try:
        cls = load_class(datamodule, PairedDataModule)
    except ValueError as error:
        raise ValueError(f'--datamodule: {error}') from None
    cls.dataset_class.download(root)


def resolve_benchmark(root: Path | None, datamodule: str | None) -> Benchmark:
    """Pick the DataModule for a benchmark root.

    No root: the synthetic default. A root with ``synthetic.json``: that synthetic
    benchmark. Any other: *datamodule* (a
    :class:`~torchgeo_ackd.datamodules.PairedDataModule`, default ``S2SEUDataModule``),
    with the student classes read from the RGB class folders present.
    """
    default = root is None
    root = Path('data/synthetic') if root is None else root
    synthetic = default or (root / 'synthetic.json').is_file()
    if not datamodule:
        s2s_eu = 'torchgeo_ackd.datamodules.S2SEUDataModule'
        datamodule = SYNTHETIC if synthetic else s2s_eu
    try:
        cls = load_class(datamodule, PairedDataModule)
    except ValueError as error:
        raise ValueError(f'--datamodule: {error}') from None
    if not isinstance(getattr(cls, 'ms_datamodule', None), type):
        raise ValueError(
            f'--datamodule: {datamodule!r} declares no ms_datamodule, the '
            'MSDataModule of its benchmark that the teacher and matcher stages use'
        )
    init_args: dict[str, Any] = {'root': str(root)}
    # A given synthetic root is used (and its configs describe it) as written; the
    # default one is generated or reused with the defaults, so its configs are fixed.
    if datamodule == SYNTHETIC and synthetic and not default:
        init_args['generate'] = False
        written = benchmark_parameters(root)
        del written['rgb_format']
        init_args['generator_seed'] = written.pop('seed')
        init_args.update(written)
    student_classes = None
    if (root / cls.dataset_class.rgb_dir).is_dir():
        present = cls.dataset_class.present_classes(root, 'rgb')
        if set(present) != set(cls.dataset_class.classes):
            student_classes = present
            init_args['student_classes'] = student_classes
    return Benchmark(
        datamodule,
        class_path(cls.ms_datamodule),
        init_args,
        cls.dataset_class,
        student_classes,
    )


def data_section(bench: Benchmark, ms: bool, **overrides: Any) -> dict[str, Any]:
    """A stage config's ``data`` section: the benchmark's DataModule and arguments.

    Args:
        bench: The benchmark.
        ms: The MS stages' DataModule (teacher, matcher), else the students'.
        **overrides: The stage's own DataModule arguments.

    Returns:
        ``{'class_path': ..., 'init_args': ...}``.
    """
    datamodule = bench.ms_datamodule if ms else bench.datamodule
    return {'class_path': datamodule, 'init_args': bench.init_args | overrides}


@dataclass
class CheckedData:
    """The benchmark's files after the preflight, with their content hashes.

    Attributes:
        ms: ``{path relative to the root: SHA-1}`` of every MS image.
        rgb: The same for every RGB image.
    """

    ms: dict[str, str]
    rgb: dict[str, str]

    def hashes(self, *modalities: str) -> dict[str, str]:
        """The files of some modalities, as a stage's inputs."""
        return {k: v for m in modalities for k, v in getattr(self, m).items()}


def check_data(bench: Benchmark) -> CheckedData:
    """Write the synthetic default if needed, check every image, hash them.

    Raises:
        PreflightError: Listing every bad image (before any stage trains).
    """
    root = Path(bench.init_args['root'])
    if bench.datamodule == SYNTHETIC and bench.init_args.get('generate', True):
        try:
            load_class(SYNTHETIC, ACKDDataModule)(**bench.init_args).prepare_data()
        except FileExistsError as error:
            raise FileExistsError(
                f'{error} The pipeline writes its default benchmark there: move '
                f'that folder aside, or pass --root {root} to run on it as written.'
            ) from error
    preflight(bench.dataset, root, ('ms', 'rgb'), bench.student_classes)
    ms = bench.dataset(root, modality='ms', split='all')
    rgb = bench.dataset(
        root, modality='rgb', split='all', classes=bench.student_classes
    )
    return CheckedData(file_hashes(ms.files, root), file_hashes(rgb.files, root))


def prepare_folds(bench: Benchmark, out: Path, num_folds: int) -> list[Path]:
    """Write each fold's split file (rewritten identically on a rerun).

    Args:
        bench: The benchmark.
        out: Pipeline output folder.
        num_folds: K.

    Returns:
        The split file of each fold, ``out/folds/fold<f>/split.csv``.
    """
    dataset_kwargs = split_kwargs(bench.init_args)
    paths = []
    for fold in range(num_folds):
        split = out / 'folds' / f'fold{fold}' / 'split.csv'
        before = split.read_bytes() if split.is_file() else None
        write_fold_split(
            split,
            bench.dataset,
            dataset_kwargs,
            bench.student_classes,
            fold,
            num_folds,
            seed=int(bench.init_args.get('seed', 0)),
        )
        if before is not None and before != split.read_bytes():  # stale pairings
            shutil.rmtree(split.parent / 'pairings', ignore_errors=True)
        paths.append(split)
    return paths
