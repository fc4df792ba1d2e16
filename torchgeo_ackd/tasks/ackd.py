"""ACKDTask: an RGB student distilled from an unpaired MS teacher with SemBridge."""

import random
from typing import Any

import numpy as np
import timm
import torch
from torch import Tensor

from ..datamodules import ACKDDataModule
from ..losses import build_kd_loss
from ..models.features import forward_with_features
from ..models.planner import Planner
from ..models.teacher import FrozenTeacher, TeacherOutputs
from .evaluation import StudentEvaluationTask


class ACKDTask(StudentEvaluationTask):
    """Train an RGB student with an unpaired MS teacher (SemBridge, AAAI 2026).

    Loss: ``w_task * CE + w_kd * KD + w_ot * (L_ot1 + L_ot2)`` where KD is any
    registered distillation loss (``kd: kd | dkd | rkd | lskd | ctkd | logits |
    none``) and L_ot1/L_ot2 come from the SKA :class:`Planner` (semantic-aware
    knowledge alignment). Each student sample is distilled from the teacher
    gallery sample the datamodule pairs it with (``teacher_index``): the
    matcher's pairing (SSM, the datamodule's ``pairing_file``) or a seeded
    random same-class one, re-matched during training by the
    :class:`~torchgeo_ackd.callbacks.DynamicMatching` callback (DynM).

    The teacher is a :class:`FrozenTeacher`: never optimised, always in eval
    mode. When the MS side is not augmented (the default), its outputs for
    the whole gallery are computed once and looked up by ``teacher_index``.

    Use with an :class:`~torchgeo_ackd.datamodules.ACKDDataModule` in the
    ``paired`` mode.
    """

    def __init__(
        self,
        num_classes: int = 10,
        student: str = 'resnet34',
        student_weights: str | None = None,
        teacher: str = 'resnet34',
        teacher_in_channels: int = 13,
        teacher_weights: str | None = None,
        teacher_multilabel: bool = False,
        kd: str = 'kd',
        kd_kwargs: dict[str, Any] | None = None,
        use_ot1: bool = True,
        use_ot2: bool = True,
        planner_dim: int = 512,
        planner_heads: int = 8,
        w_task: float = 0.3,
        w_kd: float = 0.4,
        w_ot: float = 0.003,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        cache_teacher: bool = True,
        epoch_seed: int | None = 0,
    ) -> None:
        """Initialize a new ACKDTask instance.

        Args:
            num_classes: Size of the class vocabulary (teacher and student).
            student: timm model name of the RGB student (3 input bands).
            student_weights: Optional state-dict file for the student.
            teacher: timm model name of the MS teacher.
            teacher_in_channels: MS bands the teacher takes.
            teacher_weights: A TorchGeo weight enum name (e.g.
                ``'ResNet18_Weights.SENTINEL2_ALL_MOCO'``), a checkpoint of
                TorchGeo's classification task, or a state-dict file.
            teacher_multilabel: The teacher is a multi-label (sigmoid)
                classifier (M2S-GL): its logits become a class distribution
                through ``logsigmoid`` before KD and re-matching.
            kd: Registered name of the KD loss.
            kd_kwargs: Keyword arguments of the KD loss.
            use_ot1: Use L_ot1 (CORAL of the refined patch features).
            use_ot2: Use L_ot2 (CORAL of the pooled embeddings).
            planner_dim: Attention dimension of the Planner.
            planner_heads: Attention heads of the Planner.
            w_task: Weight of the cross-entropy loss.
            w_kd: Weight of the KD loss.
            w_ot: Weight of L_ot1 + L_ot2.
            lr: Adam learning rate.
            weight_decay: Adam weight decay.
            cache_teacher: Cache the teacher's gallery outputs when the MS side
                is not augmented.
            epoch_seed: Reseed the random generators with ``epoch_seed + epoch``
                at each epoch start, so a resumed run repeats an uninterrupted
                one exactly (None: don't).
        """
        super().__init__()
        self.teacher_cached = False

    # ------------------------------------------------------------------ set-up
    def configure_models(self) -> None:
        """Build the student, the frozen teacher, the KD loss and the Planner."""
        hp = self.hparams
        self.student = timm.create_model(
            hp['student'], in_chans=3, num_classes=hp['num_classes']
        )
        if hp['student_weights']:
            state = torch.load(
                hp['student_weights'], map_location='cpu', weights_only=True
            )
            self.student.load_state_dict(state)
        self.teacher = FrozenTeacher(
            hp['teacher'],
            hp['teacher_in_channels'],
            hp['num_classes'],
            hp['teacher_weights'],
            hp['teacher_multilabel'],
        )
        self.kd_loss = build_kd_loss(hp['kd'], **(hp['kd_kwargs'] or {}))
        self.planner: Planner | None = None
        if hp['use_ot1'] or hp['use_ot2']:
            self.planner = Planner(
                teacher_channels=self.teacher.num_features,
                student_channels=int(self.student.num_features),  # type: ignore[arg-type]
                embed_dim=hp['planner_dim'],
                num_heads=hp['planner_heads'],
                use_ot1=hp['use_ot1'],
                use_ot2=hp['use_ot2'],
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
    def datamodule(self) -> ACKDDataModule:
        """The trainer's ACKD datamodule (paired mode)."""
        dm = getattr(self.trainer, 'datamodule', None)
        if not isinstance(dm, ACKDDataModule) or dm.modality != 'paired':
            raise TypeError(
                'ACKDTask needs an ACKDDataModule subclass with modality=paired, got '
                f'{type(dm).__name__}'
            )
        return dm

    @property
    def uses_teacher(self) -> bool:
        """Whether the training step needs the teacher's outputs."""
        return self.kd_loss.needs_teacher or self.planner is not None

    def on_fit_start(self) -> None:
        """Check the data against the teacher and cache the teacher's gallery."""
        dm = self.datamodule
        gallery = dm.ms_train
        self.teacher.check_bands(gallery.bands)
        if len(gallery.classes) != self.hparams['num_classes']:
            raise ValueError(
                f'{type(gallery).__name__} has {len(gallery.classes)} classes, but '
                f'num_classes={self.hparams["num_classes"]}'
            )
        self.teacher.adapt_input(gallery.bands, *dm.statistics('ms'))
        self.teacher_cached = self.hparams['cache_teacher'] and not dm.ms_augment
        if self.teacher_cached and self.uses_teacher:
            self.teacher.cache_gallery(
                dm.gallery_dataloader(),
                len(gallery),
                dm.preprocess,
                self.device,
                self.trainer.precision_plugin.forward_context(),
            )
        # Batches need no MS image when the teacher's outputs are looked up.
        dm.teacher_images = self.uses_teacher and not self.teacher_cached

    # --------------------------------------------------------------- training
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
            loss, parts['kd'] = loss + hp['w_kd'] * kd, kd
            if self.planner is not None:
                ot1, ot2 = self.planner(t.patches, patches_s, t.embedding, emb_s)
                loss = loss + hp['w_ot'] * (ot1 + ot2)
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
        self.log('train_loss', loss, batch_size=b)
        for name, value in parts.items():
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
