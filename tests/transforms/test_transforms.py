import pytest
import torch

from torchgeo_ackd.sensors import SENTINEL2_EUROSAT, TIANGONG2
from torchgeo_ackd.transforms import (
    BandDropout,
    PseudoRGB,
    SpectralJitter,
    build_augmentation,
)


def test_pseudo_rgb_takes_bands_by_name() -> None:
    # Band b holds the value 100 * (b + 1): red B04 is position 3 in EuroSAT order.
    x = (100.0 * torch.arange(1, 14))[None, :, None, None].expand(2, 13, 4, 4)
    out = PseudoRGB(SENTINEL2_EUROSAT, percentile=1.0)(x)
    # Shared stretch: divide by the brightest of the three (red, 400), times 255.
    assert out[0, :, 0, 0].tolist() == pytest.approx(
        [255.0, 255 * 300 / 400, 255 * 200 / 400]
    )
    sub = PseudoRGB(
        SENTINEL2_EUROSAT, bands=['B02', 'B08', 'B04', 'B03'], percentile=1.0
    )
    y = torch.tensor([20.0, 99.0, 40.0, 30.0])[None, :, None, None]
    assert sub(y)[0, :, 0, 0].tolist() == pytest.approx([255.0, 255 * 0.75, 255 * 0.5])


def test_pseudo_rgb_percentile_and_black_image() -> None:
    x = torch.zeros(1, 14, 10, 10)
    assert PseudoRGB(TIANGONG2)(x).abs().sum() == 0  # no NaN for black images
    x[0, 6] = torch.linspace(0, 1000, 100).view(10, 10)  # red band B07
    out = PseudoRGB(TIANGONG2, percentile=0.5)(x)
    assert out.max() == 255 and (out[0, 0] == 255).float().mean() >= 0.49
    with pytest.raises(ValueError, match='B04'):
        PseudoRGB(SENTINEL2_EUROSAT, bands=['B08'])
    with pytest.raises(ValueError, match='percentile'):
        PseudoRGB(SENTINEL2_EUROSAT, percentile=0)


@pytest.mark.parametrize('bands', [3, 10, 14])
def test_spectral_jitter_any_band_count(bands: int) -> None:
    torch.manual_seed(0)
    x = torch.ones(64, bands, 4, 4)
    y = SpectralJitter(gain=0.1, offset=0.0, p=1.0)(x)
    per_band = y[:, :, 0, 0]
    assert torch.all((per_band >= 0.9) & (per_band <= 1.1))
    assert per_band.std() > 0.01  # bands differ
    assert torch.equal(
        y[:, :, 0, 0][..., None, None].expand_as(y), y
    )  # constant per band


def test_band_dropout_keeps_one_band() -> None:
    torch.manual_seed(0)
    x = torch.ones(200, 5, 2, 2)
    y = BandDropout(drop_prob=0.9, p=1.0)(x)
    kept = y[:, :, 0, 0].sum(dim=1)
    assert kept.min() >= 1 and kept.float().mean() < 2  # heavy dropout, never all bands
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError):
        BandDropout(drop_prob=1.0)


def test_build_augmentation() -> None:
    mean, std = torch.full((4,), 10.0), torch.full((4,), 2.0)
    x = torch.full((3, 4, 8, 8), 14.0)
    assert torch.allclose(
        build_augmentation(mean, std, train=False)(x), torch.full_like(x, 2.0)
    )
    aug = build_augmentation(mean, std, size=6, spectral_jitter=0.1, band_dropout=0.5)
    assert aug(x).shape == (3, 4, 6, 6)
    with pytest.raises(ValueError, match='mean and std'):
        build_augmentation(mean, std[:3])
