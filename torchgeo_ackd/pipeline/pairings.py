"""Initial pairings the pipeline computes for its students (once, then reused)."""

from pathlib import Path
from typing import Any

from ..datamodules import MSDataModule
from ..io import read_torch_file
from ..matching import ssm_pairing
from ..tasks import MatcherTask
from .classes import load_class


def _statistics(state: dict[str, Any], datamodule: str) -> dict[str, list[float]]:
    """The normalisation statistics a stage's checkpoint was trained with."""
    stats = state[datamodule.rpartition('.')[2]]
    return {k: v.tolist() for k, v in stats.items() if k.endswith(('_mean', '_std'))}


class SSMPairings:
    """The matcher's initial pairing for other splits (K-fold RGB training sets).

    Computed once each from the matcher's final weights (``last.ckpt``, as its own
    pairing for the default split) and the statistics it was trained with.
    """

    def __init__(
        self, datamodule: str, init_args: dict[str, Any], out: Path, fresh: bool = False
    ) -> None:
        """Initialize a new SSMPairings instance.

        Args:
            datamodule: Class path of the benchmark's MS DataModule.
            init_args: Its arguments shared by all stages.
            out: Pipeline output folder (holds ``matcher/best.ckpt``).
            fresh: Recompute pairings written by an earlier run.
        """
        self.datamodule, self.init_args = datamodule, init_args
        self.out, self.fresh = out, fresh
        self._matcher: tuple[MatcherTask, dict[str, list[float]]] | None = None
        self._done: set[Path] = set()

    def path(self, split: Path | None) -> Path:
        """The ``pairing.pt`` for a split file (None: the default split)."""
        if split is None:
            return self.out / 'matcher' / 'pairing.pt'
        # Under the fold's folder (prepare_folds removes it when the split changes).
        folder = split.parent / 'pairings' / 'nearest'
        if (self.fresh and folder not in self._done) or not (
            folder / 'pairing.pt'
        ).is_file():
            self._compute(split, folder)
            self._done.add(folder)
        return folder / 'pairing.pt'

    def ensure_matcher_pairing(self) -> None:
        """Write the matcher stage's own pairing if a kill left it missing.

        The matcher writes it after its last checkpoint, at the end of its fit; a
        run killed in between (or resumed with no epoch left) has none.
        """
        folder = self.out / 'matcher'
        if (folder / 'pairing.pt').is_file() and (folder / 'pairing.csv').is_file():
            return
        print('[matcher] its pairing is missing: recomputing it', flush=True)
        self._compute(None, folder)

    def _compute(self, split: Path | None, folder: Path) -> None:
        if self._matcher is None:
            # The weights its own pairing was computed with (else best.ckpt).
            checkpoint = self.out / 'matcher' / 'last.ckpt'
            if not checkpoint.is_file():
                checkpoint = self.out / 'matcher' / 'best.ckpt'
            state = read_torch_file(checkpoint, 'matcher checkpoint')
            matcher = MatcherTask.load_from_checkpoint(
                checkpoint, map_location='cpu', weights_only=True
            )
            self._matcher = (matcher, _statistics(state, self.datamodule))
        matcher, stats = self._matcher
        init_args = self.init_args | stats
        if split is not None:
            init_args |= {'split_file': str(split)}
        dm = load_class(self.datamodule, MSDataModule)(**init_args)
        loaders = (dm.student_dataloader(), dm.gallery_dataloader())
        pairing = ssm_pairing(
            matcher,
            dm.rgb_train,
            dm.gallery,
            loaders,
            dm.preprocess,
            device=matcher.device,
        )
        pairing.save(folder)
        print(
            f'[matcher] SSM pairing ({split or "default split"}) written to '
            f'{folder}: {pairing.distinct_teachers()} distinct '
            f'teachers, at most {pairing.max_load()} students on one',
            flush=True,
        )
