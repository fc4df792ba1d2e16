import pytest
import torch

from torchgeo_ackd.sensors import (
    RGB,
    SENTINEL2_10BAND,
    SENTINEL2_EUROSAT,
    SENTINEL2_SSL4EO,
    TIANGONG2,
    Sensor,
    reorder_bands,
)


def test_band_orders() -> None:
    assert SENTINEL2_EUROSAT.bands[-1] == 'B8A' and SENTINEL2_EUROSAT.num_bands == 13
    assert SENTINEL2_SSL4EO.bands[8] == 'B8A' and SENTINEL2_SSL4EO.bands[7] == 'B08'
    assert SENTINEL2_10BAND.num_bands == 10 and TIANGONG2.num_bands == 14
    assert SENTINEL2_EUROSAT.rgb_indices == [3, 2, 1]
    assert RGB.rgb_indices == [0, 1, 2]
    # Wavelengths follow the band, whatever the order.
    assert SENTINEL2_EUROSAT.wavelengths[12] == SENTINEL2_SSL4EO.wavelengths[8] == 865.0


def test_reorder_eurosat_to_ssl4eo() -> None:
    # Each band's pixels hold its EuroSAT position.
    x = torch.arange(13.0)[:, None, None].expand(13, 2, 2)
    y = reorder_bands(x, SENTINEL2_EUROSAT.bands, SENTINEL2_SSL4EO.bands)
    assert y[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 12, 8, 9, 10, 11]
    batch = reorder_bands(
        x[None].repeat(4, 1, 1, 1),
        SENTINEL2_EUROSAT.bands,
        ['B04', 'B03', 'B02'],
        dim=1,
    )
    assert batch.shape == (4, 3, 2, 2) and batch[0, :, 0, 0].tolist() == [3, 2, 1]


def test_reorder_errors() -> None:
    with pytest.raises(ValueError, match='13 source band names'):
        reorder_bands(torch.zeros(12, 2, 2), SENTINEL2_EUROSAT.bands, ['B02'])
    with pytest.raises(ValueError, match=r"\['B99'\]"):
        reorder_bands(torch.zeros(13, 2, 2), SENTINEL2_EUROSAT.bands, ['B99'])


def test_validation() -> None:
    with pytest.raises(ValueError, match='RGB bands'):
        Sensor('x', ('a', 'b'), (1.0, 2.0), ('a', 'b', 'c'), 1.0)
    with pytest.raises(ValueError, match='wavelengths'):
        Sensor('x', ('a',), (1.0, 2.0), ('a', 'a', 'a'), 1.0)
