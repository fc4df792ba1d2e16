"""Reading one image file: GeoTIFF through rasterio, JPEG/PNG through Pillow."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

#: Suffixes of the image files the datasets read (GeoTIFF, JPEG, PNG).
IMAGE_SUFFIXES = ('.tif', '.tiff', '.jpg', '.jpeg', '.png')


def read_image(
    path: Path, band_indexes: Sequence[int], expected: int, requirement: str
) -> np.ndarray:  # type: ignore[type-arg]
    """The selected bands of one image file, in its stored data type.

    Args:
        path: A GeoTIFF (any band count) or an 8-bit RGB JPEG/PNG.
        band_indexes: 0-based bands to return (GeoTIFF only reads these).
        expected: Number of bands the file must have.
        requirement: End of the wrong-band-count message (what files must be).

    Returns:
        The image (C, H, W).

    Raises:
        ValueError: If the file cannot be read, has another band count, or
            holds non-finite values.
    """
    try:
        if path.suffix.lower() in ('.tif', '.tiff'):
            with rasterio.open(path) as src:
                count = src.count
                if count == expected:
                    # rasterio band indexes are 1-based; read only what is used.
                    array = src.read([i + 1 for i in band_indexes])
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
        raise ValueError(f'{str(path)!r} has {count} bands; {requirement}')
    if array.dtype.kind == 'f' and not np.isfinite(array).all():
        raise ValueError(f'{str(path)!r} contains non-finite (NaN or inf) values')
    return array


def resize_square(image: Tensor, size: int | None) -> Tensor:
    """An image (C, H, W) at *size* x *size* (bilinear, antialiased); None: as is."""
    if size is None or image.shape[-2:] == (size, size):
        return image
    return F.interpolate(
        image[None], size=(size, size), mode='bilinear', antialias=True
    )[0]
