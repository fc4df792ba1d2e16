"""Classify unlabelled RGB tiles with a trained student; write a CSV."""

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kornia.augmentation as K
import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ..callbacks import CSVPredictionWriter
from ..datasets import SameShapeBatches, TileDataset
from .export import StudentCard, read_student


class StudentPredictor(pl.LightningModule):
    """A student and its normalisation: class probabilities of raw RGB tiles."""

    def __init__(self, student: nn.Module, card: StudentCard) -> None:
        """Initialize a new StudentPredictor instance.

        Args:
            student: The RGB classifier.
            card: Its card (normalisation).
        """
        super().__init__()
        self.student = student.eval()
        # The same kornia normalisation as the benchmark's eval pipeline.
        self.normalize = K.Normalize(torch.tensor(card.mean), torch.tensor(card.std))

    def predict_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Class probabilities of a batch of tiles.

        Args:
            batch: ``image`` (B, 3, H, W) in stored units.
            batch_idx: Batch index.
            dataloader_idx: Loader index.

        Returns:
            Softmax probabilities (B, K).
        """
        return F.softmax(self.student(self.normalize(batch['image'].float())), dim=1)


def predict_tiles(
    checkpoint: str | Path,
    tiles: str | Path | Sequence[str | Path],
    output: str | Path,
    batch_size: int = 32,
    num_workers: int = 0,
    accelerator: str = 'auto',
    progress: bool = True,
) -> TileDataset:
    """Write the student's class probabilities for every tile to a CSV file.

    Tiles are resized as the student's benchmark resized its RGB images, and
    batched by size. Unreadable tiles and tiles without 3 bands are listed in
    the CSV with their reason; the others are still predicted.

    Args:
        checkpoint: A student-stage checkpoint (``best.ckpt``).
        tiles: A folder, a ``.txt``/``.csv`` list or image files (GeoTIFF,
            JPEG, PNG); see :func:`~torchgeo_ackd.datasets.list_tiles`.
        output: The CSV file (see :class:`~torchgeo_ackd.callbacks.CSVPredictionWriter`).
        batch_size: Most tiles per batch.
        num_workers: Loader worker processes.
        accelerator: Lightning accelerator (``'auto'``, ``'cpu'``, ``'gpu'``).
        progress: Show a progress bar.

    Returns:
        The tiles (``problems``: the files not predicted, with why).
    """
    student, card = read_student(checkpoint)
    dataset = TileDataset(tiles, size=card.rgb_size)
    loader = DataLoader(
        dataset,
        batch_sampler=SameShapeBatches([t.shape for t in dataset.tiles], batch_size),
        num_workers=num_workers,
    )
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress,
        callbacks=[CSVPredictionWriter(output, card.classes)],
    )
    with warnings.catch_warnings():
        # SameShapeBatches yields every index; Lightning cannot know that.
        warnings.filterwarnings('ignore', 'You are using a custom batch sampler')
        trainer.predict(
            StudentPredictor(student, card),
            dataloaders=loader,
            return_predictions=False,
        )
    return dataset
