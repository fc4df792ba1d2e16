"""TorchGeo weights for any band set: the first convolution by band name or wavelength."""

from pathlib import Path

import pytest
import timm
import torch
from conftest import serve_weights

from torchgeo_ackd.models.teacher_weights import (
    BandSource,
    load_teacher_weights,
    map_bands,
    select_input_channels,
    weight_band_sources,
)
from torchgeo_ackd.sensors import SENTINEL2_10BAND, SENTINEL2_SSL4EO, TIANGONG2
from torchgeo_ackd.tasks import TeacherTask

#: The 13 SSL4EO bands of TorchGeo's SENTINEL2_ALL_* weights, as they spell them.
ALL = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8a', 'B9', 'B10', 'B11', 'B12']
#: Tiangong-2's 14 bands and the Sentinel-2 band nearest to each centre
#: wavelength, worked out by hand from the two band tables (413 nm is 30 nm
#: from S2's B01 at 443 nm: too far to be "the same B01", still the nearest).
TIANGONG2_SOURCES = [
    'B01',  # 413 -> 443
    'B01',  # 443 -> 443
    'B02',  # 490 -> 490
    'B02',  # 510 -> 490 (20 nm; B03 is 50 nm away)
    'B03',  # 565 -> 560
    'B04',  # 620 -> 665 (45 nm; B03 is 60 nm away)
    'B04',  # 665 -> 665
    'B04',  # 678 -> 665
    'B05',  # 708 -> 705
    'B06',  # 753 -> 740 (13 nm; B07 is 30 nm away)
    'B07',  # 780 -> 783
    'B8A',  # 865 -> 865
    'B8A',  # 900 -> 865 (35 nm; B09 is 45 nm away)
    'B09',  # 940 -> 945
]


def test_map_bands_by_name_and_by_wavelength() -> None:
    s2 = SENTINEL2_SSL4EO
    ten = map_bands(
        s2.bands, s2.wavelengths, SENTINEL2_10BAND.bands, SENTINEL2_10BAND.wavelengths
    )
    assert ten == [BandSource(b, b, 'name') for b in SENTINEL2_10BAND.bands]
    tg2 = map_bands(s2.bands, s2.wavelengths, TIANGONG2.bands, TIANGONG2.wavelengths)
    assert [s.source for s in tg2] == TIANGONG2_SOURCES
    # Same names as Sentinel-2 (B01-B12), other bands: never matched by name.
    assert {s.by for s in tg2} == {'wavelength'}


def test_select_input_channels_keeps_the_output_scale() -> None:
    weight = torch.tensor([[[[1.0]], [[2.0]], [[3.0]]]])  # (1, 3, 1, 1)
    new = select_input_channels(weight, [2, 0])
    torch.testing.assert_close(new.flatten(), torch.tensor([3.0, 1.0]) * 1.5)
    # On inputs of equal scale the output keeps the mean response per channel:
    # 3 channels of 1 -> 1 + 2 + 3 = 6; 2 channels of 1 -> (3 + 1) * 1.5 = 6.
    assert float(new.sum()) == float(weight.sum())


def test_ten_band_teacher_from_the_13_band_weight(hub: Path) -> None:
    served = serve_weights(hub, 'ResNet18_Weights.SENTINEL2_ALL_MOCO', 'resnet18')
    task = TeacherTask(
        model='resnet18',
        weights='ResNet18_Weights.SENTINEL2_ALL_MOCO',
        in_channels=10,
        num_classes=10,
        bands=list(SENTINEL2_10BAND.bands),
    )
    # B02..B08 are channels 1..7 of the SSL4EO order, B8A 8, B11 11, B12 12.
    expected = served['conv1.weight'][:, [1, 2, 3, 4, 5, 6, 7, 8, 11, 12]] * 1.3
    torch.testing.assert_close(task.model.conv1.weight, expected)
    # Deeper layers are the weight's own.
    assert torch.equal(
        task.model.layer4[1].conv2.weight, served['layer4.1.conv2.weight']
    )


def test_tiangong2_teacher_by_wavelength(hub: Path) -> None:
    served = serve_weights(hub, 'ResNet18_Weights.SENTINEL2_ALL_MOCO', 'resnet18')
    model = timm.create_model('resnet18', in_chans=14, num_classes=10)
    teacher_input = load_teacher_weights(
        model,
        'ResNet18_Weights.SENTINEL2_ALL_MOCO',
        TIANGONG2.bands,
        TIANGONG2.wavelengths,
    )
    channels = [SENTINEL2_SSL4EO.bands.index(b) for b in TIANGONG2_SOURCES]
    expected = served['conv1.weight'][:, channels] * (13 / 14)
    torch.testing.assert_close(model.conv1.weight, expected)
    assert teacher_input.bands == TIANGONG2.bands and teacher_input.scale == 10000.0


def test_resnet50_weight(hub: Path) -> None:
    served = serve_weights(hub, 'ResNet50_Weights.SENTINEL2_ALL_DINO', 'resnet50')
    model = timm.create_model('resnet50', in_chans=3, num_classes=10)
    load_teacher_weights(
        model, 'ResNet50_Weights.SENTINEL2_ALL_DINO', ['B04', 'B03', 'B02']
    )
    expected = served['conv1.weight'][:, [3, 2, 1]] * (13 / 3)
    torch.testing.assert_close(model.conv1.weight, expected)


def _sentinel2_enums() -> list[str]:
    import torchgeo.models

    names = []
    for arch in ('ResNet18_Weights', 'ResNet34_Weights', 'ResNet50_Weights'):
        for weight in getattr(torchgeo.models, arch, []):
            if 'SENTINEL2' in weight.name:
                names.append(f'{arch}.{weight.name}')
    return names


@pytest.mark.parametrize('name', _sentinel2_enums())
def test_every_sentinel2_weight_maps_the_10_and_14_band_sensors(name: str) -> None:
    from torchgeo.models import get_weight

    weight_bands = get_weight(name).meta['bands']
    # The weight's Sentinel-2 bands in the sensors' spelling ('B8a' -> 'B8A',
    # 'B1' -> 'B01'); an index band such as NDVI is none of them.
    spelled = {
        f'B{int(b[1:]):02d}' if b[1:].isdigit() else b.upper() for b in weight_bands
    } & set(SENTINEL2_SSL4EO.bands)
    ten = weight_band_sources(name, weight_bands, SENTINEL2_10BAND.bands)
    assert [s.band for s in ten] == list(SENTINEL2_10BAND.bands)
    for s in ten:
        # A band the weight has is taken by name; any other from the weight.
        assert (s.by == 'name') == (s.band in spelled)
        assert s.source in spelled
    tg2 = weight_band_sources(
        name, weight_bands, TIANGONG2.bands, TIANGONG2.wavelengths
    )
    assert all(s.by == 'wavelength' and s.source in spelled for s in tg2)
    if spelled == set(SENTINEL2_SSL4EO.bands):
        assert [s.source for s in tg2] == TIANGONG2_SOURCES


def test_bad_band_arguments() -> None:
    with pytest.raises(ValueError, match=r"\['X1'\] are not Sentinel-2 band names"):
        weight_band_sources('ResNet18_Weights.SENTINEL2_ALL_MOCO', ALL, ['X1'])
    with pytest.raises(ValueError, match='no Sentinel-2 band'):
        weight_band_sources('ResNet18_Weights.LANDSAT_TM_TOA_MOCO', ['B1'], ['B02'])
    with pytest.raises(ValueError, match='one value per band'):
        TeacherTask(in_channels=2, bands=['B02', 'B03'], wavelengths=[490.0])
    with pytest.raises(ValueError, match='in_channels=3'):
        TeacherTask(in_channels=3, bands=['B02', 'B03'])
