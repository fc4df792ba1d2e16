"""Load teacher weights: a TorchGeo weight enum, a Lightning checkpoint or a state dict.

A TorchGeo weight trained on other bands gets its first convolution rebuilt band by
band (:func:`map_bands`, :func:`select_input_channels`).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..errors import MissingStageOutputError
from ..io import read_torch_file
from ..sensors import SENTINEL2_SSL4EO

logger = logging.getLogger(__name__)

#: Largest centre-wavelength difference (nm) at which same-named bands are one band.
SAME_BAND_NM = 25.0

# TorchGeo spells Sentinel-2 bands 'B1', 'B8a'; the sensors module 'B01', 'B8A'.
_S2_ALIASES = {f'B{i}': f'B{i:02d}' for i in range(1, 10)} | {'B8a': 'B8A'}


@dataclass
class TeacherInput:
    """How raw MS values must be prepared for a pretrained teacher.

    Attributes:
        bands: Band names in the order the weights expect (``None``: as given).
        scale: Raw values are divided by this (``None``: keep the datamodule's
            per-band normalisation).
    """

    bands: tuple[str, ...] | None = None
    scale: float | None = None


def is_weight_enum_name(weights: str | None) -> bool:
    """Whether *weights* names a TorchGeo weight enum (not a file).

    Args:
        weights: A ``teacher.weights`` value.

    Returns:
        True for names like ``'ResNet18_Weights.SENTINEL2_ALL_MOCO'``.
    """
    return weights is not None and '_Weights.' in weights and not Path(weights).exists()


class BandSource(NamedTuple):
    """Where a teacher band's first-layer filters come from.

    Attributes:
        band: The teacher's band.
        source: The weight's band whose channel it takes.
        by: ``'name'`` (the same band) or ``'wavelength'`` (the nearest one).
    """

    band: str
    source: str
    by: str


def map_bands(
    weight_bands: Sequence[str],
    weight_wavelengths: Sequence[float],
    bands: Sequence[str],
    wavelengths: Sequence[float],
) -> list[BandSource]:
    """Choose a weight channel for every band of a sensor.

    A band takes the weight's channel of the same name when their centre
    wavelengths differ by at most :data:`SAME_BAND_NM`, otherwise the channel of
    the nearest centre wavelength (ties: the first in the weight's order).

    Args:
        weight_bands: The weight's bands that have a centre wavelength (not NDVI).
        weight_wavelengths: Their centre wavelengths in nm.
        bands: The teacher's bands, in input order.
        wavelengths: Their centre wavelengths in nm.

    Returns:
        One :class:`BandSource` per band of *bands*, in its order.
    """
    sources = []
    for band, wavelength in zip(bands, wavelengths, strict=True):
        if band in weight_bands:
            same = weight_wavelengths[list(weight_bands).index(band)]
            if abs(same - wavelength) <= SAME_BAND_NM:
                sources.append(BandSource(band, band, 'name'))
                continue
        gaps = [abs(w - wavelength) for w in weight_wavelengths]
        nearest = weight_bands[gaps.index(min(gaps))]
        sources.append(BandSource(band, nearest, 'wavelength'))
    return sources


def select_input_channels(weight: Tensor, channels: Sequence[int]) -> Tensor:
    """A first-layer filter bank for other input bands, at the same output scale.

    Taking ``C_new`` of the ``C_w`` channels scales each filter by ``C_w / C_new``
    (as timm does when it adapts a 3-band filter bank).

    Args:
        weight: (O, C_w, kh, kw) filters of the pretrained first convolution.
        channels: For each new band, its channel index in *weight* (may repeat).

    Returns:
        (O, len(channels), kh, kw) filters.
    """
    index = torch.as_tensor(list(channels), dtype=torch.long, device=weight.device)
    return weight.index_select(1, index) * (weight.shape[1] / len(channels))


def load_teacher_weights(
    model: nn.Module,
    weights: str,
    bands: Sequence[str] | None = None,
    wavelengths: Sequence[float] | None = None,
) -> TeacherInput:
    """Load weights into a teacher model (a timm model built like TorchGeo's).

    Accepts a TorchGeo weight enum name such as
    ``'ResNet18_Weights.SENTINEL2_ALL_MOCO'`` (backbone only, the classifier stays
    as initialised), a checkpoint of TorchGeo's classification task (``model.``
    keys), or a state dict file, read with ``torch.load(..., weights_only=True)``.

    Args:
        model: The teacher, e.g. a timm ResNet.
        weights: Enum name or file path.
        bands: The teacher's input bands, in order. With an enum whose bands
            differ, the first convolution is built by :func:`map_bands` (logged);
            without them, the model must take the enum's bands.
        wavelengths: Centre wavelengths (nm) of *bands* (default: Sentinel-2's).

    Returns:
        The band order and value scale the weights expect.

    Raises:
        FileNotFoundError: If a path does not exist.
        ValueError: If the weights do not fit the model (band count, class
            count or architecture), naming the mismatching tensor.
    """
    if is_weight_enum_name(weights):
        return _load_enum(model, weights, bands, wavelengths)
    path = Path(weights)
    if not path.is_file():
        raise MissingStageOutputError(
            'teacher weights',
            weights,
            'teacher',
            ' (nor is it a TorchGeo weight enum name like '
            "'ResNet18_Weights.SENTINEL2_ALL_MOCO')",
        )
    loaded = read_torch_file(path, 'teacher weights')
    if isinstance(loaded, dict) and 'state_dict' in loaded:
        state = {
            k.removeprefix('model.'): v
            for k, v in loaded['state_dict'].items()
            if k.startswith('model.')
        }
        if not state:
            raise ValueError(
                f'checkpoint {str(path)!r} has no "model." parameters; expected a '
                "checkpoint of TorchGeo's ClassificationTask"
            )
    elif isinstance(loaded, dict):
        state = loaded
    else:
        raise ValueError(
            f'{str(path)!r} holds a {type(loaded).__name__}, not a state dict'
        )
    check_state_dict(model, state, str(path))
    model.load_state_dict(state)
    return TeacherInput()


def sentinel2_wavelengths(bands: Sequence[str]) -> list[float]:
    """Centre wavelengths (nm) of Sentinel-2 bands by name.

    Args:
        bands: Sentinel-2 band names (``'B02'``, ``'B8A'``, ...).

    Returns:
        One wavelength per band.

    Raises:
        ValueError: If a name is not a Sentinel-2 band.
    """
    s2 = SENTINEL2_SSL4EO
    unknown = [b for b in bands if b not in s2.bands]
    if unknown:
        raise ValueError(
            f'bands {unknown} are not Sentinel-2 band names {list(s2.bands)}; give '
            'their centre wavelengths (teacher wavelengths) to map them to the '
            'weight by wavelength'
        )
    return [s2.wavelengths[s2.bands.index(b)] for b in bands]


def weight_band_sources(
    name: str,
    weight_bands: Sequence[str],
    bands: Sequence[str],
    wavelengths: Sequence[float] | None = None,
) -> list[BandSource]:
    """The weight channel each band of a teacher takes from a TorchGeo weight.

    Args:
        name: The weight enum's name (Sentinel-2 bands if it says ``SENTINEL2``).
        weight_bands: The weight's bands (``enum.meta['bands']``, any spelling).
        bands: The teacher's bands, in input order.
        wavelengths: Their centre wavelengths in nm (default: Sentinel-2's).

    Returns:
        One :class:`BandSource` per teacher band.

    Raises:
        ValueError: If the weight has no Sentinel-2 band, or *bands* are not
            Sentinel-2 names and no wavelengths are given.
    """
    spelled = [_S2_ALIASES.get(b, b) for b in weight_bands]
    s2 = 'SENTINEL2' in name.upper()
    known = [b for b in spelled if s2 and b in SENTINEL2_SSL4EO.bands]
    if not known:
        raise ValueError(
            f'teacher weights {name!r} take bands {list(weight_bands)}; the '
            f'teacher takes {list(bands)} and the weight has no Sentinel-2 band '
            'to build its first convolution from'
        )
    if wavelengths is None:
        wavelengths = sentinel2_wavelengths(bands)
    return map_bands(known, sentinel2_wavelengths(known), bands, wavelengths)


def _load_enum(
    model: nn.Module,
    name: str,
    bands: Sequence[str] | None,
    wavelengths: Sequence[float] | None,
) -> TeacherInput:
    from torchgeo.models import get_weight

    try:
        enum = get_weight(name)
    except (KeyError, ValueError, AttributeError) as err:
        raise ValueError(f'unknown TorchGeo weights {name!r}: {err}') from err
    state = enum.get_state_dict(progress=True)
    head = {k for k in state if k.split('.')[0] in ('fc', 'head', 'classifier')}
    backbone = {k: v for k, v in state.items() if k not in head}
    meta_bands = enum.meta.get('bands')
    band_names = (
        tuple(_S2_ALIASES.get(b, b) for b in meta_bands) if meta_bands else None
    )
    if band_names is not None and len(band_names) == 13:
        # Every TorchGeo 13-band Sentinel-2 weight uses the SSL4EO order.
        assert band_names == SENTINEL2_SSL4EO.bands, band_names
    scale = _normalize_std(enum.transforms)
    if bands is not None and band_names is not None and tuple(bands) != band_names:
        first = next(k for k, v in model.state_dict().items() if v.ndim == 4)
        if first not in backbone:
            raise ValueError(
                f'teacher weights {name!r} have no {first!r} to build the first '
                'convolution from'
            )
        sources = weight_band_sources(name, band_names, bands, wavelengths)
        backbone[first] = select_input_channels(
            backbone[first], [band_names.index(s.source) for s in sources]
        )
        logger.info(
            'teacher weights %s: first convolution from the weight bands %s',
            name,
            ', '.join(f'{s.band}<-{s.source} (by {s.by})' for s in sources),
        )
        band_names = tuple(bands)
    check_state_dict(model, backbone, name, ignore_missing_head=True)
    model.load_state_dict(backbone, strict=False)
    return TeacherInput(bands=band_names, scale=scale)


def _normalize_std(transforms: object) -> float | None:
    """The constant std of the Normalize step of a weight's transforms, if any."""
    modules = transforms.modules() if isinstance(transforms, nn.Module) else []
    for module in modules:
        std = getattr(module, 'std', None)
        if type(module).__name__ == 'Normalize' and std is not None:
            values = torch.as_tensor(std).flatten().unique()
            if len(values) == 1:
                return float(values[0])
    return None


def check_state_dict(
    model: nn.Module,
    state: dict[str, Tensor],
    source: str,
    ignore_missing_head: bool = False,
    what: str = 'teacher',
) -> None:
    """Check that a state dict fits a model, with an error that says why not.

    Args:
        model: The model.
        state: The state dict to load.
        source: Where *state* comes from (for the message).
        ignore_missing_head: Allow missing classifier parameters.
        what: The model, for the message (``'teacher'``, ``'student'``, ...).

    Raises:
        ValueError: On missing/unexpected keys or mismatching shapes.
    """
    own = model.state_dict()
    first_conv = next((k for k, v in own.items() if v.ndim == 4), None)
    classifier = _classifier_weight_key(model)
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            if key == first_conv:
                raise ValueError(
                    f'{what} weights {source!r} take {value.shape[1]} input bands '
                    f'({key} has shape {tuple(value.shape)}), but the {what} is '
                    f'built for {own[key].shape[1]} bands'
                )
            if key == classifier:
                raise ValueError(
                    f'{what} weights {source!r} have {value.shape[0]} classes '
                    f'({key} has shape {tuple(value.shape)}), but the task has '
                    f'{own[key].shape[0]} classes'
                )
            raise ValueError(
                f'{what} weights {source!r}: {key} has shape {tuple(value.shape)}, '
                f'the model expects {tuple(own[key].shape)}'
            )
    missing = [k for k in own if k not in state]
    if ignore_missing_head:
        missing = [
            k for k in missing if k.split('.')[0] not in ('fc', 'head', 'classifier')
        ]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise ValueError(
            f'{what} weights {source!r} do not fit the {what} architecture: '
            f'missing {missing[:5]}, unexpected {unexpected[:5]}'
        )


def _classifier_weight_key(model: nn.Module) -> str | None:
    get_classifier = getattr(model, 'get_classifier', None)
    head = None if get_classifier is None else get_classifier()
    return next((f'{n}.weight' for n, m in model.named_modules() if m is head), None)


def teacher_band_order(
    data_bands: Sequence[str], wanted: Sequence[str] | None
) -> list[int] | None:
    """Indices that reorder the data's MS bands into the teacher's order.

    Args:
        data_bands: Band names of the MS batches, in order.
        wanted: Band names the teacher expects (``None``: as given).

    Returns:
        The index list, or ``None`` when no reordering is needed.

    Raises:
        ValueError: If the teacher needs a band the data does not have.
    """
    if wanted is None or tuple(wanted) == tuple(data_bands):
        return None
    missing = [b for b in wanted if b not in data_bands]
    if missing:
        raise ValueError(
            f'the teacher weights expect bands {list(wanted)}, but the MS data lack '
            f'{missing} (data bands: {list(data_bands)})'
        )
    return [list(data_bands).index(b) for b in wanted]
