"""SSM's initial pairing, written when the matcher's training ends."""

import math
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from torch.utils.data import DataLoader

from ..datamodules import ACKDDataModule
from ..datasets import RenamedDataset
from ..matching.pairings import cross_modal_accuracy, gallery_embedding, ssm_pairing


class InitialPairing(Callback):
    """SSM: pair every RGB training image with its most similar MS image of its class.

    At the end of training (not of fit: the model is still on the accelerator and
    the loggers are open), :func:`~torchgeo_ackd.matching.ssm_pairing` pairs the
    RGB training images (M_G) with the MS gallery (M_V), and the pairing is written
    as ``pairing.pt`` and ``pairing.csv``, the student stage's ``pairing_file``.
    Logs ``cross_modal_top1`` (RGB validation images,
    :func:`~torchgeo_ackd.matching.cross_modal_accuracy`), ``pairing_mean_cosine``,
    ``pairing_distinct_teachers`` and ``pairing_max_load``. Works with a task that
    has ``embed_ms`` and ``embed_rgb`` (:class:`~torchgeo_ackd.tasks.MatcherTask`)
    and an :class:`~torchgeo_ackd.datamodules.MSDataModule`.
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
        dm = getattr(trainer, 'datamodule', None)
        if not isinstance(dm, ACKDDataModule):
            rank_zero_warn(
                'InitialPairing: no ACKDDataModule attached to the trainer; the '
                'initial pairing was not written (compute it with '
                'torchgeo_ackd.matching.ssm_pairing)'
            )
            return
        if not dm.has_rgb:
            rank_zero_warn(
                f'InitialPairing: {str(dm.rgb_folder)!r} does not exist, so '
                'no initial pairing was written (it pairs the RGB training images); '
                'the matcher is trained and saved. With the RGB images in place, '
                'run the matcher stage again to write it.'
            )
            return
        # One pass over the (possibly whole-archive) gallery for pairing and retrieval.
        device = pl_module.device
        gallery = gallery_embedding(
            pl_module, dm.gallery_dataloader(), dm.preprocess, device
        )
        pairing = ssm_pairing(
            pl_module,
            dm.rgb_train,
            dm.gallery,
            (dm.student_dataloader(), dm.gallery_dataloader()),
            dm.preprocess,
            self.chunk_size,
            device,
            gallery,
        )
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
        zero_shot = self._cross_modal_accuracy(pl_module, dm, gallery)
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

    @staticmethod
    def _cross_modal_accuracy(
        matcher: LightningModule, dm: ACKDDataModule, gallery: Tensor
    ) -> float:
        """Retrieval of the RGB validation images (never used to train anything)."""
        rgb = dm.rgb_dataset('val')
        if len(rgb) == 0:
            return math.nan
        loader = DataLoader(
            RenamedDataset(rgb, 'image_rgb'),
            batch_size=dm.eval_batch_size,
            collate_fn=dm.collate_fn,
        )
        return cross_modal_accuracy(
            matcher,
            loader,
            rgb.targets,
            gallery,
            dm.gallery.targets,
            dm.preprocess,
            matcher.device,
        )
