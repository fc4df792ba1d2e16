"""Base DataModule of the ACKD benchmarks (teacher, matcher and student stages)."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchgeo.datamodules import NonGeoDataModule

from ..datasets import (
    ACKDDataset,
    PairedDataset,
    RenamedDataset,
    random_same_class_pairing,
)
from ..datasets.ackd import Sample
from ..transforms import PseudoRGB, build_augmentation
from .epoch_sampler import EpochSeededSampler


class ACKDDataModule(NonGeoDataModule):
    """LightningDataModule for one ACKD benchmark, in one of three modes.

    * ``modality='ms'``: MS images only (``image``, ``label``): the teacher stage
      (TorchGeo's ``ClassificationTask``) and the matcher stage. With
      ``pseudo_rgb=True`` every batch also gets ``image_pseudo_rgb``, the
      pseudo-RGB view of its MS image, normalised like the real RGB images.
    * ``modality='rgb'``: RGB images only (a distillation-free student).
    * ``modality='paired'``: the ACKD student stage. Training batches hold the
      RGB student sample and its paired MS teacher sample (``image``, ``label``,
      ``index``, ``image_ms``, ``teacher_index``); val/test batches are RGB.

    Normalisation and augmentation run on the batch after transfer to the
    device, with one kornia pipeline per modality. Per-band statistics are
    computed from (a seeded sample of) the training split unless given.

    Subclasses set :attr:`dataset_class`; nothing else is needed.
    """

    dataset_class: type[ACKDDataset]

    def __init__(
        self,
        root: str | Path = 'data',
        modality: str = 'paired',
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        bands: Sequence[str] | None = None,
        student_classes: Sequence[str] | None = None,
        split_file: str | Path | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        ms_augment: bool | None = None,
        rgb_augment: bool = True,
        crop_scale: tuple[float, float] = (0.8, 1.0),
        spectral_jitter: float = 0.05,
        band_dropout: float = 0.0,
        pseudo_rgb: bool = False,
        ms_mean: Sequence[float] | None = None,
        ms_std: Sequence[float] | None = None,
        rgb_mean: Sequence[float] | None = None,
        rgb_std: Sequence[float] | None = None,
        stats_samples: int = 512,
    ) -> None:
        """Initialize a new ACKDDataModule instance.

        Args:
            root: Root directory of the benchmark.
            modality: ``'ms'``, ``'rgb'`` or ``'paired'`` (see class docstring).
            batch_size: Training batch size.
            eval_batch_size: Batch size of val/test/predict and of the gallery
                and student loaders used for matching (default: *batch_size*).
            num_workers: Loader worker processes.
            bands: MS bands to use, by name (default: the dataset's default).
            student_classes: RGB class folders present (default: all classes).
            split_file: Optional CSV ``path,split`` fixing every file's split.
            val_fraction: Fraction of each class for validation.
            test_fraction: Fraction of each class for testing.
            seed: Seed of the split, the statistics sample and the default pairing.
            ms_augment: Augment MS training images (default: True in the ``ms``
                mode, False in the ``paired`` mode, as in the reference).
            rgb_augment: Augment RGB training images.
            crop_scale: Area range of the random resized crop.
            spectral_jitter: Amplitude of the MS spectral jitter (0: off).
            band_dropout: MS band dropout probability (0: off).
            pseudo_rgb: Add ``image_pseudo_rgb`` to MS batches (``ms`` mode).
            ms_mean: Per-band MS mean in stored units (default: computed).
            ms_std: Per-band MS standard deviation (default: computed).
            rgb_mean: Per-channel RGB mean (default: computed).
            rgb_std: Per-channel RGB standard deviation (default: computed).
            stats_samples: Training images read to compute missing statistics.
        """
        if modality not in ('ms', 'rgb', 'paired'):
            raise ValueError(f"modality={modality!r}; expected 'ms', 'rgb' or 'paired'")
        if pseudo_rgb and modality != 'ms':
            raise ValueError("pseudo_rgb=True needs modality='ms'")
        super().__init__(self.dataset_class, batch_size, num_workers)
        self.save_hyperparameters()
        # Paths as strings keep checkpoints loadable with weights_only=True.
        for key in ('root', 'split_file'):
            if isinstance(self.hparams.get(key), Path):
                self.hparams[key] = str(self.hparams[key])
        self.root = Path(root)
        self.modality = modality
        self.eval_batch_size = eval_batch_size or batch_size
        self.seed = seed
        self.dataset_kwargs: dict[str, Any] = {
            'root': root,
            'split_file': split_file,
            'val_fraction': val_fraction,
            'test_fraction': test_fraction,
            'seed': seed,
        }
        self.bands = bands
        self.student_classes = student_classes
        self.ms_augment = ms_augment if ms_augment is not None else modality == 'ms'
        self.rgb_augment = rgb_augment
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.spectral_jitter = spectral_jitter
        self.band_dropout = band_dropout
        self.pseudo_rgb = pseudo_rgb
        self.stats_samples = stats_samples
        self.stats: dict[str, Tensor | None] = {
            'ms_mean': _tensor_or_none(ms_mean),
            'ms_std': _tensor_or_none(ms_std),
            'rgb_mean': _tensor_or_none(rgb_mean),
            'rgb_std': _tensor_or_none(rgb_std),
        }
        self.ms_train: ACKDDataset | None = None
        self.rgb_train: ACKDDataset | None = None
        self._pending_pairing: Tensor | None = None

    # ------------------------------------------------------------------ datasets
    def ms_dataset(self, split: str) -> ACKDDataset:
        """The MS (teacher) dataset of one split, all classes.

        Args:
            split: ``'train'``, ``'val'``, ``'test'`` or ``'all'``.

        Returns:
            The dataset.
        """
        return self.dataset_class(
            modality='ms', split=split, bands=self.bands, **self.dataset_kwargs
        )

    def rgb_dataset(self, split: str) -> ACKDDataset:
        """The RGB (student) dataset of one split, the student classes.

        Args:
            split: ``'train'``, ``'val'``, ``'test'`` or ``'all'``.

        Returns:
            The dataset.
        """
        return self.dataset_class(
            modality='rgb',
            split=split,
            classes=self.student_classes,
            **self.dataset_kwargs,
        )

    def setup(self, stage: str) -> None:
        """Build the datasets, statistics, pipelines and (paired mode) pairing.

        Args:
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.
        """
        uses_ms = self.modality in ('ms', 'paired')
        uses_rgb = self.modality in ('rgb', 'paired') or self.pseudo_rgb
        if self.modality == 'paired':
            self._check_teacher_folders()
        if uses_ms and self.ms_train is None:
            self.ms_train = self.ms_dataset('train')
        if uses_rgb and self.rgb_train is None:
            self.rgb_train = self.rgb_dataset('train')
        self._compute_missing_stats()
        self._build_pipelines()

        eval_split = {
            'fit': 'val',
            'validate': 'val',
            'test': 'test',
            'predict': 'test',
        }
        make = self.ms_dataset if self.modality == 'ms' else self.rgb_dataset
        if stage == 'fit':
            if self.modality == 'paired':
                self.train_dataset = self._paired_train()
            else:
                self.train_dataset = (
                    self.ms_train if self.modality == 'ms' else self.rgb_train
                )
        split = eval_split[stage]
        dataset = make(split)
        setattr(self, f'{split}_dataset', dataset)
        if stage == 'predict':
            self.predict_dataset = dataset

    def _check_teacher_folders(self) -> None:
        """Every student class needs an MS class folder: say which one is missing."""
        cls = self.dataset_class
        ms_folder = self.root / cls.ms_dir
        for name in self.student_classes or cls.classes:
            if (self.root / cls.rgb_dir / name).is_dir() and not (
                ms_folder / name
            ).is_dir():
                raise ValueError(
                    f'RGB class {name!r} has no teacher samples: the MS class folder '
                    f'{str(ms_folder / name)!r} is missing'
                )

    def _paired_train(self) -> PairedDataset:
        """The student training set joined with the teacher gallery."""
        assert self.rgb_train is not None and self.ms_train is not None
        teacher_classes = set(self.ms_train.targets.tolist())
        for c in sorted(set(self.rgb_train.targets.tolist()) - teacher_classes):
            raise ValueError(
                f'RGB class {self.rgb_train.classes[c]!r} has no teacher samples: '
                f'no MS training images in {self.ms_train.folder / self.rgb_train.classes[c]}'
            )
        if self._pending_pairing is not None:
            pairing = self._pending_pairing
        else:
            pairing = random_same_class_pairing(
                self.rgb_train.targets,
                self.ms_train.targets,
                seed=self.seed,
                class_names=self.rgb_train.classes,
            )
        return PairedDataset(self.rgb_train, self.ms_train, pairing)

    # -------------------------------------------------------------- statistics
    def _compute_missing_stats(self) -> None:
        """Compute per-band mean/std of the training images not given."""
        for prefix, dataset in (('ms', self.ms_train), ('rgb', self.rgb_train)):
            if dataset is None:
                continue
            if (
                self.stats[f'{prefix}_mean'] is not None
                and self.stats[f'{prefix}_std'] is not None
            ):
                continue
            mean, std = band_statistics(dataset, self.stats_samples, self.seed)
            self.stats[f'{prefix}_mean'], self.stats[f'{prefix}_std'] = mean, std

    def _build_pipelines(self) -> None:
        """One normalisation + augmentation pipeline per modality and phase."""
        self.pipelines: dict[str, K.AugmentationSequential] = {}
        for prefix, augment, dataset in (
            ('ms', self.ms_augment, self.ms_train),
            ('rgb', self.rgb_augment, self.rgb_train),
        ):
            mean, std = self.stats[f'{prefix}_mean'], self.stats[f'{prefix}_std']
            if mean is None or std is None or dataset is None:
                continue
            is_ms = prefix == 'ms'
            self.pipelines[f'{prefix}_train'] = build_augmentation(
                mean,
                std,
                size=dataset.size,
                train=augment,
                crop_scale=self.crop_scale,
                spectral_jitter=self.spectral_jitter if is_ms else 0.0,
                band_dropout=self.band_dropout if is_ms else 0.0,
            )
            self.pipelines[f'{prefix}_eval'] = build_augmentation(
                mean, std, train=False
            )
        if self.pseudo_rgb and 'rgb_eval' in self.pipelines:
            assert self.ms_train is not None and self.stats['rgb_mean'] is not None
            assert self.stats['rgb_std'] is not None
            # Pseudo-RGB views have the MS image size, whatever the RGB size.
            self.pipelines['pseudo_rgb_train'] = build_augmentation(
                self.stats['rgb_mean'],
                self.stats['rgb_std'],
                size=self.ms_train.size,
                train=self.ms_augment,
                crop_scale=self.crop_scale,
            )
            self.pipelines['pseudo_rgb_eval'] = self.pipelines['rgb_eval']
        if self.pseudo_rgb:
            assert self.ms_train is not None
            self.pseudo_rgb_transform = PseudoRGB(
                self.ms_train.sensor, self.ms_train.bands
            )

    # ------------------------------------------------------------ augmentation
    def image_modalities(self) -> dict[str, str]:
        """Which modality each image key of a batch holds in this mode."""
        first = {'ms': 'ms', 'rgb': 'rgb', 'paired': 'rgb'}[self.modality]
        return {
            'image': first,
            'image_ms': 'ms',
            'image_rgb': 'rgb',
            'image_pseudo_rgb': 'pseudo_rgb',
        }

    def preprocess(self, batch: Sample, train: bool = False) -> Sample:
        """Normalise (and, for training, augment) every image key of a batch.

        Used by :meth:`on_after_batch_transfer` and by code that iterates the
        loaders itself (matching). With ``pseudo_rgb``, ``image_pseudo_rgb`` is
        cut from the raw MS image first.

        Args:
            batch: A batch on its target device.
            train: Apply the training augmentations.

        Returns:
            The batch with transformed images.
        """
        batch = dict(batch)
        if self.pseudo_rgb and 'image' in batch:
            batch['image_pseudo_rgb'] = self.pseudo_rgb_transform.to(
                batch['image'].device
            )(batch['image'])
        phase = 'train' if train else 'eval'
        for key, modality in self.image_modalities().items():
            if key in batch:
                pipeline = self.pipelines[f'{modality}_{phase}'].to(batch[key].device)
                batch[key] = pipeline(batch[key].float())
        return batch

    def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
        """Normalise and augment a batch after transfer to the device.

        Args:
            batch: A batch of data.
            dataloader_idx: Index of the loader the batch comes from.

        Returns:
            The transformed batch.
        """
        training = self.trainer is not None and self.trainer.training
        return self.preprocess(batch, train=training)

    # ----------------------------------------------------------------- loaders
    def _loader(
        self, dataset: Dataset[Sample], shuffle: bool, batch_size: int
    ) -> DataLoader[Sample]:
        sampler = EpochSeededSampler(len(dataset), self.seed) if shuffle else None  # type: ignore[arg-type]
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            # A private generator for worker seeds: creating an iterator then
            # leaves the global RNG (augmentation) untouched, so resumed runs
            # draw the same augmentations as uninterrupted ones.
            generator=torch.Generator().manual_seed(self.seed),
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            # A last training batch of 1 would break BatchNorm; keep it otherwise.
            drop_last=shuffle and len(dataset) > batch_size,  # type: ignore[arg-type]
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader[Sample]:
        """Shuffled training loader (paired samples in the ``paired`` mode).

        Returns:
            The loader.
        """
        dataset = self._valid_attribute('train_dataset')
        return self._loader(dataset, shuffle=True, batch_size=self.batch_size)

    def val_dataloader(self) -> DataLoader[Sample]:
        """Validation loader.

        Returns:
            The loader.
        """
        return self._loader(
            self._valid_attribute('val_dataset'), False, self.eval_batch_size
        )

    def test_dataloader(self) -> DataLoader[Sample]:
        """Test loader.

        Returns:
            The loader.
        """
        return self._loader(
            self._valid_attribute('test_dataset'), False, self.eval_batch_size
        )

    def predict_dataloader(self) -> DataLoader[Sample]:
        """Prediction loader (the test split).

        Returns:
            The loader.
        """
        return self._loader(
            self._valid_attribute('predict_dataset'), False, self.eval_batch_size
        )

    def gallery_dataloader(self) -> DataLoader[Sample]:
        """All MS training samples (the teacher gallery), unshuffled, as ``image_ms``.

        Returns:
            The loader; batches carry ``image_ms``, ``label`` and ``index``.
        """
        if self.ms_train is None:
            self.ms_train = self.ms_dataset('train')
        return self._loader(
            RenamedDataset(self.ms_train, 'image_ms'), False, self.eval_batch_size
        )

    def student_dataloader(self) -> DataLoader[Sample]:
        """All RGB training samples, unshuffled, as ``image_rgb``.

        The key names the modality in every mode, so :meth:`preprocess`
        normalises these batches as RGB also in the ``ms`` mode (matcher).

        Returns:
            The loader; batches carry ``image_rgb``, ``label`` and ``index``.
        """
        if self.rgb_train is None:
            self.rgb_train = self.rgb_dataset('train')
        return self._loader(
            RenamedDataset(self.rgb_train, 'image_rgb'), False, self.eval_batch_size
        )

    # ----------------------------------------------------------------- pairing
    @property
    def pairing(self) -> Tensor:
        """The pairing in use: teacher gallery index per student sample (N_s,)."""
        if isinstance(self.train_dataset, PairedDataset):
            return self.train_dataset.pairing
        if self._pending_pairing is not None:
            return self._pending_pairing
        raise RuntimeError(
            "no pairing yet: call setup('fit') in the 'paired' mode first"
        )

    def set_pairing(self, pairing: Tensor) -> None:
        """Replace the pairing (in place; loader workers see it).

        Args:
            pairing: Teacher gallery index per student sample, shape (N_s,).
        """
        if isinstance(self.train_dataset, PairedDataset):
            self.train_dataset.set_pairing(pairing)
        else:
            self._pending_pairing = pairing.clone().long()

    def state_dict(self) -> dict[str, Any]:
        """State saved in checkpoints: the pairing and the statistics.

        Returns:
            The state.
        """
        state: dict[str, Any] = {k: v for k, v in self.stats.items() if v is not None}
        if (
            isinstance(self.train_dataset, PairedDataset)
            or self._pending_pairing is not None
        ):
            state['pairing'] = self.pairing.clone()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the pairing and statistics from a checkpoint.

        Args:
            state_dict: A state returned by :meth:`state_dict`.
        """
        for key in self.stats:
            if key in state_dict:
                self.stats[key] = state_dict[key]
        if hasattr(self, 'pipelines'):
            self._build_pipelines()
        if 'pairing' in state_dict:
            self.set_pairing(state_dict['pairing'])


def band_statistics(
    dataset: ACKDDataset, max_samples: int, seed: int
) -> tuple[Tensor, Tensor]:
    """Per-band mean and standard deviation over (a sample of) a dataset.

    Args:
        dataset: Dataset returning ``image`` (C, H, W).
        max_samples: Read at most this many images (a seeded random subset).
        seed: Seed of the subset.

    Returns:
        Mean and standard deviation, each (C,), float32; std is at least 1e-6.
    """
    if len(dataset) == 0:
        raise ValueError(
            f'cannot compute statistics of an empty dataset ({dataset.folder})'
        )
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=g)[:max_samples].sort().values
    total = torch.zeros((), dtype=torch.float64)
    sums: Tensor | None = None
    squares: Tensor | None = None
    for i in order.tolist():
        image = dataset[i]['image'].double().flatten(1)
        s, q = image.sum(dim=1), (image**2).sum(dim=1)
        sums = s if sums is None else sums + s
        squares = q if squares is None else squares + q
        total += image.shape[1]
    assert sums is not None and squares is not None
    mean = sums / total
    var = (squares / total - mean**2).clamp_min(0)
    return mean.float(), var.sqrt().clamp_min(1e-6).float()


def _tensor_or_none(values: Sequence[float] | None) -> Tensor | None:
    return None if values is None else torch.tensor(list(values), dtype=torch.float32)
