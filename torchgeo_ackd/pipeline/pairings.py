"""Initial pairings the pipeline computes for its students (once, then reused)."""

from pathlib import Path
from typing import Any

import torch

from ..callbacks.dynamic_matching import (
    gallery_logits,
    pair_in_label_space,
    student_logits,
)
from ..callbacks.initial_pairing import InitialPairing
from ..datamodules import ACKDDataModule
from ..datasets.torch_files import read_torch_file
from ..models.teacher import read_out_of_fold_logits
from ..tasks import ACKDTask, MatcherTask
from .classes import datamodule as build_datamodule

#: The label-space start compares class probabilities as the models give them
#: (DynM's T = 3 flattens them; on the annotated synthetic benchmark T = 1
#: pairs more students with a teacher of their dominant land cover).
LABEL_SPACE_TEMPERATURE = 1.0


def _statistics(state: dict[str, Any], datamodule: str) -> dict[str, list[float]]:
    """The normalisation statistics a stage's checkpoint was trained with."""
    stats = state[datamodule.rpartition('.')[2]]
    return {k: v.tolist() for k, v in stats.items() if k.endswith(('_mean', '_std'))}


def _build(
    datamodule: str, init_args: dict[str, Any], split: Path | None
) -> ACKDDataModule:
    if split is not None:
        init_args = init_args | {'split_file': str(split)}
    dm = build_datamodule(datamodule, init_args)
    assert isinstance(dm, ACKDDataModule)
    return dm


class SSMPairings:
    """The matcher's initial pairing for other splits or a hub capacity.

    The matcher stage writes its pairing for the default split; K-fold runs
    and the capacity-limited variant need it for other RGB training sets or
    with another assignment. They are computed here from the matcher's final
    weights (``last.ckpt``, as its own pairing), with the statistics it was
    trained with, once each.
    """

    def __init__(
        self, datamodule: str, init_args: dict[str, Any], out: Path, fresh: bool = False
    ) -> None:
        """Initialize a new SSMPairings instance.

        Args:
            datamodule: Class path of the benchmark's DataModule.
            init_args: Its arguments shared by all stages.
            out: Pipeline output folder (holds ``matcher/best.ckpt``).
            fresh: Recompute pairings written by an earlier run.
        """
        self.datamodule, self.init_args = datamodule, init_args
        self.out, self.fresh = out, fresh
        self._matcher: tuple[MatcherTask, dict[str, list[float]]] | None = None
        self._done: set[Path] = set()

    def path(
        self, split: Path | None, capacity: float | None, adapt_batchnorm: bool = False
    ) -> Path:
        """The ``pairing.pt`` for a split file (None: default) and capacity.

        With *adapt_batchnorm*, the students are embedded with M_G's
        BatchNorm statistics re-estimated on them (a pairing of its own).
        """
        if split is None and capacity is None and not adapt_batchnorm:
            return self.out / 'matcher' / 'pairing.pt'
        base = self.out / 'matcher' if split is None else split.parent
        variant = 'nearest' if capacity is None else f'capacity{capacity}'
        if adapt_batchnorm:
            variant += '_adabn'
        folder = base / 'pairings' / variant
        if (self.fresh and folder not in self._done) or not (
            folder / 'pairing.pt'
        ).is_file():
            self._compute(split, capacity, folder, adapt_batchnorm)
            self._done.add(folder)
        return folder / 'pairing.pt'

    def ensure_matcher_pairing(self) -> None:
        """Write the matcher stage's own pairing if a kill left it missing.

        The matcher writes ``pairing.pt`` at the end of its fit, after its last
        checkpoint; a run killed in between (or resumed with no epoch left,
        when that hook never runs) has none. It is recomputed from the same
        weights, ``last.ckpt``.
        """
        folder = self.out / 'matcher'
        if (folder / 'pairing.pt').is_file() and (folder / 'pairing.csv').is_file():
            return
        print('[matcher] its pairing is missing: recomputing it', flush=True)
        self._compute(None, None, folder)

    def _compute(
        self,
        split: Path | None,
        capacity: float | None,
        folder: Path,
        adapt_batchnorm: bool = False,
    ) -> None:
        if self._matcher is None:
            # The weights at the end of the matcher's fit, which its own
            # pairing was computed with (best.ckpt when last.ckpt is absent).
            checkpoint = self.out / 'matcher' / 'last.ckpt'
            if not checkpoint.is_file():
                checkpoint = self.out / 'matcher' / 'best.ckpt'
            state = read_torch_file(checkpoint, 'matcher checkpoint')
            matcher = MatcherTask.load_from_checkpoint(
                checkpoint, map_location='cpu', weights_only=True
            )
            self._matcher = (matcher, _statistics(state, self.datamodule))
        matcher, stats = self._matcher
        dm = _build(self.datamodule, self.init_args | {'modality': 'ms'} | stats, split)
        ssm = InitialPairing(capacity=capacity, adapt_batchnorm=adapt_batchnorm)
        pairing = ssm.pairing(matcher, dm)
        pairing.save(folder)
        print(
            f'[matcher] SSM pairing ({split or "default split"}, capacity '
            f'{capacity}, RGB BatchNorm statistics {adapt_batchnorm}) written to '
            f'{folder}: {pairing.distinct_teachers()} distinct '
            f'teachers, at most {pairing.max_load()} students on one',
            flush=True,
        )


class LabelSpacePairings:
    """The label-space initial pairing of each baseline run.

    A baseline run is the student trained on the RGB labels alone, on one
    split with one seed. Its predictions on its training images and the
    teacher's on the gallery are class probabilities, which mean the same
    for both modalities, so pairing them needs no cross-domain embedding
    (:func:`~torchgeo_ackd.callbacks.pair_in_label_space`, at
    :data:`LABEL_SPACE_TEMPERATURE`). The pairing is
    written into the baseline's folder, so rerunning the baseline removes it.
    """

    def __init__(
        self, datamodule: str, init_args: dict[str, Any], fresh: bool = False
    ) -> None:
        """Initialize a new LabelSpacePairings instance.

        Args:
            datamodule: Class path of the benchmark's DataModule.
            init_args: Its arguments shared by all stages.
            fresh: Recompute pairings written by an earlier run.
        """
        self.datamodule, self.init_args, self.fresh = datamodule, init_args, fresh
        self._done: set[Path] = set()

    def path(
        self,
        baseline: Path,
        split: Path | None,
        capacity: float | None,
        out_of_fold: Path | None = None,
    ) -> Path:
        """The ``pairing.pt`` of a finished baseline run, computed if needed.

        Args:
            baseline: The baseline run's folder (holds ``best.ckpt``).
            split: Its split file (None: the default split).
            capacity: Limit hubs (see :func:`~torchgeo_ackd.matching.search.match_kl`).
            out_of_fold: Out-of-fold gallery logits to pair with instead of
                the teacher's own (``--teacher-folds``).

        Returns:
            The pairing file.
        """
        variant = '' if capacity is None else f'_capacity{capacity}'
        variant += '' if out_of_fold is None else '_out_of_fold'
        folder = baseline / f'pairing_label_space{variant}'
        if (self.fresh and folder not in self._done) or not (
            folder / 'pairing.pt'
        ).is_file():
            self._compute(baseline, split, capacity, out_of_fold, folder)
            self._done.add(folder)
        return folder / 'pairing.pt'

    @torch.no_grad()
    def _compute(
        self,
        baseline: Path,
        split: Path | None,
        capacity: float | None,
        out_of_fold: Path | None,
        folder: Path,
    ) -> None:
        checkpoint = baseline / 'best.ckpt'
        state = read_torch_file(checkpoint, 'baseline checkpoint')
        task = ACKDTask.load_from_checkpoint(
            checkpoint, map_location='cpu', weights_only=True
        ).eval()
        stats = _statistics(state, self.datamodule)
        args = self.init_args | {'modality': 'paired', 'pairing_file': None} | stats
        dm = _build(self.datamodule, args, split)
        dm.setup('fit')
        device = torch.device('cpu')
        teacher_logits = (
            gallery_logits(task.teacher, dm, device)
            if out_of_fold is None
            else read_out_of_fold_logits(out_of_fold, dm.gallery)
        )
        pairing = pair_in_label_space(
            student_logits(task.student, dm, device),
            teacher_logits,
            dm,
            temperature=LABEL_SPACE_TEMPERATURE,
            capacity=capacity,
        )
        pairing.save(folder)
        print(
            f'[{baseline.name}] label-space pairing (capacity {capacity}) written '
            f'to {folder}: {pairing.distinct_teachers()} distinct teachers, at '
            f'most {pairing.max_load()} students on one',
            flush=True,
        )
