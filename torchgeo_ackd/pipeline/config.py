"""What a pipeline run is asked to do: its options, checked before any stage trains."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..matching import validate_epochs
from .methods import DEFAULT_METHODS, METHODS
from .pretrained import check_teacher_model

#: The stage configurations the pipeline starts from (``torchgeo fit`` configs).
CONF = Path(__file__).parents[2] / 'conf'


def stage_config(name: str) -> dict[str, Any]:
    """A stage's configuration as shipped, ``conf/<name>.yaml`` (a new dict).

    Args:
        name: ``'teacher'``, ``'matcher'`` or ``'ackd'`` (the students).

    Returns:
        The parsed YAML, which the stage builders complete.
    """
    config: dict[str, Any] = yaml.safe_load((CONF / f'{name}.yaml').read_text())
    return config


@dataclass(frozen=True)
class PipelineConfig:
    """The options of one pipeline run (``python -m torchgeo_ackd.pipeline``).

    Attributes:
        root: Benchmark root (None: the synthetic default in ``data/synthetic``).
        out: Output folder.
        datamodule: DataModule class path (None: chosen from *root*).
        download: First download the benchmark into *root* with TorchGeo (a
            downloadable *datamodule*, e.g. ``EuroSATUCMercedDataModule``).
        methods: Student methods (keys of :data:`~torchgeo_ackd.pipeline.METHODS`).
        seeds: Seeds of the student runs.
        single_seed_methods: More methods, run with the first seed only.
        teacher_epochs: The teacher's maximum epochs (it stops early after 15
            without a better validation accuracy; conf/teacher.yaml).
        matcher_epochs: Matcher epochs.
        student_epochs: Student epochs.
        dynm_epochs: Re-matching epochs of the SemBridge students.
        use_pretrained: Teacher starts from TorchGeo's Sentinel-2 weights if loadable.
        fresh: Start every stage over.
        folds: 1: the default split; K >= 3: stratified K-fold evaluation over the RGB
            images (:mod:`~torchgeo_ackd.pipeline.folds`), every method on every fold.
        teacher_model: The teacher's timm architecture (None: conf/teacher.yaml's
            ResNet-18, the only one the pretrained weights fit).
        matcher_model: Matcher encoders' timm architecture (None: conf/matcher.yaml).
        student_model: The RGB students' timm architecture (None: conf/ackd.yaml).
        keep_last_checkpoints: Keep each finished student's ``last.ckpt`` (only a
            resume reads it; False: delete it). The teacher's and matcher's stay.
    """

    root: Path | None = None
    out: Path = Path('output')
    datamodule: str | None = None
    download: bool = False
    methods: Sequence[str] = DEFAULT_METHODS
    seeds: Sequence[int] = (0,)
    single_seed_methods: Sequence[str] = ()
    teacher_epochs: int = 60
    matcher_epochs: int = 16
    student_epochs: int = 12
    dynm_epochs: Sequence[int] = (4, 8)
    use_pretrained: bool = True
    fresh: bool = False
    folds: int = 1
    teacher_model: str | None = None
    matcher_model: str | None = None
    student_model: str | None = None
    keep_last_checkpoints: bool = False

    @property
    def runs(self) -> list[tuple[str, int]]:
        """Every student run, ``(method, seed)``, in the order they train."""
        runs = [(m, s) for m in self.methods for s in self.seeds]
        return runs + [
            (m, self.seeds[0])
            for m in self.single_seed_methods
            if m not in self.methods
        ]

    def check(self) -> None:
        """Refuse options that cannot work, before any stage trains.

        Raises:
            ValueError: For an unknown method, no seed, re-matching epochs outside
                the students' epochs, or a teacher the pretrained weights do not fit.
        """
        if not self.seeds:
            raise ValueError('--seeds: give at least one seed')
        unknown = [m for m, _ in self.runs if m not in METHODS]
        if unknown:
            raise ValueError(
                f'unknown methods {unknown}; expected names from {list(METHODS)}'
            )
        try:
            validate_epochs(self.dynm_epochs, self.student_epochs)
        except ValueError as err:
            raise ValueError(
                f'--dynm-epochs {",".join(map(str, self.dynm_epochs))} must lie in '
                f'[0, --student-epochs={self.student_epochs}): {err}'
            ) from err
        shipped = stage_config('teacher')['model']['init_args']['model']
        check_teacher_model(self.teacher_model or shipped, self.use_pretrained)
