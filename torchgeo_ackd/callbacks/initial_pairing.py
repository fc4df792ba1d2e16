"""SSM's initial pairing, written when the matcher's training ends."""

import math
from pathlib import Path
from typing import Protocol, cast

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from torch.utils.data import DataLoader

from ..datamodules import ACKDDataModule
from ..datasets import Pairing, RenamedDataset
from ..matching.embed import broadcast_buffers, compute_embeddings, eval_mode
from ..matching.initial import initial_pairing
from ..matching.retrieval import nearest_class_accuracy
from ..matching.sharding import shard_loader


class SSMEncoders(Protocol):
    """What the pairing needs of a matcher (such as ``MatcherTask``)."""

    def embed_ms(self, image: Tensor) -> Tensor:
        """(B, C, H, W) normalised MS images -> (B, D) embeddings (M_V)."""
        ...

    def embed_rgb(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) normalised RGB images -> (B, D) embeddings (M_G)."""
        ...


def _matcher(module: LightningModule) -> SSMEncoders:
    if not all(hasattr(module, name) for name in ('embed_ms', 'embed_rgb')):
        raise TypeError(
            f'InitialPairing needs a matcher with embed_ms and embed_rgb (such as '
            f'MatcherTask), got {type(module).__name__}'
        )
    return cast(SSMEncoders, module)


class InitialPairing(Callback):
    """SSM: pair every RGB training image with its most similar MS image of its class.

    When the matcher's training ends, the RGB training images are embedded
    with M_G and the MS gallery with M_V (evaluation normalisation, eval mode,
    rank 0's buffers under DDP), each RGB image is paired with the
    cosine-nearest MS image of its class, and the pairing is written as
    ``pairing.pt`` and ``pairing.csv`` (see :meth:`Pairing.save`): the student
    stage's datamodule reads it as its ``pairing_file``. The cross-modal
    retrieval of the RGB validation images (:meth:`cross_modal_accuracy`) and
    the pairing's statistics are logged as ``cross_modal_top1``,
    ``pairing_mean_cosine``, ``pairing_distinct_teachers`` and
    ``pairing_max_load``.

    It runs at the end of training rather than at the end of fit: by then
    Lightning has moved the model back to the CPU, while here it is still on
    the accelerator and the loggers are open. Works with a LightningModule
    that has ``embed_ms`` and ``embed_rgb``
    (:class:`~torchgeo_ackd.tasks.MatcherTask`) and an
    :class:`~torchgeo_ackd.datamodules.ACKDDataModule`.
    """

    def __init__(self, output_dir: str | None = None, chunk_size: int = 4096) -> None:
        """Initialize a new InitialPairing instance.

        Args:
            output_dir: Folder of ``pairing.pt`` / ``pairing.csv`` (default:
                the trainer's ``default_root_dir``).
            chunk_size: Students per matrix product of the search.

        Raises:
            ValueError: If *chunk_size* is out of range.
        """
        if (
            isinstance(chunk_size, bool)
            or not isinstance(chunk_size, int)
            or chunk_size < 1
        ):
            raise ValueError(f'chunk_size must be an int >= 1, got {chunk_size!r}')
        self.output_dir = output_dir
        self.chunk_size = chunk_size
        #: ``pairing.pt`` and ``pairing.csv`` once written.
        self.files: tuple[Path, Path] | None = None

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Compute the pairing, save it (rank 0 writes, all compute), log it."""
        datamodule = getattr(trainer, 'datamodule', None)
        if not isinstance(datamodule, ACKDDataModule):
            rank_zero_warn(
                'InitialPairing: no ACKDDataModule attached to the trainer; the '
                'initial pairing was not written (compute it with '
                'InitialPairing.pairing)'
            )
            return
        if not datamodule.has_rgb:
            rank_zero_warn(
                f'InitialPairing: {str(datamodule.rgb_folder)!r} does not exist, so '
                'no initial pairing was written (it pairs the RGB training images); '
                'the matcher is trained and saved. With the RGB images in place, '
                'run the matcher stage again to write it.'
            )
            return
        # One pass over the MS gallery for the pairing and the retrieval: the
        # gallery may be the whole archive.
        gallery = self.gallery_embedding(pl_module, datamodule)
        pairing = self.pairing(pl_module, datamodule, gallery)
        directory = Path(self.output_dir or trainer.default_root_dir)
        if trainer.is_global_zero:
            self.files = pairing.save(directory)
        else:
            self.files = (directory / 'pairing.pt', directory / 'pairing.csv')
        trainer.strategy.barrier('matcher_pairing_written')
        mean_score = float(pairing.scores.mean())
        rank_zero_info(
            f'InitialPairing: initial pairing of {len(pairing)} RGB samples written '
            f'to {self.files[0]} and {self.files[1]} (mean cosine similarity '
            f'{mean_score:.4f})'
        )
        zero_shot = self.cross_modal_accuracy(pl_module, datamodule, gallery=gallery)
        rank_zero_info(
            f'InitialPairing: cross-modal retrieval of the RGB validation images: '
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

    def gallery_embedding(
        self, matcher: LightningModule, datamodule: ACKDDataModule
    ) -> Tensor:
        """The MS gallery embedded with M_V (eval mode, rank 0's buffers).

        Args:
            matcher: The matcher (see :class:`SSMEncoders`).
            datamodule: A datamodule of the benchmark.

        Returns:
            (N_t, embed_dim) float32 embeddings, row i for gallery sample i.
        """
        encoders = _matcher(matcher)
        broadcast_buffers(matcher)
        with eval_mode(matcher):
            return compute_embeddings(
                encoders.embed_ms,
                shard_loader(datamodule.gallery_dataloader()),
                len(datamodule.gallery),
                key='image_ms',
                device=matcher.device,
                transform=datamodule.preprocess,
            )

    def pairing(
        self,
        matcher: LightningModule,
        datamodule: ACKDDataModule,
        gallery: Tensor | None = None,
    ) -> Pairing:
        """The initial pairing of the datamodule's RGB training images.

        Args:
            matcher: The matcher (see :class:`SSMEncoders`).
            datamodule: A datamodule of the benchmark (any modality).
            gallery: The gallery's :meth:`gallery_embedding` if already
                computed (default: compute it).

        Returns:
            The pairing, scored by cosine similarity.
        """
        encoders = _matcher(matcher)
        broadcast_buffers(matcher)
        with eval_mode(matcher):
            index, scores = initial_pairing(
                encoders.embed_ms,
                encoders.embed_rgb,
                datamodule.gallery_dataloader(),
                datamodule.student_dataloader(),
                datamodule.gallery.targets,
                datamodule.rgb_train.targets,
                transform=datamodule.preprocess,
                chunk_size=self.chunk_size,
                device=matcher.device,
                ms_embedding=gallery,
            )
        return Pairing.for_datasets(
            index, datamodule.rgb_train, datamodule.gallery, scores
        )

    def cross_modal_accuracy(
        self,
        matcher: LightningModule,
        datamodule: ACKDDataModule,
        split: str = 'val',
        gallery: Tensor | None = None,
    ) -> float:
        """Zero-shot retrieval across the modality gap (no pairs needed).

        Each RGB image of *split*, embedded with M_G, retrieves its most
        cosine-similar MS training image, embedded with M_V, over all classes;
        the score is how often that image has the RGB image's class.

        Args:
            matcher: The matcher (see :class:`SSMEncoders`).
            datamodule: A datamodule of the benchmark.
            split: The RGB split (``'val'``: never used to train anything here).
            gallery: The gallery's :meth:`gallery_embedding` if already
                computed (default: compute it).

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
        if gallery is None:
            gallery = self.gallery_embedding(matcher, datamodule)
        broadcast_buffers(matcher)
        with eval_mode(matcher):
            query = compute_embeddings(
                _matcher(matcher).embed_rgb,
                shard_loader(loader),
                len(rgb),
                key='image_rgb',
                device=matcher.device,
                transform=datamodule.preprocess,
            )
        accuracy = nearest_class_accuracy(
            query, rgb.targets, gallery, datamodule.gallery.targets
        )
        return float(accuracy)
