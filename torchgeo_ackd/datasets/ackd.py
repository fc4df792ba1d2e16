"""Base class for one modality of an asymmetric cross-modal benchmark."""

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torch import Tensor
from torch.utils.data import default_collate
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import percentile_normalization

from ..sensors import RGB, SENTINEL2_EUROSAT, Sensor
from .batch import FetchedBatch, Sample
from .decode import decode_files, storage
from .images import read_image, resize_square
from .splits import random_splits, read_multilabels, read_split_file


class ACKDDataset(NonGeoDataset):
    """One modality (MS teacher or RGB student) of an ACKD benchmark.

    Reads the benchmark folder layout::

        root/MS/<class>/*.tif                     multispectral GeoTIFFs
        root/RGB/<class>/*.{jpg,jpeg,png,tif}     RGB images
        root/MS/labels.csv                        multi-label sidecar (optional)
        split file (optional)                     CSV ``path,split``

    A subclass declares the class vocabulary, the sensors and the image sizes (see
    ``docs/add-a-sensor.md``). Labels always index the full :attr:`classes`, also
    when only some class folders are read, so teacher and student share one label
    space. Splits are seeded and stratified per class
    (:func:`~torchgeo_ackd.datasets.splits.random_splits`). Every problem with the
    files is an error naming the file or class: nothing is skipped silently.
    """

    #: Class vocabulary, in label order.
    classes: ClassVar[tuple[str, ...]] = ()
    #: Sensor of the stored MS files (band count and order on disk).
    ms_sensor: ClassVar[Sensor] = SENTINEL2_EUROSAT
    #: Sensor of the stored RGB files.
    rgb_sensor: ClassVar[Sensor] = RGB
    #: MS bands returned by default (``None``: all stored bands).
    default_bands: ClassVar[tuple[str, ...] | None] = None
    #: Side length the MS images are resized to on load (``None``: as stored).
    ms_size: ClassVar[int | None] = None
    #: Side length the RGB images are resized to on load (``None``: as stored).
    rgb_size: ClassVar[int | None] = None
    #: Whether MS labels are multi-hot, read from ``MS/<multilabel_file>``.
    ms_multilabel: ClassVar[bool] = False
    multilabel_file: ClassVar[str] = 'labels.csv'
    ms_dir: ClassVar[str] = 'MS'
    rgb_dir: ClassVar[str] = 'RGB'
    #: Folders of each class under :attr:`ms_dir` / :attr:`rgb_dir` (``None``: one,
    #: named as the class); only mapped folders are read, unmapped classes are absent.
    ms_class_folders: ClassVar[Mapping[str, tuple[str, ...]] | None] = None
    rgb_class_folders: ClassVar[Mapping[str, tuple[str, ...]] | None] = None
    #: TorchGeo datasets that download the benchmark's images (see :meth:`download`).
    sources: ClassVar[tuple[type[NonGeoDataset], ...]] = ()
    ms_extensions: ClassVar[tuple[str, ...]] = ('.tif', '.tiff')
    rgb_extensions: ClassVar[tuple[str, ...]] = (
        '.jpg', '.jpeg', '.png', '.tif', '.tiff',
    )  # fmt: skip

    modalities = ('ms', 'rgb')
    splits = ('train', 'val', 'test', 'all')

    def __init__(
        self,
        root: str | Path = 'data',
        modality: str = 'ms',
        split: str = 'train',
        bands: Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
        split_file: str | Path | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        """Initialize a new ACKDDataset instance.

        Args:
            root: Root directory of the benchmark.
            modality: ``'ms'`` (teacher side) or ``'rgb'`` (student side).
            split: ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
            bands: MS bands to return, by name, in the order wanted (default:
                :attr:`default_bands`, else all stored bands). RGB ignores it.
            classes: Classes to read (a subset of :attr:`classes`; default: all
                those of the modality, each of whose folders must then exist).
            split_file: Optional CSV with columns ``path,split`` (``path``
                relative to *root*) that fixes the split of every file.
            val_fraction: Fraction of each class used for validation.
            test_fraction: Fraction of each class used for testing.
            seed: Seed of the stratified split.
            transforms: Function applied to each sample dict.

        Raises:
            ValueError: On a bad argument, a missing or unexpected folder, an
                empty class, an unexpected file or an inconsistent split file.
        """
        if not self.classes:
            raise TypeError(f'{type(self).__name__} must declare its classes')
        if modality not in self.modalities:
            raise ValueError(
                f'modality={modality!r}; expected one of {self.modalities}'
            )
        if split not in self.splits:
            raise ValueError(f'split={split!r}; expected one of {self.splits}')
        if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1):
            raise ValueError('val_fraction and test_fraction must lie in [0, 1)')
        if val_fraction + test_fraction >= 1:
            raise ValueError('val_fraction + test_fraction must be < 1')

        self.root = Path(root)
        self.modality = modality
        self.split = split
        self.transforms = transforms
        self.sensor = self.ms_sensor if modality == 'ms' else self.rgb_sensor
        self.size = self.ms_size if modality == 'ms' else self.rgb_size

        band_names = bands if bands is not None else self.default_bands
        if modality == 'rgb' or band_names is None:
            band_names = self.sensor.bands
        self.bands = tuple(band_names)
        self.band_indexes = self.sensor.band_indices(self.bands)

        if classes is None:
            self.class_subset = tuple(self.class_folders(modality))
        else:
            unknown = [c for c in classes if c not in self.classes]
            if unknown:
                raise ValueError(
                    f'classes {unknown} are not classes of {type(self).__name__}; '
                    f'expected names from {list(self.classes)}'
                )
            self.class_subset = tuple(c for c in self.classes if c in classes)

        files, targets = self._find_files()
        if split == 'all':
            split_of = [split] * len(files)
        elif split_file is not None:
            split_of = read_split_file(Path(split_file), files, self.root)
        else:
            split_of = random_splits(
                targets, self.classes, val_fraction, test_fraction, seed
            )
        kept = [i for i, s in enumerate(split_of) if s == split]
        self.files = [files[i] for i in kept]
        self.targets = torch.tensor([targets[i] for i in kept], dtype=torch.long)
        #: Every image of the split, decoded (see :meth:`decode`), or None.
        self.decoded: Tensor | None = None
        self.multilabels: Tensor | None = None
        if modality == 'ms' and self.ms_multilabel:
            self.multilabels = read_multilabels(
                self.folder / self.multilabel_file,
                self.files,
                self.folder,
                self.targets,
                self.classes,
            )

    @classmethod
    def download(cls, root: str | Path, checksum: bool = True) -> None:
        """Download, verify and extract each of :attr:`sources` into *root*.

        Args:
            root: Root directory of the benchmark.
            checksum: Verify each archive's checksum (a corrupted one is refused).

        Raises:
            ValueError: If the benchmark has no :attr:`sources`.
        """
        if not cls.sources:
            raise ValueError(
                f'{cls.__name__} cannot be downloaded: put its images under the '
                f'root ({cls.ms_dir}/<class>/, {cls.rgb_dir}/<class>/)'
            )
        for source in cls.sources:
            source(root=str(root), download=True, checksum=checksum)  # type: ignore[call-arg]

    @classmethod
    def class_folders(cls, modality: str) -> dict[str, tuple[str, ...]]:
        """``{class: its folder names}`` of a modality, in label order.

        Args:
            modality: ``'ms'`` or ``'rgb'``.

        Returns:
            The classes that have folders in this modality, and their folders.
        """
        mapping = cls.ms_class_folders if modality == 'ms' else cls.rgb_class_folders
        if mapping is None:
            return {c: (c,) for c in cls.classes}
        return {c: tuple(mapping[c]) for c in cls.classes if c in mapping}

    @classmethod
    def present_classes(cls, root: str | Path, modality: str) -> list[str]:
        """The classes of a modality with a folder under *root*, in label order.

        Args:
            root: Root directory of the benchmark.
            modality: ``'ms'`` or ``'rgb'``.

        Returns:
            Class names.
        """
        folder = Path(root) / (cls.ms_dir if modality == 'ms' else cls.rgb_dir)
        return [
            c
            for c, names in cls.class_folders(modality).items()
            if any((folder / n).is_dir() for n in names)
        ]

    @property
    def folder(self) -> Path:
        """Folder of this modality, ``root/MS`` or ``root/RGB``."""
        return self.root / (self.ms_dir if self.modality == 'ms' else self.rgb_dir)

    def _find_files(self) -> tuple[list[Path], list[int]]:
        """List the image files of the selected classes, sorted."""
        if not self.root.is_dir():
            raise FileNotFoundError(
                f'benchmark root {str(self.root)!r} does not exist; expected a folder '
                f'with {self.ms_dir}/<class>/ and {self.rgb_dir}/<class>/ subfolders'
            )
        folder = self.folder
        if not folder.is_dir():
            raise FileNotFoundError(
                f'modality folder {str(folder)!r} is missing; expected '
                f'{folder.name}/<class>/ folders for classes {list(self.class_subset)}'
            )
        present = sorted(
            p.name
            for p in folder.iterdir()
            if p.is_dir() and not p.name.startswith('.')
        )
        ms = self.modality == 'ms'
        folders = self.class_folders(self.modality)
        if (self.ms_class_folders if ms else self.rgb_class_folders) is None:
            unexpected = [c for c in present if c not in self.classes]
            if unexpected:
                raise ValueError(
                    f'unexpected class folders {unexpected} in {str(folder)!r}; '
                    f'{type(self).__name__} expects classes {list(self.classes)}'
                )
        names = [n for c in self.class_subset for n in folders.get(c, (c,))]
        missing = [n for n in names if n not in present]
        if missing:
            raise FileNotFoundError(
                f'class folders {missing} are missing in {str(folder)!r}; pass '
                '`classes=` (or `student_classes=` to the datamodule) to read only '
                f'the classes present: {present}'
            )
        extensions = self.ms_extensions if ms else self.rgb_extensions
        files: list[Path] = []
        targets: list[int] = []
        for name in self.class_subset:
            for class_dir in (folder / n for n in folders[name]):
                entries = sorted(
                    p for p in class_dir.iterdir() if not p.name.startswith('.')
                )
                wrong = [p.name for p in entries if p.suffix.lower() not in extensions]
                if wrong:
                    raise ValueError(
                        f'unexpected files in {str(class_dir)!r}: {wrong[:5]}; '
                        f'expected only {list(extensions)} images'
                    )
                if not entries:
                    raise ValueError(
                        f'class folder {str(class_dir)!r} holds no images '
                        f'(expected {list(extensions)})'
                    )
                files.extend(entries)
                targets.extend([self.classes.index(name)] * len(entries))
        return files, targets

    def __len__(self) -> int:
        """Number of images in this split."""
        return len(self.files)

    def __getitem__(self, index: int) -> Sample:
        """Load one image.

        Args:
            index: Index of the image in this split.

        Returns:
            ``image`` float (C, H, W) in stored units, ``label`` (scalar class
            index, or (K,) multi-hot for multi-label MS) and ``index`` (scalar).

        Raises:
            ValueError: If the file cannot be read, has the wrong number of
                bands, or holds non-finite values.
        """
        if self.decoded is not None:
            image = self.decoded[index].float()
        else:
            image = torch.from_numpy(self._read(self.files[index]).astype(np.float32))
        image = self._resized(image)
        labels = self.targets if self.multilabels is None else self.multilabels
        sample = {'image': image, 'label': labels[index], 'index': torch.tensor(index)}
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def __getitems__(self, indices: Sequence[int]) -> FetchedBatch:
        """Load the samples of one batch at once (the DataLoader's batched fetch).

        From a decoded split (:meth:`decode`) the batch is one gather from memory,
        its images in their stored type (uint8 RGB, int16 MS; float32 if resized),
        which :meth:`ACKDDataModule.preprocess` converts on the device to exactly
        :meth:`__getitem__`'s float images. Without a decoded split, or with
        ``transforms``, the samples are :meth:`__getitem__`'s, stacked.

        Args:
            indices: Indexes of the batch's images in this split.

        Returns:
            The samples, and the batch they make.
        """
        if self.decoded is None or self.transforms is not None:
            return FetchedBatch(default_collate([self[i] for i in indices]))
        index = torch.as_tensor(indices, dtype=torch.long)
        labels = self.targets if self.multilabels is None else self.multilabels
        return FetchedBatch(
            {'image': self.decoded[index], 'label': labels[index], 'index': index}
        )

    def share_decoded(self) -> None:
        """Move the decoded split into shared memory (loader workers read it).

        Workers then map one copy instead of each getting its own (``spawn`` start).

        Raises:
            RuntimeError: If ``/dev/shm`` is too small (the message says what to do).
        """
        if self.decoded is None or self.decoded.is_shared():
            return
        size = self.decoded.numel() * self.decoded.element_size()
        try:
            self.decoded.share_memory_()
        except RuntimeError as err:
            raise RuntimeError(
                f'cannot put the decoded {self.modality.upper()} {self.split} split '
                f'of {str(self.root)!r} ({size / 2**20:.0f} MiB) in shared memory '
                f'for the loader workers: {err}. Give the machine or container '
                'more shared memory (e.g. docker run --shm-size), or set '
                'num_workers: 0 (decoded splits need no workers), or lower '
                'in_memory_gb'
            ) from err

    def _resized(self, image: Tensor) -> Tensor:
        """An image at the dataset's size (bilinear, antialiased), if it has one."""
        return resize_square(image, self.size)

    def _read(self, path: Path) -> np.ndarray:  # type: ignore[type-arg]
        """Read the selected bands of one file in its stored data type (C, H, W)."""
        expected = self.sensor.num_bands
        requirement = (
            f'{type(self).__name__} {self.modality.upper()} files must have '
            f'{expected} bands ({", ".join(self.sensor.bands)})'
        )
        return read_image(path, self.band_indexes, expected, requirement)

    def decoded_bytes(self) -> int | None:
        """Memory :meth:`decode` would take, from the first image (None: empty).

        Returns:
            Bytes of the decoded split, or None for an empty split.
        """
        if not self.files:
            return None
        shape, dtype = storage(self._read(self.files[0]), self.size)
        return len(self.files) * math.prod(shape) * dtype.itemsize

    def decode(self, max_bytes: int) -> bool:
        """Decode (and resize) every image of the split once into one tensor.

        Afterwards :meth:`__getitem__` reads no file: images come from
        :attr:`decoded`, bit-identical to reading the files, each in the smallest
        exact type (see :func:`~torchgeo_ackd.datasets.decode.storage`).

        Args:
            max_bytes: Memory the decoded split may take.

        Returns:
            Whether the split is decoded (False: it would not fit, or its images
            differ in size and are not resized; samples are then read from files).
        """
        if self.decoded is None:
            needed = self.decoded_bytes()
            if needed is None or needed > max_bytes:
                return False
            self.decoded = decode_files(
                self.files, self._read, self.size, self._resized
            )
        return self.decoded is not None

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot a sample: the RGB image, or a pseudo-RGB of an MS image.

        Args:
            sample: A sample returned by :meth:`__getitem__` (optionally with a
                ``prediction`` key).
            show_titles: Whether to show the label (and prediction) as title.
            suptitle: Optional figure title.

        Returns:
            The matplotlib figure.
        """
        image = sample['image']
        if self.modality == 'ms':
            rgb = [self.bands.index(b) for b in self.sensor.rgb if b in self.bands]
            if len(rgb) != 3:
                raise ValueError(
                    f'cannot plot a pseudo-RGB: bands {self.bands} lack some of '
                    f'the red/green/blue bands {self.sensor.rgb}'
                )
            image = image[rgb]
        array = percentile_normalization(image.permute(1, 2, 0).numpy(), 1, 99)
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.imshow(array)
        ax.axis('off')
        if show_titles:
            ax.set_title(self._describe(sample))
        if suptitle is not None:
            fig.suptitle(suptitle)
        return fig

    def _describe(self, sample: dict[str, Any]) -> str:
        """Title text: label names, and the prediction when present."""

        def names(label: Tensor) -> str:
            indices = (
                [int(label)] if label.ndim == 0 else label.nonzero()[:, 0].tolist()
            )
            return ', '.join(self.classes[i] for i in indices)

        title = f'Label: {names(sample["label"])}'
        if 'prediction' in sample:
            title += f'\nPrediction: {names(sample["prediction"])}'
        return title
