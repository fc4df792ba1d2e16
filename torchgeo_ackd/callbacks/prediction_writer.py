"""Predictions to a CSV file: one row per image, with every class's probability."""

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

from ..datasets import RenamedDataset

_GEO_COLUMNS = ('crs', 'left', 'bottom', 'right', 'top')


class CSVPredictionWriter(BasePredictionWriter):
    """Write ``trainer.predict``'s class probabilities as CSV rows.

    Columns: ``path``, ``predicted`` (class name), ``probability_<class>`` per
    class; for georeferenced tiles (:class:`~torchgeo_ackd.datasets.TileDataset`)
    also ``crs``, ``left``, ``bottom``, ``right``, ``top``; and ``error`` (why a
    tile was not predicted: listed, with empty probabilities, after the rest).
    Works with any prediction step returning probabilities (B, K) whose batches
    hold the dataset ``index``: the student tasks on a benchmark's test split
    (``torchgeo predict``) and ``torchgeo-ackd predict`` on tiles. The file is
    written under a temporary name and renamed when prediction ends.

    In a config::

        trainer:
          callbacks:
            - class_path: torchgeo_ackd.callbacks.CSVPredictionWriter
              init_args: {output: output/predictions.csv}
    """

    def __init__(
        self,
        output: str | Path = 'predictions.csv',
        classes: Sequence[str] | None = None,
    ) -> None:
        """Initialize a new CSVPredictionWriter instance.

        Args:
            output: The CSV file (its folder is created).
            classes: Class names in logit order (default: the datamodule's
                dataset classes, else ``0``, ``1``, ...).
        """
        super().__init__(write_interval='batch')
        self.output = Path(output)
        self.classes = list(classes) if classes is not None else None
        self._file: IO[str] | None = None
        self._writer: Any = None

    def on_predict_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> None:
        """Open the temporary file and write the header.

        Args:
            trainer: The trainer.
            pl_module: The model.
        """
        if trainer.world_size > 1:
            raise RuntimeError(
                'CSVPredictionWriter writes one file from one process; predict '
                f'with one device (this run has {trainer.world_size})'
            )
        dataset = self._dataset(trainer)
        if self.classes is None:
            dm = getattr(trainer, 'datamodule', None)
            names = getattr(getattr(dm, 'dataset_class', None), 'classes', None)
            self.classes = list(names) if names is not None else None
        self.georeferenced = any(
            getattr(t, 'crs', None) for t in getattr(dataset, 'tiles', [])
        )
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._partial = self.output.with_name(f'.{self.output.name}.partial')
        self._file = self._partial.open('w', newline='')
        self._writer = None

    def _dataset(self, trainer: pl.Trainer) -> Any:
        loaders = trainer.predict_dataloaders
        loader = loaders[0] if isinstance(loaders, list | tuple) else loaders
        dataset = loader.dataset  # type: ignore[union-attr]
        while isinstance(dataset, RenamedDataset):
            dataset = dataset.dataset
        return dataset

    def _header(self, num_classes: int) -> list[str]:
        if self.classes is None:
            self.classes = [str(k) for k in range(num_classes)]
        if len(self.classes) != num_classes:
            raise ValueError(
                f'CSVPredictionWriter: {len(self.classes)} class names for '
                f'{num_classes} probabilities'
            )
        geo = list(_GEO_COLUMNS) if self.georeferenced else []
        probs = [f'probability_{c}' for c in self.classes]
        return ['path', 'predicted', *probs, *geo, 'error']

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Write one row per image of a batch.

        Args:
            trainer: The trainer.
            pl_module: The model.
            prediction: Probabilities (B, K).
            batch_indices: Unused (rows are named by ``batch['index']``).
            batch: The batch, with ``index`` (B,) and optionally ``error``.
            batch_idx: Batch index.
            dataloader_idx: Loader index.
        """
        probs: Tensor = prediction.detach().float().cpu()
        if self._writer is None:
            self._writer = csv.writer(self._file)  # type: ignore[arg-type]
            self._writer.writerow(self._header(probs.shape[1]))
        dataset = self._dataset(trainer)
        errors = (batch.get('error') if isinstance(batch, dict) else None) or [
            ''
        ] * len(probs)
        assert self.classes is not None
        for index, p, error in zip(batch['index'].tolist(), probs, errors, strict=True):
            row = [str(_path(dataset, index))]
            if error:
                row += ['', *[''] * len(self.classes)]
            else:
                row += [
                    self.classes[int(p.argmax())],
                    *(f'{v:.6g}' for v in p.tolist()),
                ]
            self._writer.writerow(row + self._geo(dataset, index) + [error])

    def _geo(self, dataset: Any, index: int) -> list[str]:
        if not self.georeferenced:
            return []
        tile = dataset.tiles[index]
        if tile.crs is None:
            return [''] * len(_GEO_COLUMNS)
        return [tile.crs, *(f'{v:.10g}' for v in tile.bounds)]

    def on_predict_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> None:
        """List the dataset's unreadable files, then move the file into place.

        Args:
            trainer: The trainer.
            pl_module: The model.
        """
        if self._writer is None:  # no readable image at all
            self._writer = csv.writer(self._file)  # type: ignore[arg-type]
            num_classes = len(self.classes) if self.classes else 0
            self._writer.writerow(self._header(num_classes))
        problems = getattr(self._dataset(trainer), 'problems', {})
        assert self.classes is not None
        empty = [''] * (1 + len(self.classes) + (5 if self.georeferenced else 0))
        for path, reason in problems.items():
            self._writer.writerow([str(path), *empty, reason])
        assert self._file is not None
        self._file.close()
        os.replace(self._partial, self.output)


def _path(dataset: Any, index: int) -> Path:
    """The file of a dataset's sample (tiles or a benchmark split)."""
    if hasattr(dataset, 'tiles'):
        return dataset.tiles[index].path  # type: ignore[no-any-return]
    return dataset.files[index]  # type: ignore[no-any-return]
