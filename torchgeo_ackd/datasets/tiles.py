"""Unlabelled RGB tiles to predict: a folder, a file list, or files."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch
from PIL import Image
from torch.utils.data import Sampler
from torchgeo.datasets import NonGeoDataset

from .batch import Sample
from .images import IMAGE_SUFFIXES, read_image, resize_square


@dataclass(frozen=True)
class Tile:
    """One readable tile.

    Attributes:
        path: The file.
        shape: (H, W) of the image the student sees (after resizing).
        crs: Its coordinate reference system (WKT or ``EPSG:n``), if georeferenced.
        bounds: ``(left, bottom, right, top)`` in *crs*, if georeferenced.
    """

    path: Path
    shape: tuple[int, int]
    crs: str | None = None
    bounds: tuple[float, float, float, float] | None = None


def list_tiles(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """The image files of a folder (recursively), a file list, or given files.

    Args:
        source: A folder (its GeoTIFF/JPEG/PNG files, sorted), a ``.txt`` or
            ``.csv`` file naming one image per line (first column; relative
            paths are relative to the list), one image file, or a sequence
            of image files.

    Returns:
        The files, in order.

    Raises:
        FileNotFoundError: If *source* does not exist.
        ValueError: If it names no image.
    """
    if not isinstance(source, str | Path):
        return [Path(p) for p in source]
    source = Path(source)
    if source.is_dir():
        files = sorted(
            p for p in source.rglob('*') if p.suffix.lower() in IMAGE_SUFFIXES
        )
    elif source.suffix.lower() in ('.txt', '.csv') and source.is_file():
        lines = [line.split(',')[0].strip() for line in source.read_text().splitlines()]
        names = [n for n in lines if n and n.lower() != 'path']
        files = [p if p.is_absolute() else source.parent / p for p in map(Path, names)]
    elif source.exists():
        files = [source]
    else:
        raise FileNotFoundError(f'tiles {str(source)!r} do not exist')
    if not files:
        raise ValueError(
            f'tiles {str(source)!r}: no image found (expected a folder of '
            f'{"/".join(IMAGE_SUFFIXES)} files, a .txt/.csv list of them, or one)'
        )
    return files


class TileDataset(NonGeoDataset):
    """RGB tiles of any size to classify; unreadable ones are listed, not dropped.

    Every file's header is read once when the dataset is built: a file that
    cannot be opened, is not an image, or does not have 3 bands goes to
    :attr:`problems` with its reason, the others to :attr:`tiles`. Samples
    are read as the benchmarks read their RGB images (same decoders, same
    resizing), so a tile of a benchmark gets the student's test-step input.
    """

    def __init__(
        self, source: str | Path | Sequence[str | Path], size: int | None = None
    ) -> None:
        """Initialize a new TileDataset instance.

        Args:
            source: Tiles, see :func:`list_tiles`.
            size: Side length tiles are resized to (bilinear, antialiased), as
                the student's benchmark resizes its RGB images (None: as stored).
        """
        self.size = size
        self.tiles: list[Tile] = []
        self.problems: dict[Path, str] = {}
        for path in list_tiles(source):
            try:
                self.tiles.append(self._header(path))
            except ValueError as err:
                self.problems[path] = str(err)

    def _header(self, path: Path) -> Tile:
        """A tile from its file's header, or ValueError saying what is wrong."""
        if not path.is_file():
            raise ValueError('file not found')
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f'not a {"/".join(IMAGE_SUFFIXES)} image')
        crs, bounds = None, None
        try:
            if path.suffix.lower() in ('.tif', '.tiff'):
                with rasterio.open(path) as src:
                    count, shape = src.count, (src.height, src.width)
                    if src.crs is not None:
                        crs, bounds = src.crs.to_string(), tuple(src.bounds)
            else:
                with Image.open(path) as img:
                    count, shape = len(img.getbands()), (img.height, img.width)
        except (rasterio.errors.RasterioError, OSError) as err:
            raise ValueError(f'unreadable: {err}') from err
        if count != 3:
            raise ValueError(f'{count} bands, expected 3 (RGB)')
        if self.size is not None:
            shape = (self.size, self.size)
        return Tile(path, shape, crs, bounds)  # type: ignore[arg-type]

    def __len__(self) -> int:
        """Number of readable tiles."""
        return len(self.tiles)

    def __getitem__(self, index: int) -> Sample:
        """One tile.

        Args:
            index: Index in :attr:`tiles`.

        Returns:
            ``image`` float (3, H, W) in stored units, ``index`` (scalar) and
            ``error`` (``''``, or why the file could not be read, with an
            all-zero image of the tile's shape).
        """
        tile, error = self.tiles[index], ''
        try:
            array = read_image(tile.path, (0, 1, 2), 3, 'tiles must be RGB')
            image = resize_square(torch.from_numpy(array.astype(np.float32)), self.size)
        except ValueError as err:
            image, error = torch.zeros(3, *tile.shape), str(err)
        return {'image': image, 'index': torch.tensor(index), 'error': error}  # type: ignore[dict-item]


class SameShapeBatches(Sampler[list[int]]):
    """Batches of tiles of one shape (tiles of any size, stacked without padding)."""

    def __init__(self, shapes: Sequence[tuple[int, int]], batch_size: int) -> None:
        """Initialize a new SameShapeBatches instance.

        Args:
            shapes: (H, W) of every sample.
            batch_size: Most samples per batch.
        """
        groups: dict[tuple[int, int], list[int]] = {}
        for i, shape in enumerate(shapes):
            groups.setdefault(shape, []).append(i)
        self.batches = [
            group[i : i + batch_size]
            for group in groups.values()
            for i in range(0, len(group), batch_size)
        ]

    def __iter__(self) -> Iterator[list[int]]:
        """The batches: each shape's samples in order, shapes in first-seen order."""
        return iter(self.batches)

    def __len__(self) -> int:
        """Number of batches."""
        return len(self.batches)
