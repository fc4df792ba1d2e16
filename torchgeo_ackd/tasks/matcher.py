"""Self-supervised Semantic Matching (SSM): the MS / pseudo-RGB matcher task."""

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import timm
import torch
import torch.distributed as dist
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader

from ..datamodules import ACKDDataModule
from ..datasets import Pairing, RenamedDataset
from ..matching.contrastive import clip_soft_infonce
from ..matching.embed import (
    adapt_batchnorm,
    all_gather_rows,
    broadcast_buffers,
    compute_embeddings,
    eval_mode,
)
from ..matching.initial import initial_pairing
from ..matching.retrieval import nearest_class_accuracy, retrieval_top1
from ..matching.sharding import shard_loader
from ..models.projection_head import ProjectionHead
from .base import BaseTask


def _feature_width(encoder: nn.Module) -> int:
    """Width of a timm model's pooled features (its ``num_features``)."""
    width = getattr(encoder, 'num_features', None)
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(
            f'{type(encoder).__name__} has no integer num_features; the matcher '
            'encoders must be timm models'
        )
    return width


def _check_rgb(image: Tensor) -> None:
    """Refuse anything but a (B, 3, H, W) batch before M_G sees it."""
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(
            f'RGB images must have shape (B, 3, H, W), got {tuple(image.shape)}'
        )


class MatcherTask(BaseTask):
    """The SSM matcher: MS and pseudo-RGB encoders aligned by soft InfoNCE.

    Trained on MS images only, with the datamodule in the
    ``'ms'`` mode with ``pseudo_rgb=True``: batches hold ``image`` (the MS
    image, normalised) and ``image_pseudo_rgb`` (its red/green/blue bands,
    normalised with the real-RGB statistics). The MS encoder M_V and the
    pseudo-RGB encoder M_G are timm models without classifier, each followed
    by a :class:`ProjectionHead` to a shared ``embed_dim`` space; the loss is
    :func:`~torchgeo_ackd.matching.contrastive.clip_soft_infonce`.

    Validation (and test) log the loss, ``val_retrieval_top1``: how often an
    MS image is the most cosine-similar MS image of its own pseudo-RGB view
    over the WHOLE split (chance: 1 / split size), and
    ``val_retrieval_class_top1``: how often that retrieved MS image has the
    view's class (what the within-class pairing relies on; not logged for
    multi-label MS batches).

    At the end of training (if ``write_pairing``) the initial pairing of the
    RGB training images with MS training images is computed with the final
    weights and written as ``pairing.pt`` and ``pairing.csv`` (see
    :meth:`~torchgeo_ackd.datasets.Pairing.save`); the student stage's
    datamodule reads it as its ``pairing_file``.
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
        pairing_chunk_size: int = 4096,
        pairing_capacity: float | None = None,
        adapt_batchnorm: bool = False,
        write_pairing: bool = True,
        pairing_dir: str | None = None,
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
            patience: Epochs without ``val_loss`` improvement before
                ReduceLROnPlateau lowers the learning rate; ``None`` (default,
                as the reference) keeps it constant.
            pairing_chunk_size: Students per matrix product of the pairing
                search and queries per product of the retrieval metric.
            pairing_capacity: Limit hubs in the initial pairing: each MS
                image serves at most ``ceil(capacity x`` its class's RGB images
                per MS image ``)`` students (None: nearest neighbour, as the
                reference).
            adapt_batchnorm: Embed real RGB images (pairing, cross-modal
                retrieval) with a copy of M_G whose BatchNorm statistics are
                re-estimated on the RGB training images (AdaBN, see
                :func:`~torchgeo_ackd.matching.adapt_batchnorm`): M_G learned
                its statistics on pseudo-RGB views of the MS sensor. False
                (default): as the reference.
            write_pairing: Compute and save the initial pairing at the end of
                training.
            pairing_dir: Folder of ``pairing.pt`` / ``pairing.csv`` (default:
                the trainer's ``default_root_dir``).

        Raises:
            ValueError: If a numeric argument is out of range.
        """
        positive_ints = {
            'in_channels': in_channels,
            'embed_dim': embed_dim,
            'pairing_chunk_size': pairing_chunk_size,
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
        self.pairing_files: tuple[Path, Path] | None = None
        self._eval_outputs: list[tuple[Tensor, Tensor]] = []
        super().__init__()

    def configure_models(self) -> None:
        """Build the two encoders and their projection heads."""
        hparams = self.hparams
        self.ms_encoder = timm.create_model(
            hparams['ms_model'],
            in_chans=hparams['in_channels'],
            num_classes=0,
            pretrained=False,
        )
        self.rgb_encoder = timm.create_model(
            hparams['rgb_model'], in_chans=3, num_classes=0, pretrained=False
        )
        self.ms_head = ProjectionHead(
            _feature_width(self.ms_encoder), hparams['embed_dim'], hparams['dropout']
        )
        self.rgb_head = ProjectionHead(
            _feature_width(self.rgb_encoder), hparams['embed_dim'], hparams['dropout']
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
        embedding: Tensor = self.ms_head(self.ms_encoder(image))
        return embedding

    def embed_rgb(self, image: Tensor) -> Tensor:
        """Embed normalised (pseudo-)RGB images with M_G and its head.

        Args:
            image: (B, 3, H, W) normalised RGB or pseudo-RGB images.

        Returns:
            (B, embed_dim) embeddings (not L2-normalised).

        Raises:
            ValueError: If the images do not have 3 channels.
        """
        _check_rgb(image)
        embedding: Tensor = self.rgb_head(self.rgb_encoder(image))
        return embedding

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
                "use the datamodule with modality='ms' and pseudo_rgb=True; got "
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
        # One row per sample: [label, MS embedding, pseudo-RGB embedding].
        rows = torch.cat([label.to(ms.dtype)[:, None], ms, rgb], dim=1)
        self._eval_outputs.append((index, rows.detach().float()))

    def _eval_epoch_end(self, stage: str) -> None:
        """Log the retrieval accuracies over every sample seen this epoch.

        Under DDP the rows of all ranks are gathered first, so the metric is
        over the whole split on every rank.
        """
        outputs, self._eval_outputs = self._eval_outputs, []
        if outputs:
            index = torch.cat([o[0] for o in outputs])
            rows = torch.cat([o[1] for o in outputs])
        else:
            index = torch.empty(0, dtype=torch.long, device=self.device)
            rows = torch.empty(0, 0, device=self.device)
        if dist.is_available() and dist.is_initialized():
            index, rows = all_gather_rows(index, rows, self.device)
        if len(index) == 0:
            return
        # A DistributedSampler repeats samples to even out shards: keep each
        # dataset index once (its first occurrence; stable sort).
        order = torch.sort(index, stable=True).indices
        sorted_index = index[order]
        first = torch.ones_like(sorted_index, dtype=torch.bool)
        first[1:] = sorted_index[1:] != sorted_index[:-1]
        rows = rows[order[first]]
        label = rows[:, 0].round().long()
        dim = (rows.shape[1] - 1) // 2
        instance, same_class = retrieval_top1(
            rows[:, 1 + dim :],
            rows[:, 1 : 1 + dim],
            label if bool((label >= 0).all()) else None,
            self.hparams['pairing_chunk_size'],
        )
        # Every rank holds the same values, so averaging them (sync_dist)
        # changes nothing; it only tells Lightning that they are global.
        n = len(rows)
        self.log(f'{stage}_retrieval_top1', instance, batch_size=n, sync_dist=True)
        if same_class is not None:
            name = f'{stage}_retrieval_class_top1'
            self.log(name, same_class, batch_size=n, sync_dist=True)

    def on_validation_epoch_start(self) -> None:
        """Forget embeddings left over from an interrupted epoch."""
        self._eval_outputs = []

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

    def on_test_epoch_start(self) -> None:
        """Forget embeddings left over from an interrupted epoch."""
        self._eval_outputs = []

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

    def on_train_end(self) -> None:
        """Compute the initial pairing and save it (rank 0 writes, all compute).

        Runs at the end of training rather than in ``on_fit_end``: by then
        Lightning has moved the model back to the CPU, while here it is still
        on the accelerator and the loggers are open.
        """
        if not self.hparams['write_pairing']:
            return
        trainer = self.trainer
        datamodule = getattr(trainer, 'datamodule', None)
        if not isinstance(datamodule, ACKDDataModule):
            rank_zero_warn(
                'MatcherTask: no ACKDDataModule attached to the trainer; the '
                'initial pairing was not written (compute it with '
                'MatcherTask.initial_pairing)'
            )
            return
        # One RGB embedder for the pairing and the retrieval: with
        # adapt_batchnorm, building it re-estimates M_G's statistics.
        embed_rgb = self.rgb_embedder(datamodule)
        pairing = self.initial_pairing(datamodule, embed_rgb)
        directory = Path(self.hparams['pairing_dir'] or trainer.default_root_dir)
        if trainer.is_global_zero:
            self.pairing_files = pairing.save(directory)
        else:
            self.pairing_files = (directory / 'pairing.pt', directory / 'pairing.csv')
        trainer.strategy.barrier('matcher_pairing_written')
        mean_score = float(pairing.scores.mean())
        rank_zero_info(
            f'MatcherTask: initial pairing of {len(pairing)} RGB samples written to '
            f'{self.pairing_files[0]} and {self.pairing_files[1]} (mean cosine '
            f'similarity {mean_score:.4f})'
        )
        zero_shot = self.cross_modal_accuracy(datamodule, embed_rgb=embed_rgb)
        rank_zero_info(
            f'MatcherTask: cross-modal retrieval of the RGB validation images: '
            f'{zero_shot:.4f} (nearest MS training image of the right class)'
        )
        summary = {
            'cross_modal_top1': zero_shot,
            'pairing_mean_cosine': mean_score,
            'pairing_distinct_teachers': float(pairing.distinct_teachers()),
            'pairing_max_load': float(pairing.max_load()),
        }
        for logger in trainer.loggers:
            logger.log_metrics(summary, step=trainer.global_step)

    def rgb_embedder(self, datamodule: ACKDDataModule) -> Callable[[Tensor], Tensor]:
        """How real RGB images are embedded: M_G and its head.

        With ``adapt_batchnorm``, M_G is a copy whose BatchNorm statistics are
        those of the datamodule's RGB training images (every one, on every
        rank, so that all ranks adapt alike); the task's own M_G is untouched.

        Args:
            datamodule: A datamodule of the benchmark.

        Returns:
            Maps (B, 3, H, W) normalised RGB images to (B, embed_dim).
        """
        if not self.hparams.get('adapt_batchnorm', False):
            return self.embed_rgb

        def images() -> Iterator[Tensor]:
            for batch in datamodule.student_dataloader():
                on_device = {
                    k: v.to(self.device) if isinstance(v, Tensor) else v
                    for k, v in batch.items()
                }
                yield datamodule.preprocess(on_device)['image_rgb']

        encoder = adapt_batchnorm(self.rgb_encoder, images())
        head = self.rgb_head

        def embed(image: Tensor) -> Tensor:
            _check_rgb(image)
            embedding: Tensor = head(encoder(image))
            return embedding

        return embed

    def initial_pairing(
        self,
        datamodule: ACKDDataModule,
        embed_rgb: Callable[[Tensor], Tensor] | None = None,
    ) -> Pairing:
        """SSM: pair every RGB training image with its most similar MS image of its class.

        Embeds the MS gallery with M_V and the real RGB training images with
        M_G (evaluation normalisation, eval mode, rank 0's buffers under DDP;
        with ``adapt_batchnorm``, M_G's BatchNorm statistics are the RGB
        images', see :meth:`rgb_embedder`).

        Args:
            datamodule: A datamodule of the benchmark (any modality).
            embed_rgb: How the RGB images are embedded, e.g. an embedder
                :meth:`rgb_embedder` already built for this datamodule
                (default: build one).

        Returns:
            The pairing, scored by cosine similarity.
        """
        broadcast_buffers(self)
        with eval_mode(self):
            index, scores = initial_pairing(
                self.embed_ms,
                embed_rgb or self.rgb_embedder(datamodule),
                datamodule.gallery_dataloader(),
                datamodule.student_dataloader(),
                datamodule.gallery.targets,
                datamodule.rgb_train.targets,
                transform=datamodule.preprocess,
                chunk_size=self.hparams['pairing_chunk_size'],
                device=self.device,
                capacity=self.hparams.get('pairing_capacity'),
            )
        return Pairing.for_datasets(
            index, datamodule.rgb_train, datamodule.gallery, scores
        )

    def cross_modal_accuracy(
        self,
        datamodule: ACKDDataModule,
        split: str = 'val',
        embed_rgb: Callable[[Tensor], Tensor] | None = None,
    ) -> float:
        """Zero-shot retrieval across the modality gap (no pairs needed).

        Each RGB image of *split*, embedded as :meth:`rgb_embedder` does
        (M_G; with ``adapt_batchnorm``, BatchNorm statistics of the RGB
        *training* images), retrieves its most
        cosine-similar MS training image, embedded with M_V, over all
        classes; the score is how often that image has the RGB image's class.

        Args:
            datamodule: A datamodule of the benchmark.
            split: The RGB split (``'val'``: never used to train anything here).
            embed_rgb: How the RGB images are embedded (default: build one
                with :meth:`rgb_embedder`).

        Returns:
            The accuracy in [0, 1] (NaN for an empty split).
        """
        rgb = datamodule.rgb_dataset(split)
        if len(rgb) == 0:
            return math.nan
        loader = DataLoader(
            RenamedDataset(rgb, 'image_rgb'),
            batch_size=datamodule.eval_batch_size,
            collate_fn=datamodule.collate_fn,
        )
        broadcast_buffers(self)
        with eval_mode(self):
            gallery = compute_embeddings(
                self.embed_ms,
                shard_loader(datamodule.gallery_dataloader()),
                len(datamodule.gallery),
                key='image_ms',
                device=self.device,
                transform=datamodule.preprocess,
            )
            query = compute_embeddings(
                embed_rgb or self.rgb_embedder(datamodule),
                shard_loader(loader),
                len(rgb),
                key='image_rgb',
                device=self.device,
                transform=datamodule.preprocess,
            )
        accuracy = nearest_class_accuracy(
            query, rgb.targets, gallery, datamodule.gallery.targets
        )
        return float(accuracy)
