"""Self-supervised Semantic Matching (SSM): the MS / pseudo-RGB matcher task."""

import math
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import ReduceLROnPlateau

from ..datamodules import ACKDDataModule
from ..matching.contrastive import clip_soft_infonce
from ..matching.embed import ViewEmbeddings, check_rgb_images
from ..matching.retrieval import retrieval_top1
from ..models.factory import create_model
from ..models.pretrained import load_pretrained
from ..models.projection_head import ProjectionHead
from .base import BaseTask, check_fits


def _feature_width(encoder: nn.Module) -> int:
    """Width of a timm model's pooled features (its ``num_features``)."""
    width = getattr(encoder, 'num_features', None)
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(
            f'{type(encoder).__name__} has no integer num_features; the matcher '
            'encoders must be timm models'
        )
    return width


class MatcherTask(BaseTask):
    """The SSM matcher: MS and pseudo-RGB encoders aligned by soft InfoNCE.

    Trained on an :class:`~torchgeo_ackd.datamodules.MSDataModule` with
    ``pseudo_rgb=True``: batches hold ``image`` (MS) and ``image_pseudo_rgb`` (its
    red/green/blue bands, normalised with the RGB statistics). The MS encoder M_V
    and the pseudo-RGB encoder M_G are timm models without classifier, each
    followed by a :class:`ProjectionHead` to a shared ``embed_dim`` space.

    Validation and test log the loss, ``val_retrieval_top1`` (how often an MS
    image is the most cosine-similar one of its own pseudo-RGB view over the whole
    split) and ``val_retrieval_class_top1`` (how often it has the view's class; not
    for multi-label batches). The initial pairing is written by the
    :class:`~torchgeo_ackd.callbacks.InitialPairing` callback.
    """

    monitor = 'val_loss'
    mode = 'min'

    def __init__(
        self,
        ms_model: str = 'resnet18',
        rgb_model: str = 'resnet18',
        in_channels: int = 13,
        embed_dim: int = 256,
        dropout: float = 0.1,
        temperature: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-3,
        patience: int | None = None,
        retrieval_chunk_size: int = 4096,
        zero_init_last: bool = True,
        ms_weights: str | None = None,
        rgb_weights: str | None = None,
    ) -> None:
        """Initialize a new MatcherTask instance.

        Args:
            ms_model: timm model name of the MS encoder M_V.
            rgb_model: timm model name of the pseudo-RGB encoder M_G.
            in_channels: Number of MS bands of the input batches.
            embed_dim: Width of the shared embedding space (reference: 256).
            dropout: Dropout of the projection heads (reference: 0.1).
            temperature: InfoNCE temperature (reference: 1.0).
            lr: AdamW learning rate (reference: 1e-3).
            weight_decay: AdamW weight decay (reference: 1e-3).
            patience: Epochs without ``val_loss`` improvement before ReduceLROnPlateau
                lowers the learning rate (None: constant, as the reference).
            retrieval_chunk_size: Queries per matrix product of the retrieval metrics.
            zero_init_last: timm's initialisation of both encoders (each residual
                block's last BatchNorm weight at zero); False: at one, as the
                reference code.
            ms_weights: Pretrained start of M_V: a TorchGeo weight enum name
                with the benchmark's bands, the teacher's checkpoint, or a file
                (see :func:`~torchgeo_ackd.models.pretrained.load_pretrained`).
            rgb_weights: Pretrained start of M_G: an RGB TorchGeo weight enum
                name, ``'timm'`` / ``'timm:<tag>'`` or a file.

        Raises:
            ValueError: If a numeric argument is out of range.
        """
        positive_ints = {
            'in_channels': in_channels,
            'embed_dim': embed_dim,
            'retrieval_chunk_size': retrieval_chunk_size,
        }
        for name, value in positive_ints.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be an int >= 1, got {value!r}')
        if not 0 <= dropout < 1:
            raise ValueError(f'dropout must be in [0, 1), got {dropout!r}')
        for name, number in (('temperature', temperature), ('lr', lr)):
            if not (math.isfinite(number) and number > 0):
                raise ValueError(f'{name} must be a finite number > 0, got {number!r}')
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f'weight_decay must be >= 0, got {weight_decay!r}')
        if patience is not None and patience < 0:
            raise ValueError(f'patience must be >= 0 or None, got {patience!r}')
        self._eval_outputs: list[ViewEmbeddings] = []
        super().__init__()

    def configure_models(self) -> None:
        """Build the two encoders and their projection heads."""
        hparams = self.hparams
        zero_init_last = hparams['zero_init_last']
        self.ms_encoder = create_model(
            hparams['ms_model'], hparams['in_channels'], 0, zero_init_last
        )
        self.rgb_encoder = create_model(hparams['rgb_model'], 3, 0, zero_init_last)
        for encoder, key, what in (
            (self.ms_encoder, 'ms_weights', 'matcher MS encoder'),
            (self.rgb_encoder, 'rgb_weights', 'matcher pseudo-RGB encoder'),
        ):
            if hparams.get(key):
                load_pretrained(encoder, hparams[key], what)
        dim, dropout = hparams['embed_dim'], hparams['dropout']
        self.ms_head = ProjectionHead(_feature_width(self.ms_encoder), dim, dropout)
        self.rgb_head = ProjectionHead(_feature_width(self.rgb_encoder), dim, dropout)

    def setup(self, stage: str) -> None:
        """Check the datamodule's MS bands against ``in_channels``.

        Args:
            stage: Lightning stage.

        Raises:
            ValueError: If an ACKD datamodule's MS band count differs.
        """
        dm = getattr(self.trainer, 'datamodule', None)
        if isinstance(dm, ACKDDataModule):
            check_fits(
                dm, 'bands', 'MatcherTask', 'in_channels', self.hparams['in_channels']
            )

    def embed_ms(self, image: Tensor) -> Tensor:
        """Embed normalised MS images with M_V and its head.

        Args:
            image: (B, in_channels, H, W) normalised MS images.

        Returns:
            (B, embed_dim) embeddings (not L2-normalised).

        Raises:
            ValueError: If the band count is not ``in_channels``.
        """
        expected = self.hparams['in_channels']
        if image.ndim != 4 or image.shape[1] != expected:
            raise ValueError(
                f'MS images must have shape (B, {expected}, H, W) for '
                f'MatcherTask(in_channels={expected}), got {tuple(image.shape)}'
            )
        return self.ms_head(self.ms_encoder(image))  # type: ignore[no-any-return]

    def embed_rgb(self, image: Tensor) -> Tensor:
        """Embed normalised (pseudo-)RGB images with M_G and its head.

        Args:
            image: (B, 3, H, W) normalised RGB or pseudo-RGB images.

        Returns:
            (B, embed_dim) embeddings (not L2-normalised).

        Raises:
            ValueError: If the images do not have 3 channels.
        """
        check_rgb_images(image)
        return self.rgb_head(self.rgb_encoder(image))  # type: ignore[no-any-return]

    def forward(self, ms_image: Tensor, rgb_image: Tensor) -> tuple[Tensor, Tensor]:
        """Embed an MS batch and a (pseudo-)RGB batch.

        Args:
            ms_image: (B, in_channels, H, W) normalised MS images.
            rgb_image: (B', 3, H', W') normalised (pseudo-)RGB images.

        Returns:
            (B, embed_dim) MS and (B', embed_dim) RGB embeddings.
        """
        return self.embed_ms(ms_image), self.embed_rgb(rgb_image)

    def _views(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """The MS image and its pseudo-RGB view of a batch, with a clear error."""
        if 'image_pseudo_rgb' not in batch:
            raise ValueError(
                "MatcherTask needs batches with 'image' (MS) and 'image_pseudo_rgb': "
                'use an MSDataModule with pseudo_rgb=True; got '
                f'keys {sorted(batch)}'
            )
        return batch['image'], batch['image_pseudo_rgb']

    def training_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor | None:
        """Compute the InfoNCE loss of one training batch.

        Args:
            batch: Batch with ``image`` and ``image_pseudo_rgb``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the loader.

        Returns:
            The loss, or ``None`` (step skipped) for a batch of one sample,
            which has no negatives and would break BatchNorm.
        """
        ms_image, rgb_image = self._views(batch)
        if len(ms_image) < 2:
            rank_zero_warn('MatcherTask: skipping a training batch of one sample')
            return None
        ms, rgb = self(ms_image, rgb_image)
        loss = clip_soft_infonce(ms, rgb, self.hparams['temperature'])
        self.log('train_loss', loss, batch_size=len(ms_image))
        return loss

    def _eval_step(self, batch: dict[str, Tensor], stage: str) -> None:
        """Log the loss and keep the embeddings for the retrieval metrics."""
        ms_image, rgb_image = self._views(batch)
        ms, rgb = self(ms_image, rgb_image)
        loss = clip_soft_infonce(ms, rgb, self.hparams['temperature'])
        self.log(f'{stage}_loss', loss, batch_size=len(ms_image), sync_dist=True)
        index = batch['index'].reshape(-1).long()
        label = batch.get('label')
        if label is None or label.ndim != 1 or label.is_floating_point():
            # No single class per sample (e.g. multi-hot MS labels): -1.
            label = torch.full_like(index, -1)
        embeddings = ViewEmbeddings(
            index, label.long(), ms.detach().float(), rgb.detach().float()
        )
        self._eval_outputs.append(embeddings)

    def _eval_epoch_end(self, stage: str) -> None:
        """Log the retrieval accuracies over the whole split (all ranks gathered)."""
        outputs, self._eval_outputs = self._eval_outputs, []
        views = ViewEmbeddings.cat(outputs, self.device).unique(self.device)
        if len(views.index) == 0:
            return
        instance, same_class = retrieval_top1(
            views.rgb,
            views.ms,
            views.label if bool((views.label >= 0).all()) else None,
            self.hparams['retrieval_chunk_size'],
        )
        # Every rank holds the same values: sync_dist only marks them as global.
        n = len(views.index)
        self.log(f'{stage}_retrieval_top1', instance, batch_size=n, sync_dist=True)
        if same_class is not None:
            name = f'{stage}_retrieval_class_top1'
            self.log(name, same_class, batch_size=n, sync_dist=True)

    def on_validation_epoch_start(self) -> None:
        """Forget embeddings left over from an interrupted epoch."""
        self._eval_outputs = []

    on_test_epoch_start = on_validation_epoch_start

    def validation_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Log the validation loss and keep the embeddings.

        Args:
            batch: Batch with ``image``, ``image_pseudo_rgb`` and ``index``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the loader.
        """
        self._eval_step(batch, 'val')

    def on_validation_epoch_end(self) -> None:
        """Log ``val_retrieval_top1`` over the whole validation split."""
        self._eval_epoch_end('val')

    def test_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Log the test loss and keep the embeddings.

        Args:
            batch: Batch with ``image``, ``image_pseudo_rgb`` and ``index``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the loader.
        """
        self._eval_step(batch, 'test')

    def on_test_epoch_end(self) -> None:
        """Log ``test_retrieval_top1`` over the whole test split."""
        self._eval_epoch_end('test')

    def configure_optimizers(self) -> Any:
        """AdamW (reference), optionally with ReduceLROnPlateau on ``val_loss``.

        Returns:
            The optimizer, or the optimizer and scheduler config.
        """
        optimizer = AdamW(
            self.parameters(),
            lr=self.hparams['lr'],
            weight_decay=self.hparams['weight_decay'],
        )
        patience = self.hparams['patience']
        if patience is None:
            return optimizer
        scheduler = ReduceLROnPlateau(optimizer, patience=patience)
        return {
            'optimizer': optimizer,
            'lr_scheduler': {'scheduler': scheduler, 'monitor': self.monitor},
        }
