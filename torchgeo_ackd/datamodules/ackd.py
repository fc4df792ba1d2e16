"""Base DataModule of the ACKD benchmarks (teacher, matcher and student stages)."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import kornia.augmentation as K
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchgeo.datamodules import NonGeoDataModule

from ..datasets import (
    ACKDDataset,
    RenamedDataset,
    collate_fetched,
)
from ..datasets.ackd import Sample
from ..datasets.preflight import preflight
from ..transforms import PseudoRGB
from .augmentation import Augmentation
from .datasets import DatasetStore
from .loaders import drops_last_batch, seeded_loader
from .statistics import PseudoRGBView, band_statistics, tensor_or_none


class ACKDDataModule(NonGeoDataModule):
    """What the DataModules of every stage of one ACKD benchmark share.

    The stages use :class:`MSDataModule` (MS batches: teacher and matcher) and
    :class:`PairedDataModule` (RGB students with their paired MS teacher samples);
    a benchmark's subclasses of these set :attr:`dataset_class`. Normalisation and
    augmentation run on the device after transfer, one kornia pipeline per
    modality; splits decoded in memory arrive in their stored type (uint8 RGB,
    int16 MS) and become float there.
    """

    dataset_class: type[ACKDDataset]
    #: The modality of the ``image`` key of this stage's batches.
    image_modality: ClassVar[str]

    def __init__(
        self,
        root: str | Path = 'data',
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        num_workers: int | None = None,
        bands: Sequence[str] | None = None,
        student_classes: Sequence[str] | None = None,
        split_file: str | Path | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        ms_augment: bool = False,
        rgb_augment: bool = True,
        crop_scale: tuple[float, float] = (0.8, 1.0),
        spectral_jitter: float = 0.05,
        band_dropout: float = 0.0,
        ms_mean: Sequence[float] | None = None,
        ms_std: Sequence[float] | None = None,
        rgb_mean: Sequence[float] | None = None,
        rgb_std: Sequence[float] | None = None,
        stats_samples: int = 512,
        check_images: bool = True,
        gallery_split: Literal['train', 'all'] = 'train',
        in_memory_gb: float = 4.0,
    ) -> None:
        """Initialize the arguments every stage shares.

        Args:
            root: Root directory of the benchmark.
            batch_size: Training batch size; only a last batch of a single sample
                is skipped (BatchNorm needs two), with a warning.
            eval_batch_size: Batch size of val/test/predict and of the matching
                loaders (default: *batch_size*).
            num_workers: Loader worker processes (default: 0 while every dataset
                is decoded in memory, 2 with a GPU; else CPU cores - 1, at most 8).
            bands: MS bands to use, by name (default: the dataset's default).
            student_classes: RGB class folders present (default: all classes).
            split_file: Optional CSV ``path,split`` fixing every file's split.
            val_fraction: Fraction of each class for validation.
            test_fraction: Fraction of each class for testing.
            seed: Seed of the split, the statistics sample and the random pairing.
            ms_augment: Augment MS training images (each stage sets its default).
            rgb_augment: Augment RGB training images.
            crop_scale: Area range of the random resized crop of training images,
                ``0 < low <= high <= 1``; ``(1.0, 1.0)``: no crop.
            spectral_jitter: Amplitude of the MS spectral jitter (0: off).
            band_dropout: MS band dropout probability (0: off).
            ms_mean: Per-band MS mean in stored units (default: computed).
            ms_std: Per-band MS standard deviation (default: computed).
            rgb_mean: Per-channel RGB mean (default: computed).
            rgb_std: Per-channel RGB standard deviation (default: computed).
            stats_samples: Training images read to compute missing statistics.
            check_images: In ``setup``, read every image the stage uses and refuse
                the benchmark listing all problems (unreadable or truncated files,
                band counts, mixed types or sizes, NaN/inf); see
                :func:`~torchgeo_ackd.datasets.preflight.preflight`.
            gallery_split: The MS images students are matched with and taught by
                (:attr:`gallery`): ``'train'`` (the MS training split) or ``'all'``
                (every MS image, as the reference code).
            in_memory_gb: Memory (GiB, all splits) for images decoded once into
                memory (:meth:`ACKDDataset.decode`), bit-identical to the files;
                splits beyond it are read from the files (0: all are).

        Raises:
            ValueError: If an argument is out of its range.
        """
        if not in_memory_gb >= 0:
            raise ValueError(f'in_memory_gb must be >= 0, got {in_memory_gb!r}')
        self.augmentation = Augmentation(
            ms_augment, rgb_augment, crop_scale, spectral_jitter, band_dropout
        )
        if gallery_split not in ('train', 'all'):
            raise ValueError(
                f"gallery_split={gallery_split!r}; expected 'train' or 'all'"
            )
        super().__init__(self.dataset_class, batch_size, num_workers or 0)
        self.requested_workers = num_workers
        # Batches of decoded splits come collated from the dataset (one gather).
        self.collate_fn = collate_fetched
        self.save_hyperparameters()
        # Paths as strings keep checkpoints loadable with weights_only=True.
        for key, value in self.hparams.items():
            if isinstance(value, Path):
                self.hparams[key] = str(value)
        self.root = Path(root)
        self.eval_batch_size = eval_batch_size or batch_size
        self.seed = seed
        self.bands = bands
        self.student_classes = student_classes
        self.stats_samples = stats_samples
        self.check_images = check_images
        self.stats: dict[str, Tensor | None] = {
            'ms_mean': tensor_or_none(ms_mean),
            'ms_std': tensor_or_none(ms_std),
            'rgb_mean': tensor_or_none(rgb_mean),
            'rgb_std': tensor_or_none(rgb_std),
            'pseudo_rgb_mean': None,
            'pseudo_rgb_std': None,
        }
        self.gallery_split = gallery_split
        split_kwargs = {
            'root': root,
            'split_file': split_file,
            'val_fraction': val_fraction,
            'test_fraction': test_fraction,
            'seed': seed,
        }
        self.datasets = DatasetStore(
            self.dataset_class,
            split_kwargs,
            bands,
            student_classes,
            int(in_memory_gb * 2**30),
        )
        self._pipelines: dict[str, K.AugmentationSequential] = {}
        self._pseudo_rgb: PseudoRGB | None = None

    def ms_dataset(self, split: str) -> ACKDDataset:
        """The MS (teacher) dataset of one split, all classes (built once).

        Args:
            split: ``'train'``, ``'val'``, ``'test'`` or ``'all'``.

        Returns:
            The dataset.
        """
        return self.datasets.get('ms', split)

    def rgb_dataset(self, split: str) -> ACKDDataset:
        """The RGB (student) dataset of one split, the student classes (built once).

        Args:
            split: ``'train'``, ``'val'``, ``'test'`` or ``'all'``.

        Returns:
            The dataset.
        """
        return self.datasets.get('rgb', split)

    @property
    def loader_workers(self) -> int:
        """Worker processes of the loaders (see ``num_workers``)."""
        return self.datasets.workers(self.requested_workers)

    @property
    def rgb_folder(self) -> Path:
        """The folder of the RGB images, ``root/RGB``."""
        return self.root / self.dataset_class.rgb_dir

    @property
    def has_rgb(self) -> bool:
        """Whether the root holds RGB images (the MS-only stages need none)."""
        return self.rgb_folder.is_dir()

    @property
    def ms_bands(self) -> tuple[str, ...]:
        """The MS bands of every MS batch, in order (no file is read)."""
        cls = self.dataset_class
        bands = self.bands if self.bands is not None else cls.default_bands
        return tuple(bands if bands is not None else cls.ms_sensor.bands)

    @property
    def ms_train(self) -> ACKDDataset:
        """The MS training split (read on first use)."""
        return self.ms_dataset('train')

    @property
    def gallery(self) -> ACKDDataset:
        """The teacher gallery: the MS images students are paired with."""
        return self.ms_dataset(self.gallery_split)

    @property
    def rgb_train(self) -> ACKDDataset:
        """The RGB training split: the students (read on first use)."""
        return self.rgb_dataset('train')

    def setup(self, stage: str) -> None:
        """Build the datasets of a stage.

        Args:
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.

        Raises:
            PreflightError: If ``check_images`` finds bad images.
        """
        if self.check_images:
            preflight(
                self.dataset_class,
                self.root,
                self.checked_modalities(),
                self.student_classes,
            )
        if stage == 'fit':
            self.train_dataset = self.training_set()
        split = {'fit': 'val', 'validate': 'val'}.get(stage, 'test')
        dataset = self.eval_dataset(split)
        setattr(self, f'{split}_dataset', dataset)
        if stage == 'predict':
            self.predict_dataset = dataset

    def checked_modalities(self) -> tuple[str, ...]:
        """The modalities whose images this stage reads (checked by ``setup``)."""
        raise NotImplementedError

    def training_set(self) -> Dataset[Sample]:
        """The training set of this stage."""
        raise NotImplementedError

    def eval_dataset(self, split: str) -> ACKDDataset:
        """The validation or test set of this stage.

        Args:
            split: ``'val'`` or ``'test'``.

        Returns:
            The dataset of the modality of this stage's ``image``.
        """
        return self.datasets.get(self.image_modality, split)

    def statistics(self, modality: str) -> tuple[Tensor, Tensor]:
        """Per-band mean and std of a modality's training images (computed once).

        Args:
            modality: ``'ms'``, ``'rgb'`` or ``'pseudo_rgb'`` (the pseudo-RGB
                views of the MS training images).

        Returns:
            Mean and standard deviation, each (C,), in stored units.
        """
        mean, std = self.stats[f'{modality}_mean'], self.stats[f'{modality}_std']
        if mean is None or std is None:
            # Build only the split this modality reads (MS-only roots have no RGB).
            dataset: Any
            if modality == 'pseudo_rgb':
                dataset = PseudoRGBView(self.ms_train, self.pseudo_rgb_transform)
            else:
                dataset = self.datasets.get(modality, 'train')
            mean, std = band_statistics(dataset, self.stats_samples, self.seed)
            self.stats[f'{modality}_mean'], self.stats[f'{modality}_std'] = mean, std
        return mean, std

    @property
    def pseudo_rgb_transform(self) -> PseudoRGB:
        """The MS -> pseudo-RGB transform of this benchmark's bands."""
        if self._pseudo_rgb is None:
            self._pseudo_rgb = PseudoRGB(self.ms_train.sensor, self.ms_train.bands)
        return self._pseudo_rgb

    def pipeline(
        self, modality: str, train: bool, size: tuple[int, int]
    ) -> K.AugmentationSequential:
        """The normalisation (+ augmentation) pipeline of a modality.

        Args:
            modality: ``'ms'``, ``'rgb'`` or ``'pseudo_rgb'``.
            train: The training pipeline (augmented where enabled).
            size: (H, W) of its images, also returned by the random resized crop
                (pseudo-RGB views have the MS image size).

        Returns:
            The kornia pipeline (built on first use).
        """
        key = f'{modality}_{"train" if train else "eval"}_{size[0]}x{size[1]}'
        if key not in self._pipelines:
            mean, std = self.statistics(self.normalised_like(modality))
            self._pipelines[key] = self.augmentation.pipeline(
                modality, train, size, mean, std
            )
        return self._pipelines[key]

    def normalised_like(self, modality: str) -> str:
        """Whose statistics normalise the images of a modality (its own)."""
        return modality

    def image_modalities(self) -> dict[str, str]:
        """Which modality each image key of a batch holds."""
        return {
            'image': self.image_modality,
            'image_ms': 'ms',
            'image_rgb': 'rgb',
            'image_pseudo_rgb': 'pseudo_rgb',
        }

    def preprocess(self, batch: Sample, train: bool = False) -> Sample:
        """Normalise (and, for training, augment) every image key of a batch.

        Also called by code that iterates the loaders itself (matching).

        Args:
            batch: A batch on its target device.
            train: Apply the training augmentations.

        Returns:
            The batch with transformed images.
        """
        batch = dict(batch)
        for key, modality in self.image_modalities().items():
            if key in batch:
                image = batch[key]
                size = (image.shape[-2], image.shape[-1])
                pipeline = self.pipeline(modality, train, size).to(image.device)
                batch[key] = pipeline(image.float())
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

    def _loader(
        self, dataset: Dataset[Sample], shuffle: bool, batch_size: int
    ) -> DataLoader[Sample]:
        world_size = self.trainer.world_size if self.trainer is not None else 1
        size = len(dataset)  # type: ignore[arg-type]
        owner = type(self).__name__
        drop_last = shuffle and drops_last_batch(size, batch_size, world_size, owner)
        workers = self.loader_workers
        if workers > 0:
            self.datasets.share_for_workers()
        return seeded_loader(
            dataset, batch_size, shuffle, self.seed, workers, self.collate_fn, drop_last
        )

    def _dataloader_factory(self, split: str) -> DataLoader[Sample]:
        """The loader of a split (TorchGeo's hook behind ``train_dataloader`` & co.).

        Args:
            split: ``'train'``, ``'val'``, ``'test'`` or ``'predict'``.

        Returns:
            The loader: shuffled by the seeded epoch sampler for training.
        """
        dataset = self._valid_attribute(f'{split}_dataset')
        train = split == 'train'
        size = self.batch_size if train else self.eval_batch_size
        return self._loader(dataset, shuffle=train, batch_size=size)

    def gallery_dataloader(self) -> DataLoader[Sample]:
        """Every teacher gallery sample (:attr:`gallery`), unshuffled, as ``image_ms``.

        Returns:
            The loader; batches carry ``image_ms``, ``label`` and ``index``.
        """
        return self._loader(
            RenamedDataset(self.gallery, 'image_ms'), False, self.eval_batch_size
        )

    def student_dataloader(self) -> DataLoader[Sample]:
        """All RGB training samples, unshuffled, as ``image_rgb``.

        The key makes :meth:`preprocess` normalise them as RGB in every stage.

        Returns:
            The loader; batches carry ``image_rgb``, ``label`` and ``index``.
        """
        return self._loader(
            RenamedDataset(self.rgb_train, 'image_rgb'), False, self.eval_batch_size
        )

    def state_dict(self) -> dict[str, Any]:
        """State saved in checkpoints: the statistics.

        Returns:
            The state.
        """
        return {k: v for k, v in self.stats.items() if v is not None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the statistics from a checkpoint.

        Args:
            state_dict: A state returned by :meth:`state_dict`.
        """
        for key in self.stats:
            if key in state_dict:
                self.stats[key] = state_dict[key]
        self._pipelines.clear()
