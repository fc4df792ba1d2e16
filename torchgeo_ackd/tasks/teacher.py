"""The MS teacher stage: TorchGeo's ClassificationTask that also reports calibration."""

from typing import Any, Literal

from torch import Tensor
from torch.optim import AdamW
from torch.optim.lr_scheduler import CosineAnnealingLR
from torchmetrics.classification import MulticlassCalibrationError

from ..datamodules import ACKDDataModule
from ..models.factory import create_model
from ..models.teacher_weights import is_weight_enum_name, load_teacher_weights
from .base import check_fits

try:  # TorchGeo >= 0.10 (torchgeo.trainers.ClassificationTask is a deprecated alias)
    from torchgeo.tasks import Classification as ClassificationTask
except ImportError:  # TorchGeo 0.8
    from torchgeo.trainers import ClassificationTask


class SoftmaxCalibrationError(MulticlassCalibrationError):
    """Expected calibration error of class logits (softmax applied here).

    torchmetrics guesses from their range whether ``preds`` are probabilities,
    so logits that all lie in [0, 1] would be misread; this one takes logits.
    """

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch.

        Args:
            preds: (B, K) class logits.
            target: (B,) class indices.
        """
        super().update(preds.float().softmax(dim=-1), target)


class TeacherTask(ClassificationTask):
    """TorchGeo's :class:`~torchgeo.trainers.ClassificationTask` with calibration.

    Distillation transfers the teacher's soft labels, so validation and test also
    log the expected calibration error (``val_CalibrationError``,
    ``test_CalibrationError``; equal-width bins, L1) of single-label
    (``task='multiclass'``) teachers. Checkpoints load as ``ClassificationTask`` ones.
    """

    def __init__(
        self,
        lr_schedule: Literal['plateau', 'cosine'] = 'plateau',
        calibration_bins: int = 15,
        bands: list[str] | None = None,
        wavelengths: list[float] | None = None,
        zero_init_last: bool = True,
        **kwargs: Any,
    ) -> None:
        """Initialize a new TeacherTask instance.

        Args:
            lr_schedule: ``'plateau'``: TorchGeo's (AdamW, learning rate x 0.1 after
                ``patience`` epochs without a lower validation loss); ``'cosine'``:
                AdamW annealed to 0 over the trainer's ``max_epochs`` (per epoch).
            calibration_bins: Confidence bins of the calibration error.
            bands: The MS bands of the input, in order. With a TorchGeo weight enum
                trained on other bands, the first convolution is built from the
                weight's channels of these bands (by name, else by nearest centre
                wavelength); without them the model must take the weight's bands.
            wavelengths: Centre wavelengths (nm) of *bands* (default: those of
                the Sentinel-2 bands of these names).
            zero_init_last: timm's initialisation of a model trained from scratch
                (each residual block's last BatchNorm weight at zero); False: at
                one, as the reference code.
            **kwargs: Keyword arguments of ``ClassificationTask`` (``model``,
                ``weights``, ``in_channels``, ``num_classes``, ``lr``, ...).
        """
        if lr_schedule not in ('plateau', 'cosine'):
            raise ValueError(
                f"lr_schedule must be 'plateau' or 'cosine', got {lr_schedule!r}"
            )
        self.calibration_bins = calibration_bins
        if wavelengths is not None and (
            bands is None or len(wavelengths) != len(bands)
        ):
            raise ValueError(
                f'wavelengths {wavelengths} need one value per band of bands={bands}'
            )
        if kwargs.get('task') == 'multilabel' and kwargs.get('loss', 'ce') == 'ce':
            raise ValueError(
                "TeacherTask: task='multilabel' with loss='ce' trains a softmax "
                'classifier, not a multi-label one; set loss: bce (the reference '
                "code's BCEWithLogitsLoss), e.g. --model.init_args.loss=bce"
            )
        if bands is not None and len(bands) != kwargs.get('in_channels', 3):
            raise ValueError(
                f'bands {bands} name {len(bands)} bands, but '
                f'in_channels={kwargs.get("in_channels", 3)}'
            )
        super().__init__(**kwargs)

    def configure_models(self) -> None:
        """TorchGeo's model; a weight enum for other bands is mapped to ``bands``."""
        # Set by TorchGeo's __init__ before it calls this.
        weights = self.weights  # type: ignore[has-type]
        if not weights and not self.hparams['zero_init_last']:
            # TorchGeo's configure_models, with the reference's initialisation.
            hp = self.hparams
            self.model = create_model(
                hp['model'],
                hp['in_channels'],
                hp['num_classes'] or hp['num_labels'] or 1,
                zero_init_last=False,
            )
            if hp['freeze_backbone']:
                for param in self.model.parameters():
                    param.requires_grad = False
                for param in self.model.get_classifier().parameters():  # type: ignore[operator]
                    param.requires_grad = True
            return
        bands = self.hparams.get('bands')
        if not (bands and isinstance(weights, str) and is_weight_enum_name(weights)):
            super().configure_models()
            return
        # Build (and freeze, if asked) without weights, then load them mapped.
        self.weights = None
        try:
            super().configure_models()
        finally:
            self.weights = weights
        load_teacher_weights(self.model, weights, bands, self.hparams['wavelengths'])

    def setup(self, stage: str) -> None:
        """Check the datamodule's bands and classes against the model.

        Args:
            stage: Lightning stage.

        Raises:
            ValueError: If an ACKD datamodule's MS bands or classes do not fit
                ``in_channels``, ``bands`` or ``num_classes`` / ``num_labels``.
        """
        dm = getattr(self.trainer, 'datamodule', None)
        if not isinstance(dm, ACKDDataModule):
            return
        hp, bands, mapped = self.hparams, list(dm.ms_bands), self.hparams.get('bands')
        if mapped is not None and list(mapped) != bands:
            raise ValueError(
                f'{type(dm).__name__} gives the MS bands {bands}, but TeacherTask maps its '
                f'weights to bands={list(mapped)}: set --model.init_args.bands to '
                "the datamodule's bands, in order"
            )
        check_fits(dm, 'bands', 'TeacherTask', 'in_channels', hp['in_channels'])
        option = 'num_labels' if hp['task'] == 'multilabel' else 'num_classes'
        check_fits(dm, 'classes', 'TeacherTask', option, hp[option])

    def configure_optimizers(self) -> Any:
        """AdamW with the chosen learning-rate schedule.

        Returns:
            The optimizer and its scheduler.
        """
        if self.hparams['lr_schedule'] == 'plateau':
            return super().configure_optimizers()
        optimizer = AdamW(self.parameters(), lr=self.hparams['lr'])
        epochs = self.trainer.max_epochs
        if epochs is None or epochs < 1:
            raise ValueError(
                f"lr_schedule='cosine' needs the trainer's max_epochs, got {epochs}"
            )
        return {
            'optimizer': optimizer,
            'lr_scheduler': CosineAnnealingLR(optimizer, T_max=epochs),
        }

    def configure_metrics(self) -> None:
        """TorchGeo's metrics, plus the calibration error on val and test."""
        super().configure_metrics()
        if self.hparams['task'] != 'multiclass':
            return
        k, bins = self.hparams['num_classes'], self.calibration_bins
        for metrics in (self.val_metrics, self.test_metrics):
            error = SoftmaxCalibrationError(k, n_bins=bins)
            metrics.add_metrics({'CalibrationError': error})
