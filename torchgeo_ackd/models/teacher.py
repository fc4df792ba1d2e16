"""The frozen MS teacher of the student stage, with its gallery cache."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import timm
import torch
from torch import Tensor, nn

from ..losses.functional import multilabel_teacher_logits
from .features import forward_with_features
from .teacher_weights import TeacherInput, load_teacher_weights, teacher_band_order

#: ``teacher.weights`` of a randomly initialised teacher, asked for on purpose.
RANDOM_WEIGHTS = 'random'


@dataclass
class TeacherConfig:
    """The frozen MS teacher of a student task, one group in a config.

    Attributes:
        model: timm model name.
        in_channels: MS bands the teacher takes.
        weights: A TorchGeo weight enum name (e.g.
            ``'ResNet18_Weights.SENTINEL2_ALL_MOCO'``), a checkpoint of
            TorchGeo's classification task (the teacher stage's
            ``teacher.ckpt``), or a state-dict file; ``'random'``: a randomly
            initialised teacher, on purpose (tests, smoke runs). Required: a
            student distilled from an untrained teacher learns noise.
        multilabel: The teacher is a multi-label (sigmoid) classifier (M2S-GL).
        multilabel_logits: What KD and re-matching see of a multi-label
            teacher: ``'logsigmoid'`` (``softmax(log sigmoid(z) / T)``, its
            per-class probabilities renormalised and tempered; a logit of 0
            keeps meaning "probability 0.5") or ``'raw'`` (the BCE logits
            straight into ``softmax(z / T)``, as the reference code does; the
            paper configs). For z = [5, -5, -5, -5, -5] at T = 3 the top class
            gets 0.570 and 0.875.
    """

    model: str = 'resnet34'
    in_channels: int = 13
    weights: str | None = None
    multilabel: bool = False
    multilabel_logits: Literal['logsigmoid', 'raw'] = 'logsigmoid'

    def __post_init__(self) -> None:
        """Check the multi-label conversion."""
        if self.multilabel_logits not in ('logsigmoid', 'raw'):
            raise ValueError(
                "teacher.multilabel_logits must be 'logsigmoid' or 'raw', got "
                f'{self.multilabel_logits!r}'
            )


class TeacherOutputs(NamedTuple):
    """What the teacher gives the student's losses, per sample.

    Attributes:
        logits: (B, K) single-label class logits (multi-label ones converted).
        patches: (B, N, D) last-stage features as a patch sequence (SKA).
        embedding: (B, D) pooled features.
    """

    logits: Tensor
    patches: Tensor
    embedding: Tensor


class RawInputAdapter(nn.Module):
    """Normalised MS batch -> raw values, reordered and scaled for pretrained weights."""

    mean: Tensor
    std: Tensor

    def __init__(
        self, mean: Tensor, std: Tensor, index: list[int] | None, scale: float | None
    ) -> None:
        """Initialize a new RawInputAdapter instance.

        Args:
            mean: (C,) per-band mean the datamodule normalised with.
            std: (C,) per-band standard deviation.
            index: Band order the weights expect, as indices of the input bands.
            scale: Raw values are divided by this (``None``: not at all).
        """
        super().__init__()
        # Not persistent: derived from the datamodule at every fit start.
        self.register_buffer('mean', mean.view(1, -1, 1, 1).clone(), persistent=False)
        self.register_buffer('std', std.view(1, -1, 1, 1).clone(), persistent=False)
        self.index = index
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        """Undo the normalisation of a (B, C, H, W) batch."""
        raw = x * self.std + self.mean
        if self.index is not None:
            raw = raw[:, self.index]
        return raw / self.scale if self.scale is not None else raw


class FrozenTeacher(nn.Module):
    """An MS teacher that is never trained: always in eval mode, never optimised.

    Builds the timm model, loads its weights (:func:`load_teacher_weights`), adapts
    normalised inputs to what pretrained weights expect (band order, raw scale),
    and can cache its outputs for the whole (unaugmented) gallery.
    """

    def __init__(
        self,
        model: str = 'resnet34',
        in_channels: int = 13,
        num_classes: int = 10,
        weights: str | None = None,
        multilabel: bool = False,
        multilabel_logits: Literal['logsigmoid', 'raw'] = 'logsigmoid',
    ) -> None:
        """Initialize a new FrozenTeacher instance.

        Args:
            model: timm model name.
            in_channels: MS bands the teacher takes.
            num_classes: Size of the class vocabulary.
            weights: TorchGeo weight enum name, checkpoint or state-dict file
                (``None`` or ``'random'``: random initialisation).
            multilabel: The teacher is a multi-label (sigmoid) classifier.
            multilabel_logits: ``'logsigmoid'`` or ``'raw'``, see
                :class:`TeacherConfig`.
        """
        super().__init__()
        self.model = timm.create_model(
            model, in_chans=in_channels, num_classes=num_classes
        )
        self.input = TeacherInput()
        if weights and weights != RANDOM_WEIGHTS:
            self.input = load_teacher_weights(self.model, weights)
        self.in_channels = in_channels
        self.multilabel = multilabel
        self.convert_logits = multilabel and multilabel_logits == 'logsigmoid'
        self.adapter: nn.Module = nn.Identity()
        self.gallery: TeacherOutputs | None = None
        self.model.requires_grad_(False)
        # All flags False from the start: Lightning restores modes without train().
        self.eval()

    @classmethod
    def from_config(cls, config: TeacherConfig, num_classes: int) -> 'FrozenTeacher':
        """Build the teacher a config's ``teacher`` group describes.

        Args:
            config: The ``teacher`` group of a student config.
            num_classes: Size of the class vocabulary.

        Returns:
            The frozen teacher, weights loaded.

        Raises:
            ValueError: If the config gives no weights (and not ``'random'``).
        """
        if not config.weights:
            raise ValueError(
                "teacher.weights is not set: give the teacher stage's checkpoint "
                '(e.g. --model.init_args.teacher.weights=output/teacher/teacher.ckpt),'
                ' a TorchGeo weight enum name or a state-dict file; '
                'teacher.weights: random trains against an untrained teacher, on purpose'
            )
        return cls(num_classes=num_classes, **asdict(config))

    @property
    def num_features(self) -> int:
        """Channels of the last feature map (D)."""
        return int(self.model.num_features)  # type: ignore[arg-type]

    def train(self, mode: bool = True) -> 'FrozenTeacher':
        """Stay in eval mode whatever Lightning asks.

        Args:
            mode: Ignored.

        Returns:
            self
        """
        return super().train(False)

    def check_bands(self, bands: Sequence[str]) -> None:
        """Refuse MS data whose band count the teacher cannot take.

        Args:
            bands: Band names of the MS batches.

        Raises:
            ValueError: If the count differs and the weights name no band order.
        """
        if self.input.bands is None and len(bands) != self.in_channels:
            raise ValueError(
                f'the MS data have {len(bands)} bands {list(bands)}, but the '
                f'teacher takes {self.in_channels} (teacher.in_channels)'
            )

    def adapt_input(self, bands: Sequence[str], mean: Tensor, std: Tensor) -> None:
        """Undo the datamodule's normalisation for weights that expect raw values.

        Args:
            bands: Band names of the MS batches, in order.
            mean: (C,) per-band mean they were normalised with.
            std: (C,) per-band standard deviation.
        """
        if self.input.bands is None and self.input.scale is None:
            return
        index = teacher_band_order(bands, self.input.bands)
        device = next(self.model.parameters()).device
        self.adapter = RawInputAdapter(mean, std, index, self.input.scale).to(device)

    @torch.no_grad()
    def forward(self, image: Tensor) -> TeacherOutputs:
        """Run the teacher on a normalised MS batch.

        Args:
            image: (B, C, H, W) normalised MS images.

        Returns:
            The teacher's outputs.
        """
        logits, patches, embedding = forward_with_features(
            self.model, self.adapter(image)
        )
        if self.convert_logits:
            logits = multilabel_teacher_logits(logits)
        return TeacherOutputs(logits, patches, embedding)

    def set_cache(self, outputs: TeacherOutputs) -> TeacherOutputs:
        """Keep the outputs of every gallery sample in :attr:`gallery`.

        The task computes them once at fit start, so that a training step looks
        them up instead of running the teacher.

        Args:
            outputs: The outputs, each (N_t, ...), row i for gallery sample i.

        Returns:
            *outputs*.
        """
        self.gallery = outputs
        return outputs

    def lookup(self, index: Tensor) -> TeacherOutputs:
        """Cached outputs of gallery samples.

        Args:
            index: (B,) gallery indices.

        Returns:
            The outputs, each (B, ...).
        """
        assert self.gallery is not None, 'call set_cache() first'
        i = index.to(self.gallery.logits.device)
        return TeacherOutputs(*(o[i] for o in self.gallery))
