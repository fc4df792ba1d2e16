"""ACKDTask: an RGB student distilled from an unpaired MS teacher with SemBridge."""

import random
from dataclasses import asdict, fields
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from ..datamodules import PairedDataModule
from ..losses import DistillationConfig
from ..matching import loader_outputs
from ..models.factory import create_model
from ..models.features import forward_with_features
from ..models.planner import AlignmentConfig, Planner
from ..models.pretrained import load_pretrained
from ..models.teacher import FrozenTeacher, TeacherConfig, TeacherOutputs
from .base import check_fits
from .evaluation import StudentEvaluationTask

_Group = TypeVar('_Group', TeacherConfig, DistillationConfig, AlignmentConfig)


def _group(cls: type[_Group], value: Any, name: str) -> dict[str, Any]:
    """A config group (a *cls* or a mapping of its fields) as a plain mapping."""
    if isinstance(value, dict):
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(
                f'ACKDTask {name}: unknown keys {sorted(unknown)}; expected those of '
                f'{cls.__name__}: {[f.name for f in fields(cls)]}'
            )
        value = cls(**value)
    if not isinstance(value, cls):
        raise TypeError(
            f'ACKDTask {name} must be a {cls.__name__} or a mapping, got '
            f'{type(value).__name__}'
        )
    return asdict(value)


class ACKDTask(StudentEvaluationTask):
    """Train an RGB student with an unpaired MS teacher (SemBridge, AAAI 2026).

    Loss: ``w_task * CE + kd.weight * KD + ska.weight * (L_ot1 + L_ot2)``, KD being
    a registered distillation loss (``kd.loss: kd | dkd | rkd | lskd | ctkd |
    logits | none``) and L_ot1/L_ot2 the SKA :class:`Planner`'s. Each student
    sample is distilled from the gallery sample its
    :class:`~torchgeo_ackd.datamodules.PairedDataModule` pairs it with
    (``teacher_index``), re-matched in training by the
    :class:`~torchgeo_ackd.callbacks.DynamicMatching` callback. The teacher is a
    :class:`FrozenTeacher`; without MS augmentation (the default) its gallery
    outputs are computed once and looked up by ``teacher_index``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        student: str = 'resnet34',
        student_weights: str | None = None,
        zero_init_last: bool = True,
        teacher: TeacherConfig = TeacherConfig(),  # noqa: B008 (a config group)
        kd: DistillationConfig = DistillationConfig(),  # noqa: B008
        ska: AlignmentConfig = AlignmentConfig(),  # noqa: B008
        w_task: float = 0.3,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        cache_teacher: bool = True,
        epoch_seed: int | None = 0,
    ) -> None:
        """Initialize a new ACKDTask instance.

        Args:
            num_classes: Size of the class vocabulary (teacher and student).
            student: timm model name of the RGB student (3 input bands).
            student_weights: Pretrained start of the student: a TorchGeo weight
                enum name with RGB input, ``'timm'`` / ``'timm:<tag>'`` (timm's
                ImageNet weights) or a file (see
                :func:`~torchgeo_ackd.models.pretrained.load_pretrained`).
            zero_init_last: timm's initialisation of the student (each residual block's
                last BatchNorm weight at zero); False: at one, as the reference code.
            teacher: The frozen MS teacher (model, bands, weights).
            kd: The distillation loss and its weight.
            ska: SemBridge's knowledge alignment (L_ot1, L_ot2) and its weight.
            w_task: Weight of the cross-entropy loss.
            lr: Adam learning rate.
            weight_decay: Adam weight decay.
            cache_teacher: Cache the teacher's gallery outputs if MS is not augmented.
            epoch_seed: Seed the RNGs with ``epoch_seed + epoch`` at each epoch, so
                a resumed run repeats an uninterrupted one exactly (None: don't).
        """
        # BaseTask saves these locals as hyperparameters: plain mappings, not
        # dataclasses, so a checkpoint loads with weights_only=True.
        teacher = _group(TeacherConfig, teacher, 'teacher')  # type: ignore[assignment]
        kd = _group(DistillationConfig, kd, 'kd')  # type: ignore[assignment]
        ska = _group(AlignmentConfig, ska, 'ska')  # type: ignore[assignment]
        super().__init__()
        self.teacher_cached = False

    def configure_models(self) -> None:
        """Build the student, the frozen teacher, the KD loss and the Planner."""
        hp = self.hparams
        self.student = create_model(
            hp['student'], 3, hp['num_classes'], hp['zero_init_last']
        )
        if hp['student_weights']:
            load_pretrained(self.student, hp['student_weights'], 'student')
        teacher = TeacherConfig(**hp['teacher'])
        self.teacher = FrozenTeacher.from_config(teacher, hp['num_classes'])
        self.kd_loss = DistillationConfig(**hp['kd']).build()
        self.planner: Planner | None = None
        ska = AlignmentConfig(**hp['ska'])
        if ska.enabled:
            self.planner = Planner(
                teacher_channels=self.teacher.num_features,
                student_channels=int(self.student.num_features),  # type: ignore[arg-type]
                embed_dim=ska.dim,
                num_heads=ska.heads,
                use_ot1=ska.use_ot1,
                use_ot2=ska.use_ot2,
            )

    def configure_optimizers(self) -> Any:
        """Adam over the student, the Planner and learnable KD parameters.

        Returns:
            The optimizer (the frozen teacher is not in it).
        """
        params = [p for n, p in self.named_parameters() if not n.startswith('teacher.')]
        return torch.optim.Adam(
            params, lr=self.hparams['lr'], weight_decay=self.hparams['weight_decay']
        )

    @property
    def datamodule(self) -> PairedDataModule:
        """The trainer's paired datamodule."""
        dm = getattr(self.trainer, 'datamodule', None)
        if not isinstance(dm, PairedDataModule):
            raise TypeError(
                'ACKDTask needs a PairedDataModule subclass (e.g. S2SEUDataModule), '
                f'got {type(dm).__name__}'
            )
        return dm

    @property
    def uses_teacher(self) -> bool:
        """Whether the training step needs the teacher's outputs."""
        return self.kd_loss.needs_teacher or self.planner is not None

    def setup(self, stage: str) -> None:
        """Check the datamodule's classes and MS bands against the networks.

        Args:
            stage: Lightning stage.

        Raises:
            ValueError: If an ACKD datamodule's classes do not fit ``num_classes``,
                or its MS bands the teacher's ``in_channels`` (unless mapped by name).
        """
        super().setup(stage)
        dm = getattr(self.trainer, 'datamodule', None)
        if not isinstance(dm, PairedDataModule):
            return
        check_fits(
            dm, 'classes', 'ACKDTask', 'num_classes', self.hparams['num_classes']
        )
        if self.teacher.input.bands is None:
            option, channels = 'teacher.in_channels', self.teacher.in_channels
            check_fits(dm, 'bands', 'ACKDTask', option, channels)

    def on_fit_start(self) -> None:
        """Check the data against the teacher and cache the teacher's gallery."""
        dm = self.datamodule
        gallery = dm.gallery
        self.teacher.check_bands(gallery.bands)
        self.teacher.adapt_input(gallery.bands, *dm.statistics('ms'))
        self.teacher_cached = self.hparams['cache_teacher'] and not dm.augmentation.ms
        if self.teacher_cached and self.uses_teacher:
            outputs = loader_outputs(
                self.teacher,
                dm.gallery_dataloader(),
                'image_ms',
                dm.preprocess,
                self.device,
                self.trainer.precision_plugin.forward_context,
            )
            self.teacher.set_cache(TeacherOutputs(*outputs))
        # Batches need no MS image when the teacher's outputs are looked up.
        dm.teacher_images = self.uses_teacher and not self.teacher_cached

    def compute_losses(
        self, batch: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """The SemBridge loss of a paired batch.

        Args:
            batch: Paired batch (``image``, ``label``, ``teacher_index`` and,
                without the teacher cache, ``image_ms``), normalised.

        Returns:
            ``(total loss, {ce, kd, ot1, ot2} parts, student logits (B, K))``.
        """
        hp, y = self.hparams, batch['label']
        logits_s, patches_s, emb_s = forward_with_features(self.student, batch['image'])
        ce = self.criterion(logits_s, y)
        loss, parts = hp['w_task'] * ce, {'ce': ce}
        if self.uses_teacher:
            t = self._teacher_outputs(batch)
            kd = self.kd_loss(logits_s, t.logits, y, emb_s, t.embedding)
            loss, parts['kd'] = loss + hp['kd']['weight'] * kd, kd
            if self.planner is not None:
                ot1, ot2 = self.planner(t.patches, patches_s, t.embedding, emb_s)
                loss = loss + hp['ska']['weight'] * (ot1 + ot2)
                parts |= {'ot1': ot1, 'ot2': ot2}
        return loss, parts, logits_s

    def _teacher_outputs(self, batch: dict[str, Tensor]) -> TeacherOutputs:
        if self.teacher_cached:
            return self.teacher.lookup(batch['teacher_index'])
        return self.teacher(batch['image_ms'])  # type: ignore[no-any-return]

    def training_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """One SemBridge step (see :meth:`compute_losses`).

        Args:
            batch: Paired batch.
            batch_idx: Batch index.
            dataloader_idx: Loader index.

        Returns:
            The total loss.
        """
        loss, parts, logits_s = self.compute_losses(batch)
        y = batch['label']
        b = y.shape[0]
        for name, value in {'loss': loss, **parts}.items():
            self.log(f'train_{name}', value, batch_size=b)
        self.train_metrics(logits_s.detach(), y)
        self.log_dict(self.train_metrics, batch_size=b)
        return loss

    def on_train_epoch_start(self) -> None:
        """Reseed the random generators and advance the KD loss's schedule."""
        epoch = self.current_epoch
        if self.hparams['epoch_seed'] is not None:
            seed = self.hparams['epoch_seed'] + epoch
            random.seed(seed)
            np.random.seed(seed)  # noqa: NPY002 (the legacy global RNG is what others use)
            torch.manual_seed(seed)
        self.kd_loss.set_epoch(epoch)
