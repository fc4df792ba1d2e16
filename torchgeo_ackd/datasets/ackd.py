"""Base class for one modality of an asymmetric cross-modal benchmark."""

import csv
import math
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from PIL import Image
from torch import Tensor
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import percentile_normalization

from ..sensors import RGB, SENTINEL2_EUROSAT, Sensor
from .batch import FetchedBatch, Sample

_TORCH_DTYPES = {
    np.dtype(np.uint8): torch.uint8,
    np.dtype(np.int16): torch.int16,
    np.dtype(np.float32): torch.float32,
}
_NUMPY_DTYPES = {
    torch.uint8: np.uint8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.float32: np.float32,
}


def _storage_dtype(stored: np.dtype) -> np.dtype:  # type: ignore[type-arg]
    """The in-memory type of decoded images of a stored type (values exact)."""
    if stored == np.uint8:
        return np.dtype(np.uint8)
    if stored.kind in 'iu' and stored.itemsize <= 2:
        return np.dtype(np.int16)  # uint16 reflectance x 10000 fits int16
    return np.dtype(np.float32)


class ACKDDataset(NonGeoDataset):
    """One modality (MS teacher or RGB student) of an ACKD benchmark.

    Reads the benchmark folder layout::

        root/MS/<class>/*.tif                     multispectral GeoTIFFs
        root/RGB/<class>/*.{jpg,jpeg,png,tif}     RGB images
        root/MS/labels.csv                        multi-label sidecar (optional)
        split file (optional)                     CSV ``path,split``

    A subclass declares the class vocabulary, the sensors and the image sizes;
    nothing else (see ``docs/add-a-sensor.md``). Labels always index the full
    vocabulary :attr:`classes`, also when only a subset of class folders is
    read, so the teacher and student share one label space.

    Splits are stratified per class and deterministic: each class's files,
    sorted by name, are permuted with a generator seeded by ``seed`` and the
    class name, then cut into test, val and train parts.

    Every problem with the files is an error naming the file or class: nothing
    is skipped silently.
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
    ms_extensions: ClassVar[tuple[str, ...]] = ('.tif', '.tiff')
    rgb_extensions: ClassVar[tuple[str, ...]] = (
        '.jpg',
        '.jpeg',
        '.png',
        '.tif',
        '.tiff',
    )

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
            classes: Class folders to read (a subset of :attr:`classes`;
                default: all of them, each of which must then exist).
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
            self.class_subset = self.classes
        else:
            unknown = [c for c in classes if c not in self.classes]
            if unknown:
                raise ValueError(
                    f'classes {unknown} are not classes of {type(self).__name__}; '
                    f'expected names from {list(self.classes)}'
                )
            self.class_subset = tuple(c for c in self.classes if c in classes)

        files, targets = self._find_files()
        keep = self._split_mask(
            files, targets, split_file, val_fraction, test_fraction, seed
        )
        self.files = [f for f, k in zip(files, keep, strict=True) if k]
        self.targets = torch.tensor(
            [t for t, k in zip(targets, keep, strict=True) if k], dtype=torch.long
        )
        #: Every image of the split, decoded (see :meth:`decode`), or None.
        self.decoded: Tensor | None = None
        self.multilabels: Tensor | None = None
        if modality == 'ms' and self.ms_multilabel:
            self.multilabels = self._read_multilabels(self.files, self.targets)

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
        unexpected = [c for c in present if c not in self.classes]
        if unexpected:
            raise ValueError(
                f'unexpected class folders {unexpected} in {str(folder)!r}; '
                f'{type(self).__name__} expects classes {list(self.classes)}'
            )
        missing = [c for c in self.class_subset if c not in present]
        if missing:
            raise FileNotFoundError(
                f'class folders {missing} are missing in {str(folder)!r}; pass '
                '`classes=` (or `student_classes=` to the datamodule) to read only '
                f'the classes present: {present}'
            )
        extensions = (
            self.ms_extensions if self.modality == 'ms' else self.rgb_extensions
        )
        files: list[Path] = []
        targets: list[int] = []
        for name in self.class_subset:
            class_dir = folder / name
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

    def _split_mask(
        self,
        files: list[Path],
        targets: list[int],
        split_file: str | Path | None,
        val_fraction: float,
        test_fraction: float,
        seed: int,
    ) -> list[bool]:
        """Which of *files* belong to the requested split."""
        if self.split == 'all':
            return [True] * len(files)
        if split_file is not None:
            assigned = self._read_split_file(Path(split_file), files)
            return [assigned[f] == self.split for f in files]
        split_of = ['train'] * len(files)
        for c in sorted(set(targets)):
            members = [i for i, t in enumerate(targets) if t == c]
            # crc32 (not hash()) keeps the split identical across processes.
            g = torch.Generator().manual_seed(
                seed + zlib.crc32(self.classes[c].encode())
            )
            order = torch.randperm(len(members), generator=g).tolist()
            n_test = round(test_fraction * len(members))
            n_val = round(val_fraction * len(members))
            for rank, j in enumerate(order):
                if rank < n_test:
                    split_of[members[j]] = 'test'
                elif rank < n_test + n_val:
                    split_of[members[j]] = 'val'
        return [s == self.split for s in split_of]

    def _read_split_file(self, path: Path, files: list[Path]) -> dict[Path, str]:
        """Read a ``path,split`` CSV and check that it covers exactly *files*."""
        if not path.is_file():
            raise FileNotFoundError(f'split file {str(path)!r} does not exist')
        assigned: dict[Path, str] = {}
        wanted = set(files)
        with open(path, newline='') as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not {'path', 'split'} <= set(
                reader.fieldnames
            ):
                raise ValueError(f'split file {str(path)!r} needs columns path,split')
            for line, row in enumerate(reader, start=2):
                file = self.root / row['path']
                if row['split'] not in self.splits[:3]:
                    raise ValueError(
                        f'{path}:{line}: split {row["split"]!r}; expected train, val or test'
                    )
                if not file.is_file():
                    raise FileNotFoundError(
                        f'{path}:{line}: file {str(file)!r} does not exist'
                    )
                if file in wanted:
                    assigned[file] = row['split']
        unlisted = [str(f) for f in files if f not in assigned]
        if unlisted:
            raise ValueError(
                f'split file {str(path)!r} does not list {len(unlisted)} files, '
                f'e.g. {unlisted[:3]}'
            )
        return assigned

    def _read_multilabels(self, files: list[Path], targets: Tensor) -> Tensor:
        """Read the multi-hot labels of *files* from the sidecar CSV.

        The sidecar ``MS/labels.csv`` has columns ``path`` (relative to the MS
        folder, e.g. ``forest/img_1.tif``) and ``labels`` (class names separated
        by ``;``). The folder class of every file must be among its labels.
        """
        path = self.folder / self.multilabel_file
        if not path.is_file():
            raise FileNotFoundError(
                f'{type(self).__name__} MS labels are multi-label: expected the '
                f'sidecar file {str(path)!r} with columns path,labels'
            )
        table: dict[str, list[str]] = {}
        with open(path, newline='') as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                names = [n for n in row['labels'].split(';') if n]
                unknown = [n for n in names if n not in self.classes]
                if unknown:
                    raise ValueError(f'{path}:{line}: unknown classes {unknown}')
                table[row['path']] = names
        multihot = torch.zeros(len(files), len(self.classes))
        for i, file in enumerate(files):
            key = file.relative_to(self.folder).as_posix()
            if key not in table:
                raise ValueError(f'{str(path)!r} has no labels for {key!r}')
            names = table[key]
            if self.classes[int(targets[i])] not in names:
                raise ValueError(
                    f'{str(path)!r}: labels {names} of {key!r} do not include its '
                    f'folder class {self.classes[int(targets[i])]!r}'
                )
            multihot[i, [self.classes.index(n) for n in names]] = 1.0
        return multihot

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
            image = self._load(self.files[index])
        image = self._resized(image)
        label = (
            self.multilabels[index]
            if self.multilabels is not None
            else self.targets[index]
        )
        sample = {'image': image, 'label': label, 'index': torch.tensor(index)}
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def __getitems__(self, indices: Sequence[int]) -> FetchedBatch:
        """Load the samples of one batch at once (the DataLoader's batched fetch).

        From a decoded split (:meth:`decode`) the batch is one gather from
        memory, its images kept in their stored type (uint8 RGB, int16 MS;
        float32 where the dataset resized them): the datamodule converts them
        to float on the device (:meth:`ACKDDataModule.preprocess`), where they
        equal :meth:`__getitem__`'s float images exactly. A loader then needs no
        workers to keep up with a fast device, and moves a half (MS) or a
        quarter (RGB) of the bytes to it. Without a decoded split, or with
        ``transforms``, the samples are :meth:`__getitem__`'s, stacked.

        Args:
            indices: Indexes of the batch's images in this split.

        Returns:
            The samples, and the batch they make.
        """
        if self.decoded is None or self.transforms is not None:
            return FetchedBatch.of([self[i] for i in indices])
        index = torch.as_tensor(indices, dtype=torch.long)
        labels = self.targets if self.multilabels is None else self.multilabels
        # Decoded images already have the dataset's size (decode resized them).
        return FetchedBatch(
            {'image': self.decoded[index], 'label': labels[index], 'index': index}
        )

    def share_decoded(self) -> None:
        """Move the decoded split into shared memory (loader workers read it).

        Workers then map the one copy instead of each getting its own when
        the dataset is sent to them (a ``spawn`` start, e.g. on macOS).

        Raises:
            RuntimeError: If the shared-memory file system (``/dev/shm``) has
                no room for it; the message names its size and what to do.
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
        if self.size is None or image.shape[-2:] == (self.size, self.size):
            return image
        return F.interpolate(
            image[None], size=(self.size, self.size), mode='bilinear', antialias=True
        )[0]

    def _load(self, path: Path) -> Tensor:
        """Read the selected bands of one file as float32 (C, H, W)."""
        return torch.from_numpy(self._read(path).astype(np.float32))

    def _read(self, path: Path) -> np.ndarray:  # type: ignore[type-arg]
        """Read the selected bands of one file in its stored data type (C, H, W)."""
        expected = self.sensor.num_bands
        try:
            if path.suffix.lower() in ('.tif', '.tiff'):
                with rasterio.open(path) as src:
                    count = src.count
                    if count == expected:
                        # rasterio band indexes are 1-based; read only what is used.
                        array = src.read([i + 1 for i in self.band_indexes])
            else:
                with Image.open(path) as img:
                    count = len(img.getbands())
                    if img.mode != 'RGB' and count == expected:
                        raise ValueError(f'mode {img.mode!r}, expected 8-bit RGB')
                    if count == expected:
                        array = np.asarray(img).transpose(2, 0, 1)
        except (rasterio.errors.RasterioError, OSError, ValueError) as err:
            raise ValueError(f'cannot read image {str(path)!r}: {err}') from err
        if count != expected:
            raise ValueError(
                f'{str(path)!r} has {count} bands; {type(self).__name__} '
                f'{self.modality.upper()} files must have {expected} bands '
                f'({", ".join(self.sensor.bands)})'
            )
        # Integer rasters cannot hold NaN/inf: only float ones need the check.
        if array.dtype.kind == 'f' and not np.isfinite(array).all():
            raise ValueError(f'{str(path)!r} contains non-finite (NaN or inf) values')
        return array

    def _storage(self, first: np.ndarray) -> tuple[tuple[int, ...], torch.dtype]:  # type: ignore[type-arg]
        """Shape and type of one decoded image, from the split's first image.

        Images the dataset resizes are stored resized, as float32 (what
        :meth:`__getitem__` computes from the file); others as stored.
        """
        size = self.size
        if size is not None and first.shape[-2:] != (size, size):
            return (first.shape[0], size, size), torch.float32
        return first.shape, _TORCH_DTYPES[_storage_dtype(first.dtype)]

    def decoded_bytes(self) -> int | None:
        """Memory :meth:`decode` would take, from the first image (None: empty).

        Returns:
            Bytes of the decoded split, or None for an empty split.
        """
        if not self.files:
            return None
        shape, dtype = self._storage(self._read(self.files[0]))
        return len(self.files) * math.prod(shape) * dtype.itemsize

    def decode(self, max_bytes: int) -> bool:
        """Decode (and resize) every image of the split once into one tensor.

        Afterwards :meth:`__getitem__` reads no file: images come from
        :attr:`decoded`, bit-identical to reading the files. Images the
        dataset does not resize are stored in the smallest type that holds the
        stored values exactly (uint8 RGB, int16 MS reflectance x 10000; int32
        if a value does not fit int16); images it resizes (to
        :attr:`rgb_size` / :attr:`ms_size`) are stored resized, as float32.

        Args:
            max_bytes: Memory the decoded split may take.

        Returns:
            Whether the split is decoded (False: it would not fit, or its
            images differ in size and the dataset does not resize them;
            samples are then read from the files).
        """
        if self.decoded is not None:
            return True
        needed = self.decoded_bytes()
        if needed is None or needed > max_bytes:
            return False
        first = self._read(self.files[0])
        shape, dtype = self._storage(first)
        store = torch.empty((len(self.files), *shape), dtype=dtype)
        for i, path in enumerate(self.files):
            array = first if i == 0 else self._read(path)
            if dtype == torch.float32 and self.size is not None:
                image = torch.from_numpy(array.astype(np.float32))
                store[i] = self._resized(image)
                continue
            if array.shape != first.shape:
                return False
            if store.dtype == torch.int16 and (
                array.max(initial=0) > 32767 or array.min(initial=0) < -32768
            ):
                store = store.to(torch.int32)  # rare: keep every value exact
            store[i] = torch.from_numpy(array.astype(_NUMPY_DTYPES[store.dtype]))
        self.decoded = store
        return True

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
            if label.ndim == 0:
                return self.classes[int(label)]
            return ', '.join(
                self.classes[i] for i in label.nonzero().flatten().tolist()
            )

        title = f'Label: {names(sample["label"])}'
        if 'prediction' in sample:
            title += f'\nPrediction: {names(sample["prediction"])}'
        return title
