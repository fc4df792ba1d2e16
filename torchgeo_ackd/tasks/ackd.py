"""ACKDTask: an RGB student distilled from an unpaired MS teacher with SemBridge."""

import random
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor, nn
from torchmetrics import ClasswiseWrapper, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from ..datamodules import ACKDDataModule
from ..datasets import PairedDataset
from ..losses import build_kd_loss
from ..losses.functional import multilabel_teacher_logits
from ..matching.embed import broadcast_buffers, compute_embeddings, eval_mode
from ..matching.schedule import dynm_schedule, validate_epochs
from ..matching.search import match_kl
from ..matching.sharding import shard_loader
from ..models.features import forward_with_features
from ..models.planner import Planner
from ..models.teacher_weights import (
    TeacherInput,
    load_teacher_weights,
    teacher_band_order,
)
from .base import BaseTask
from .figures import confusion_figure, pairs_figure
from .pairing_source import initial_pairing_from, write_pairing_files


class ACKDTask(BaseTask):
    """Train an RGB student with an unpaired MS teacher (SemBridge, AAAI 2026).

    Loss: ``w_task * CE + w_kd * KD + w_ot * (L_ot1 + L_ot2)`` where KD is any
    registered distillation loss (``kd: kd | dkd | rkd | lskd | ctkd | logits |
    none``) and L_ot1/L_ot2 come from the SKA :class:`Planner`. Each student
    sample is distilled from the teacher sample it is paired with: initially
    the matcher's pairing (SSM) or a seeded random same-class pairing, then
    re-matched with the current student at the DynM epochs (lowest
    KL(teacher || student) at temperature 3 within the class).

    The teacher is frozen: never optimised, always in eval mode. When the MS
    side is not augmented (the default), its logits and last-stage features
    for the whole gallery are computed once and looked up by ``teacher_index``.

    Use with an :class:`~torchgeo_ackd.datamodules.ACKDDataModule` in the
    ``paired`` mode.
    """

    monitor = 'val_OverallAccuracy'
    mode = 'max'

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
        sembridge: bool = True,
        ssm: bool = True,
        dynm: bool = True,
        use_ot1: bool = True,
        use_ot2: bool = True,
        pairing_file: str | None = None,
        matcher_checkpoint: str | None = None,
        dynm_epochs: list[int] | None = None,
        dynm_e0: int = 5,
        dynm_delta_e: int = 25,
        dynm_e_mu: int = 5,
        dynm_num_matchings: int | None = 4,
        dynm_temperature: float = 3.0,
        planner_dim: int = 512,
        planner_heads: int = 8,
        w_task: float = 0.3,
        w_kd: float = 0.4,
        w_ot: float = 0.003,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        cache_teacher: bool = True,
        matching_chunk_size: int = 4096,
        epoch_seed: int | None = 0,
        log_pairs: int = 8,
        pairing_dir: str | None = None,
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
            sembridge: Master switch; False turns SSM, DynM and both SKA losses
                off (the plain SCKD baseline under the ACKD setting).
            ssm: Start from the matcher's pairing (else seeded random same-class).
            dynm: Re-match with the current student at the DynM epochs.
            use_ot1: Use L_ot1 (CORAL of the refined patch features).
            use_ot2: Use L_ot2 (CORAL of the pooled embeddings).
            pairing_file: ``pairing.pt`` or ``pairing.csv`` from the matcher stage.
            matcher_checkpoint: Matcher checkpoint to compute the pairing from
                (used when no *pairing_file* is given).
            dynm_epochs: Explicit re-matching epochs (overrides the schedule).
            dynm_e0: Schedule offset e_0.
            dynm_delta_e: Schedule interval delta_e.
            dynm_e_mu: Schedule interval growth e_mu.
            dynm_num_matchings: Number of re-matchings T (None: all < max_epochs).
            dynm_temperature: Temperature of the re-matching KL.
            planner_dim: Attention dimension of the Planner.
            planner_heads: Attention heads of the Planner.
            w_task: Weight of the cross-entropy loss.
            w_kd: Weight of the KD loss.
            w_ot: Weight of L_ot1 + L_ot2.
            lr: Adam learning rate.
            weight_decay: Adam weight decay.
            cache_teacher: Cache the teacher's gallery outputs when the MS side
                is not augmented.
            matching_chunk_size: Students per chunk of the re-matching search.
            epoch_seed: Reseed the random generators with ``epoch_seed + epoch``
                at each epoch start, so a resumed run repeats an uninterrupted
                one exactly (None: don't).
            log_pairs: Matched pairs drawn per figure (TensorBoard).
            pairing_dir: Where the pairings in use are written
                (``pairing_initial/``, ``pairing_epoch<N>/``; default: the
                trainer's ``default_root_dir``).
        """
        self.kd_kwargs = dict(kd_kwargs or {})
        if teacher_multilabel:
            self.kd_kwargs.setdefault('multilabel_teacher', True)
        if not sembridge:
            ssm = dynm = use_ot1 = use_ot2 = False
        self.switches = {'ssm': ssm, 'dynm': dynm, 'ot1': use_ot1, 'ot2': use_ot2}
        super().__init__()
        self.rematched_epochs: list[int] = []
        self.schedule: list[int] = []
        self._restored_pairing: Tensor | None = None
        self.teacher_cache: dict[str, Tensor] | None = None
        self.teacher_cache_dtypes = (torch.float32,) * 3
        self.gallery_logits: Tensor | None = None

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
        self.teacher = timm.create_model(
            hp['teacher'],
            in_chans=hp['teacher_in_channels'],
            num_classes=hp['num_classes'],
        )
        self.teacher_input = TeacherInput()
        if hp['teacher_weights']:
            self.teacher_input = load_teacher_weights(
                self.teacher, hp['teacher_weights']
            )
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        # Filled at fit start from the datamodule: raw-value adapter for
        # pretrained enum weights (band order and scale).
        self.teacher_adapter: nn.Module = nn.Identity()

        self.kd_loss = build_kd_loss(hp['kd'], **self.kd_kwargs)
        self.planner: Planner | None = None
        if self.switches['ot1'] or self.switches['ot2']:
            self.planner = Planner(
                teacher_channels=_num_features(self.teacher),
                student_channels=_num_features(self.student),
                embed_dim=hp['planner_dim'],
                num_heads=hp['planner_heads'],
                use_ot1=self.switches['ot1'],
                use_ot2=self.switches['ot2'],
            )

    def configure_losses(self) -> None:
        """The task loss is cross-entropy; KD and SKA are built with the models."""
        self.criterion = nn.CrossEntropyLoss()

    def configure_metrics(self) -> None:
        """OA, macro precision/recall/F1 and per-class accuracy, per split."""
        k = self.hparams['num_classes']
        metrics = MetricCollection(
            {
                'OverallAccuracy': MulticlassAccuracy(k, average='micro'),
                'Precision': MulticlassPrecision(k, average='macro'),
                'Recall': MulticlassRecall(k, average='macro'),
                'F1Score': MulticlassF1Score(k, average='macro'),
            }
        )
        self.train_metrics = metrics.clone(prefix='train_')
        self.val_metrics = metrics.clone(prefix='val_')
        self.test_metrics = metrics.clone(prefix='test_')
        per_class = MulticlassAccuracy(k, average=None)
        self.val_class_accuracy = ClasswiseWrapper(
            per_class.clone(), prefix='val_accuracy_'
        )
        self.test_class_accuracy = ClasswiseWrapper(
            per_class.clone(), prefix='test_accuracy_'
        )
        self.val_confusion = MulticlassConfusionMatrix(k)

    def configure_optimizers(self) -> Any:
        """Adam over the student, the Planner and learnable KD parameters.

        Returns:
            The optimizer (the frozen teacher is not in it).
        """
        params = [p for n, p in self.named_parameters() if not n.startswith('teacher.')]
        return torch.optim.Adam(
            params, lr=self.hparams['lr'], weight_decay=self.hparams['weight_decay']
        )

    def train(self, mode: bool = True) -> 'ACKDTask':
        """Switch train/eval mode; the teacher always stays in eval mode.

        Args:
            mode: Training mode of everything but the teacher.

        Returns:
            self
        """
        super().train(mode)
        self.teacher.eval()
        return self

    def setup(self, stage: str) -> None:
        """Name the per-class metrics after the datamodule's classes.

        Args:
            stage: Lightning stage.
        """
        dm = getattr(self.trainer, 'datamodule', None)
        classes = getattr(getattr(dm, 'dataset_class', None), 'classes', None)
        if classes is not None and len(classes) == self.hparams['num_classes']:
            per_class = MulticlassAccuracy(len(classes), average=None)
            labels = list(classes)
            self.val_class_accuracy = ClasswiseWrapper(
                per_class.clone(), labels, prefix='val_accuracy_'
            )
            self.test_class_accuracy = ClasswiseWrapper(
                per_class.clone(), labels, prefix='test_accuracy_'
            )

    # ------------------------------------------------------------- data access
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

    def on_fit_start(self) -> None:
        """Prepare the teacher input, the teacher cache and the initial pairing."""
        dm = self.datamodule
        assert dm.ms_train is not None and isinstance(dm.train_dataset, PairedDataset)
        self._check_data(dm)
        self._build_teacher_adapter(dm)
        if self.hparams['cache_teacher'] and not dm.ms_augment:
            self.teacher_cache = self._teacher_gallery_outputs(dm)
            self.gallery_logits = self.teacher_cache['logits']
            dm.train_dataset.load_teacher = False
        if self._restored_pairing is not None:
            dm.set_pairing(self._restored_pairing)
        elif self.switches['ssm']:
            pairing = initial_pairing_from(
                dm,
                pairing_file=self.hparams['pairing_file'],
                matcher_checkpoint=self.hparams['matcher_checkpoint'],
                chunk_size=self.hparams['matching_chunk_size'],
                device=self.device,
            )
            dm.set_pairing(pairing)
        if self.trainer.is_global_zero and self._restored_pairing is None:
            write_pairing_files(self._output_dir() / 'pairing_initial', dm)
        self.schedule = self._dynm_schedule()
        self._log_pairs_figure('pairs/initial')

    def _check_data(self, dm: ACKDDataModule) -> None:
        assert dm.ms_train is not None and dm.rgb_train is not None
        bands, k = len(dm.ms_train.bands), self.hparams['num_classes']
        if (
            self.teacher_input.bands is None
            and bands != self.hparams['teacher_in_channels']
        ):
            raise ValueError(
                f'the MS data have {bands} bands {list(dm.ms_train.bands)}, but '
                f'teacher_in_channels={self.hparams["teacher_in_channels"]}'
            )
        if len(dm.ms_train.classes) != k:
            raise ValueError(
                f'{type(dm.ms_train).__name__} has {len(dm.ms_train.classes)} classes, '
                f'but num_classes={k}'
            )

    def _build_teacher_adapter(self, dm: ACKDDataModule) -> None:
        """Undo the datamodule normalisation for weights that expect raw values."""
        ti = self.teacher_input
        if ti.bands is None and ti.scale is None:
            return
        assert dm.ms_train is not None
        index = teacher_band_order(dm.ms_train.bands, ti.bands)
        mean, std = dm.stats['ms_mean'], dm.stats['ms_std']
        assert mean is not None and std is not None
        self.teacher_adapter = _RawInputAdapter(mean, std, index, ti.scale).to(
            self.device
        )

    def _output_dir(self) -> Path:
        return Path(self.hparams['pairing_dir'] or self.trainer.default_root_dir)

    def _dynm_schedule(self) -> list[int]:
        if not self.switches['dynm']:
            return []
        hp, max_epochs = self.hparams, self.trainer.max_epochs
        if max_epochs is None or max_epochs < 0:
            raise ValueError('DynM needs trainer.max_epochs to place its re-matchings')
        if hp['dynm_epochs'] is not None:
            return validate_epochs(hp['dynm_epochs'], max_epochs)
        return dynm_schedule(
            hp['dynm_e0'],
            hp['dynm_delta_e'],
            hp['dynm_e_mu'],
            max_epochs,
            hp['dynm_num_matchings'],
        )

    def _forward_context(self) -> AbstractContextManager[Any]:
        """The trainer's precision context (autocast under mixed precision).

        The forward passes outside the training step (teacher cache, DynM
        re-matching) run in the precision of those inside it, so a cached
        teacher output equals what the step would compute, and bf16 speeds
        them up like it speeds up training.
        """
        if self._trainer is None:
            return nullcontext()
        return self.trainer.precision_plugin.forward_context()

    # ----------------------------------------------------------------- teacher
    def _run_teacher(self, image_ms: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        with torch.no_grad():
            return forward_with_features(self.teacher, self.teacher_adapter(image_ms))

    def _teacher_gallery_outputs(self, dm: ACKDDataModule) -> dict[str, Tensor]:
        """Teacher logits, patches and embeddings of every gallery sample, once."""
        assert dm.ms_train is not None
        outputs: dict[str, Tensor] = {}
        n = len(dm.ms_train)

        def run(image: Tensor) -> Tensor:
            logits, patches, embedding = self._run_teacher(image)
            # compute_embeddings returns float32; remember what the teacher gave
            # (bf16 under bf16-mixed) to hand the step the same tensors.
            self.teacher_cache_dtypes = (logits.dtype, patches.dtype, embedding.dtype)
            b = logits.shape[0]
            return torch.cat([logits, patches.flatten(1), embedding], dim=1).view(b, -1)

        with self._forward_context():
            flat = compute_embeddings(
                run,
                shard_loader(dm.gallery_dataloader()),
                num_samples=n,
                key='image_ms',
                device=self.device,
                transform=dm.preprocess,
            )
        k, d = self.hparams['num_classes'], _num_features(self.teacher)
        outputs['logits'] = flat[:, :k]
        outputs['patches'] = flat[:, k:-d].reshape(n, -1, d)
        outputs['embedding'] = flat[:, -d:]
        return outputs

    def _teacher_outputs(
        self, batch: dict[str, Tensor]
    ) -> tuple[Tensor, Tensor, Tensor]:
        if self.teacher_cache is not None:
            i = batch['teacher_index'].to(self.teacher_cache['logits'].device)
            c, (dl, dp, de) = self.teacher_cache, self.teacher_cache_dtypes
            return (
                c['logits'][i].to(dl),
                c['patches'][i].to(dp),
                c['embedding'][i].to(de),
            )
        return self._run_teacher(batch['image_ms'])

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
        y = batch['label']
        logits_s, patches_s, emb_s = forward_with_features(self.student, batch['image'])
        ce = self.criterion(logits_s, y)
        loss = self.hparams['w_task'] * ce
        parts = {'ce': ce}
        if self.hparams['kd'] != 'none' or self.planner is not None:
            logits_t, patches_t, emb_t = self._teacher_outputs(batch)
            kd = self.kd_loss(logits_s, logits_t, y, emb_s, emb_t)
            loss = loss + self.hparams['w_kd'] * kd
            parts['kd'] = kd
            if self.planner is not None:
                ot1, ot2 = self.planner(patches_t, patches_s, emb_t, emb_s)
                loss = loss + self.hparams['w_ot'] * (ot1 + ot2)
                parts |= {'ot1': ot1, 'ot2': ot2}
        return loss, parts, logits_s

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
        """Reseed, advance loss schedules and re-match at the DynM epochs."""
        epoch = self.current_epoch
        if self.hparams['epoch_seed'] is not None:
            seed = self.hparams['epoch_seed'] + epoch
            random.seed(seed)
            np.random.seed(seed)  # noqa: NPY002 (the legacy global RNG is what others use)
            torch.manual_seed(seed)
        self.kd_loss.set_epoch(epoch)
        if epoch in self.schedule and epoch not in self.rematched_epochs:
            previous = self.datamodule.pairing.clone()
            pairing, kl = self.rematch()
            self.rematched_epochs.append(epoch)
            changed = (pairing.cpu() != previous).float().mean()
            self.log('dynm_changed_fraction', changed, on_epoch=True, on_step=False)
            self.log('dynm_mean_kl', kl.mean(), on_epoch=True, on_step=False)

    def rematch(self) -> tuple[Tensor, Tensor]:
        """DynM: re-pair every student with its lowest-KL teacher of its class.

        Returns:
            The new pairing (N_s,), also installed in the datamodule, and each
            student's KL to its new teacher (N_s,).
        """
        dm = self.datamodule
        assert dm.rgb_train is not None and dm.ms_train is not None
        if self.gallery_logits is None:
            self.gallery_logits = self._teacher_gallery_outputs(dm)['logits']
        broadcast_buffers(self.student)  # same BatchNorm statistics on every rank
        with eval_mode(self.student), self._forward_context():
            student_logits = compute_embeddings(
                self.student,
                shard_loader(dm.student_dataloader()),
                num_samples=len(dm.rgb_train),
                key='image_rgb',
                device=self.device,
                transform=dm.preprocess,
            )
        teacher_logits = self.gallery_logits
        if self.hparams['teacher_multilabel']:
            teacher_logits = multilabel_teacher_logits(teacher_logits)
        pairing, kl = match_kl(
            student_logits,
            dm.rgb_train.targets.to(student_logits.device),
            teacher_logits,
            dm.ms_train.targets.to(teacher_logits.device),
            temperature=self.hparams['dynm_temperature'],
            chunk_size=self.hparams['matching_chunk_size'],
        )
        dm.set_pairing(pairing.cpu())
        if self.trainer.is_global_zero:
            write_pairing_files(
                self._output_dir() / f'pairing_epoch{self.current_epoch}', dm, kl
            )
        self._log_pairs_figure(f'pairs/epoch_{self.current_epoch}')
        return pairing, kl

    # ------------------------------------------------------------- evaluation
    def _evaluate(self, batch: Any, stage: str) -> Tensor:
        """Log the loss and update the metrics of ``stage`` on an RGB batch.

        Args:
            batch: RGB batch with ``image`` (B, 3, H, W) and ``label`` (B,).
            stage: ``'val'`` or ``'test'``.

        Returns:
            The student logits (B, K).
        """
        logits = self.student(batch['image'])
        y = batch['label']
        b = y.shape[0]
        loss = self.criterion(logits, y)
        self.log(f'{stage}_loss', loss, batch_size=b, sync_dist=True)
        metrics = getattr(self, f'{stage}_metrics')
        metrics(logits, y)
        getattr(self, f'{stage}_class_accuracy')(logits, y)
        self.log_dict(metrics, batch_size=b)
        return logits  # type: ignore[no-any-return]

    def validation_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Evaluate the student on RGB.

        Args:
            batch: RGB batch.
            batch_idx: Batch index.
            dataloader_idx: Loader index.
        """
        logits = self._evaluate(batch, 'val')
        self.val_confusion(logits, batch['label'])

    def on_validation_epoch_end(self) -> None:
        """Log per-class accuracy and, with TensorBoard, the confusion matrix."""
        self.log_dict(self.val_class_accuracy.compute())
        self.val_class_accuracy.reset()
        matrix = self.val_confusion.compute()
        self.val_confusion.reset()
        logger = self.logger
        if isinstance(logger, TensorBoardLogger) and not self.trainer.sanity_checking:
            names = list(self.datamodule.dataset_class.classes)
            logger.experiment.add_figure(
                'val_confusion_matrix',
                confusion_figure(matrix, names),
                self.global_step,
            )

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Test the student on RGB.

        Args:
            batch: RGB batch.
            batch_idx: Batch index.
            dataloader_idx: Loader index.
        """
        self._evaluate(batch, 'test')

    def on_test_epoch_end(self) -> None:
        """Log the per-class test accuracy."""
        self.log_dict(self.test_class_accuracy.compute())
        self.test_class_accuracy.reset()

    def predict_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Class probabilities of an RGB batch.

        Args:
            batch: RGB batch.
            batch_idx: Batch index.
            dataloader_idx: Loader index.

        Returns:
            Softmax probabilities (B, K).
        """
        return F.softmax(self.student(batch['image']), dim=1)

    def forward(self, image: Tensor) -> Tensor:
        """Student logits.

        Args:
            image: RGB batch (B, 3, H, W), normalised.

        Returns:
            Logits (B, K).
        """
        return self.student(image)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the pairing in use and the DynM schedule position.

        Args:
            checkpoint: The checkpoint being written.
        """
        dm = getattr(self.trainer, 'datamodule', None)
        if isinstance(dm, ACKDDataModule) and isinstance(
            dm.train_dataset, PairedDataset
        ):
            checkpoint['ackd'] = {
                'pairing': dm.pairing.clone(),
                'rematched_epochs': list(self.rematched_epochs),
            }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the pairing and the DynM schedule position.

        Args:
            checkpoint: The checkpoint being read.
        """
        state = checkpoint.get('ackd')
        if state is not None:
            self._restored_pairing = state['pairing']
            self.rematched_epochs = list(state['rematched_epochs'])

    def _log_pairs_figure(self, tag: str) -> None:
        logger = self.logger
        if not isinstance(logger, TensorBoardLogger) or not self.trainer.is_global_zero:
            return
        if self.hparams['log_pairs'] <= 0:
            return
        figure = pairs_figure(self.datamodule, self.hparams['log_pairs'])
        logger.experiment.add_figure(tag, figure, self.global_step)


def _num_features(model: nn.Module) -> int:
    """Channels of a timm model's last feature map."""
    return int(model.num_features)  # type: ignore[arg-type]


class _RawInputAdapter(nn.Module):
    """Normalised MS batch -> raw values, reordered and scaled for pretrained weights."""

    mean: Tensor
    std: Tensor

    def __init__(
        self, mean: Tensor, std: Tensor, index: list[int] | None, scale: float | None
    ) -> None:
        super().__init__()
        self.register_buffer('mean', mean.view(1, -1, 1, 1).clone())
        self.register_buffer('std', std.view(1, -1, 1, 1).clone())
        self.index = index
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        raw = x * self.std + self.mean
        if self.index is not None:
            raw = raw[:, self.index]
        return raw / self.scale if self.scale is not None else raw
