"""The datasets a DataModule reads: each built and decoded once, within one budget."""

import multiprocessing
import os
from collections.abc import Sequence
from typing import Any

import torch

from ..datasets import ACKDDataset


class DatasetStore:
    """Every dataset of one benchmark a DataModule reads, by (modality, split).

    Each is built once and decoded into memory when it still fits the budget.

    Attributes:
        built: The datasets built so far, by ``(modality, split)``.
        memory_budget: Bytes for decoded images, all datasets together.
        memory_used: Bytes of decoded images so far.
        all_decoded: Whether every dataset built so far is decoded.
    """

    def __init__(
        self,
        dataset_class: type[ACKDDataset],
        dataset_kwargs: dict[str, Any],
        bands: Sequence[str] | None,
        student_classes: Sequence[str] | None,
        memory_budget: int,
    ) -> None:
        """Initialize a new DatasetStore instance.

        Args:
            dataset_class: The benchmark's dataset.
            dataset_kwargs: Its root and split arguments.
            bands: MS bands to read (None: the dataset's default).
            student_classes: RGB classes present (None: all).
            memory_budget: Bytes for decoded images.
        """
        self.dataset_class = dataset_class
        self.kwargs = {
            'ms': dataset_kwargs | {'bands': bands},
            'rgb': dataset_kwargs | {'classes': student_classes},
        }
        self.built: dict[tuple[str, str], ACKDDataset] = {}
        self.memory_budget = memory_budget
        self.memory_used = 0
        self.all_decoded = True

    def get(self, modality: str, split: str) -> ACKDDataset:
        """The dataset of one modality and split (built and decoded once).

        Args:
            modality: ``'ms'`` (all classes) or ``'rgb'`` (the student classes).
            split: ``'train'``, ``'val'``, ``'test'`` or ``'all'``.

        Returns:
            The dataset.
        """
        if (modality, split) not in self.built:
            dataset = self.dataset_class(
                modality=modality, split=split, **self.kwargs[modality]
            )
            if dataset.decode(self.memory_budget - self.memory_used):
                assert dataset.decoded is not None
                decoded = dataset.decoded
                self.memory_used += decoded.numel() * decoded.element_size()
            elif len(dataset):
                self.all_decoded = False
            self.built[modality, split] = dataset
        return self.built[modality, split]

    def workers(self, requested: int | None) -> int:
        """Loader worker processes: *requested*, else a default for the data.

        Args:
            requested: The DataModule's ``num_workers``.

        Returns:
            While every dataset is decoded 0, or 2 with a GPU (to fetch the next
            batches while the device computes); else CPU cores - 1, at most 8.
        """
        if requested is not None:
            return requested
        cores = max(0, (os.cpu_count() or 1) - 1)
        if self.all_decoded:
            return min(2, cores) if torch.cuda.is_available() else 0
        return min(8, cores)

    def share_for_workers(self) -> None:
        """Move decoded images to shared memory for workers that are not forked.

        Such workers get the datasets pickled: shared memory keeps one copy.
        """
        if multiprocessing.get_start_method() != 'fork':
            for dataset in self.built.values():
                dataset.share_decoded()
