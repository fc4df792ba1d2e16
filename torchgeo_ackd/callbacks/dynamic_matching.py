"""Dynamic Matching (DynM): re-pair every student with a teacher as it learns."""

from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor, nn

from ..datamodules import PairedDataModule
from ..datasets import Pairing, plot_pairs
from ..matching.pairings import gallery_logits, rematch, student_logits
from ..matching.schedule import dynm_schedule, validate_epochs
from ..matching.statistics import matched_teachers
from ..models.teacher import FrozenTeacher


class DynamicMatching(Callback):
    """Student-Friendly Matching over training: the initial pairing and its updates.

    At fit start the datamodule's pairing (the matcher's SSM pairing, or a
    seeded random same-class one) is written to ``pairing_initial/``. At each
    re-matching epoch every student is re-paired with the teacher gallery
    sample of its class whose soft label is closest to the current student's
    (lowest KL(teacher || student) at *temperature*), installed in the
    datamodule and written to ``pairing_epoch<N>/``. The re-matching epochs
    grow apart as ``e_t = e0 + sum_{i<=t} (delta_e + e_mu (i - 1))``, or are
    given as *epochs* (``[]``: never re-match, only record the initial one).

    Works with a LightningModule that has a ``student`` (timm classifier on normalised
    RGB) and a ``teacher`` (:class:`FrozenTeacher`), such as
    :class:`~torchgeo_ackd.tasks.ACKDTask`, and a
    :class:`~torchgeo_ackd.datamodules.PairedDataModule`. Forward passes run in the
    trainer's precision; under DDP every rank uses rank 0's BatchNorm statistics and
    installs the same pairing. Its state (which re-matchings are done) is saved in
    checkpoints, so a resumed run re-matches exactly like an uninterrupted one.
    """

    def __init__(
        self,
        epochs: list[int] | None = None,
        e0: int = 5,
        delta_e: int = 25,
        e_mu: int = 5,
        num_matchings: int | None = 4,
        temperature: float = 3.0,
        chunk_size: int = 4096,
        log_pairs: int = 8,
        output_dir: str | None = None,
    ) -> None:
        """Initialize a new DynamicMatching instance.

        Args:
            epochs: Explicit re-matching epochs, 0-based (overrides the schedule).
            e0: Schedule offset e_0.
            delta_e: Schedule interval delta_e.
            e_mu: Schedule interval growth e_mu.
            num_matchings: Number of re-matchings T (None: all < max_epochs).
            temperature: Temperature of the re-matching KL.
            chunk_size: Students per chunk of the search.
            log_pairs: Matched pairs drawn per TensorBoard figure (0: none).
            output_dir: Folder of the pairing files (default: the trainer's
                ``default_root_dir``).
        """
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature!r}')
        self.epochs = epochs
        self.schedule_args = (e0, delta_e, e_mu, num_matchings)
        self.temperature = temperature
        self.chunk_size = chunk_size
        self.log_pairs = log_pairs
        self.output_dir = output_dir
        self.schedule: list[int] = []
        self.rematched_epochs: list[int] = []
        self._resumed = False
        self._gallery_logits: Tensor | None = None

    def schedule_for(self, max_epochs: int | None) -> list[int]:
        """The re-matching epochs of a run of *max_epochs* epochs.

        Args:
            max_epochs: The trainer's ``max_epochs``.

        Returns:
            Sorted 0-based epochs.

        Raises:
            ValueError: If an epoch is not below *max_epochs* (naming the option).
        """
        if max_epochs is None or max_epochs < 1:
            raise ValueError(
                'DynamicMatching needs trainer.max_epochs >= 1 to place its '
                f're-matchings, got {max_epochs}'
            )
        if self.epochs is None:
            return dynm_schedule(
                *self.schedule_args[:3], max_epochs, self.schedule_args[3]
            )
        try:
            return validate_epochs(self.epochs, max_epochs)
        except ValueError as err:
            raise ValueError(
                f'DynamicMatching epochs={list(self.epochs)}: {err}; every '
                f're-matching epoch must be below trainer.max_epochs={max_epochs}'
            ) from err

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Place the re-matchings (and refuse impossible ones before training).

        Args:
            trainer: The trainer.
            pl_module: The student task.
            stage: Lightning stage.
        """
        if stage == 'fit':
            self.schedule = self.schedule_for(trainer.max_epochs)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Record the initial pairing (not again when resuming).

        Args:
            trainer: The trainer.
            pl_module: The student task.
        """
        pairing = _datamodule(trainer).pairing
        if trainer.is_global_zero and not self._resumed:
            pairing.save(self._folder(trainer) / 'pairing_initial')
        self._log_figure(trainer, 'pairs/initial', [('initial', pairing)])

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Re-match at the scheduled epochs.

        Args:
            trainer: The trainer.
            pl_module: The student task.
        """
        epoch = trainer.current_epoch
        if epoch not in self.schedule or epoch in self.rematched_epochs:
            return
        dm = _datamodule(trainer)
        previous = dm.pairing
        pairing = self.rematch(trainer, pl_module)
        self.rematched_epochs.append(epoch)
        changed = (pairing.teacher_index != previous.teacher_index).float().mean()
        logs: dict[str, Tensor | float] = {
            'dynm_changed_fraction': changed,
            'dynm_mean_kl': pairing.scores.mean(),
            'dynm_distinct_teachers': float(pairing.distinct_teachers()),
            'dynm_max_load': float(pairing.max_load()),
        }
        # What the students are taught before and after (soft or wrong labels).
        logits = self._teacher_logits(trainer, pl_module)
        columns = [('before', previous), ('after', pairing)]
        for when, p in columns:
            stats = matched_teachers(
                logits, dm.gallery.targets, p.teacher_index, self.temperature
            )
            logs |= {f'dynm_teacher_{k}_{when}': v for k, v in stats._asdict().items()}
        for name, value in logs.items():
            pl_module.log(name, value, on_epoch=True, on_step=False)
        self._log_figure(trainer, f'pairs/epoch_{epoch}', columns)

    def rematch(self, trainer: Trainer, pl_module: LightningModule) -> Pairing:
        """DynM: re-pair every student with its lowest-KL teacher of its class.

        See :func:`~torchgeo_ackd.matching.rematch`, with the current student.

        Args:
            trainer: The trainer.
            pl_module: The student task (``student`` and ``teacher`` modules).

        Returns:
            The new pairing, also installed in the datamodule and written to
            ``pairing_epoch<N>/`` (scores: each student's KL in nats).
        """
        dm = _datamodule(trainer)
        student = pl_module.student
        assert isinstance(student, nn.Module)
        teacher_logits = self._teacher_logits(trainer, pl_module)
        device, context = pl_module.device, trainer.precision_plugin.forward_context
        loader, epoch = dm.student_dataloader(), trainer.current_epoch
        logits = student_logits(student, loader, dm.preprocess, device, context)
        pairing = rematch(
            logits,
            dm.rgb_train,
            teacher_logits,
            dm.gallery,
            self.temperature,
            self.chunk_size,
            epoch=epoch,
        )
        dm.set_pairing(pairing)
        if trainer.is_global_zero:
            pairing.save(self._folder(trainer) / f'pairing_epoch{epoch}')
        return pairing

    def _teacher_logits(self, trainer: Trainer, pl_module: LightningModule) -> Tensor:
        """(N_t, K) float32 teacher logits of the gallery (computed once)."""
        teacher = pl_module.teacher
        assert isinstance(teacher, FrozenTeacher)
        if teacher.gallery is not None:  # the task's cache
            return teacher.gallery.logits.float()
        if self._gallery_logits is None:
            dm = _datamodule(trainer)
            self._gallery_logits = gallery_logits(
                lambda image: teacher(image).logits,
                dm.gallery_dataloader(),
                dm.preprocess,
                pl_module.device,
                trainer.precision_plugin.forward_context,
            )
        return self._gallery_logits

    def state_dict(self) -> dict[str, Any]:
        """Which re-matchings are done (the pairing itself is the datamodule's).

        Returns:
            The state.
        """
        return {'rematched_epochs': list(self.rematched_epochs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the re-matchings done before an interruption.

        Args:
            state_dict: A state returned by :meth:`state_dict`.
        """
        self.rematched_epochs = list(state_dict['rematched_epochs'])
        self._resumed = True

    def _folder(self, trainer: Trainer) -> Path:
        return Path(self.output_dir or trainer.default_root_dir)

    def _log_figure(
        self, trainer: Trainer, tag: str, columns: list[tuple[str, Pairing]]
    ) -> None:
        logger = trainer.logger
        if (
            self.log_pairs <= 0
            or not isinstance(logger, TensorBoardLogger)
            or not trainer.is_global_zero
        ):
            return
        dm = _datamodule(trainer)
        figure = plot_pairs(dm.rgb_train, dm.gallery, columns, self.log_pairs)
        logger.experiment.add_figure(tag, figure, trainer.global_step)


def _datamodule(trainer: Trainer) -> PairedDataModule:
    dm = getattr(trainer, 'datamodule', None)
    if not isinstance(dm, PairedDataModule):
        raise TypeError(
            'DynamicMatching needs a PairedDataModule subclass (e.g. '
            f'S2SEUDataModule), got {type(dm).__name__}'
        )
    return dm
