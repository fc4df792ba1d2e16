"""Load teacher weights: a TorchGeo weight enum, a Lightning checkpoint, or a state dict."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..datasets.torch_files import read_torch_file
from ..sensors import SENTINEL2_SSL4EO

# TorchGeo's weight metadata spells Sentinel-2 bands 'B1', 'B8a'; the sensors
# module spells them 'B01', 'B8A'.
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


def _is_enum_name(weights: str) -> bool:
    return '_Weights.' in weights and not Path(weights).exists()


def load_teacher_weights(model: nn.Module, weights: str) -> TeacherInput:
    """Load weights into a teacher model (a timm model built like TorchGeo's).

    Three sources are accepted:

    * a TorchGeo weight enum name such as ``'ResNet18_Weights.SENTINEL2_ALL_MOCO'``,
      loaded with TorchGeo's own loader (download, or the torch hub cache when
      offline); only the backbone is pretrained, the classifier stays as
      initialised. The returned :class:`TeacherInput` says which band order and
      value scale the weights expect;
    * a Lightning checkpoint written by TorchGeo's classification task
      (``state_dict`` keys prefixed with ``model.``);
    * a plain state dict file (``torch.save(model.state_dict(), path)``).

    Files are read with ``torch.load(..., weights_only=True)``.

    Args:
        model: The teacher, e.g. ``timm.create_model('resnet18', in_chans=13,
            num_classes=10)``.
        weights: Enum name or file path.

    Returns:
        The input preparation the weights need.

    Raises:
        FileNotFoundError: If a path does not exist.
        ValueError: If the weights do not fit the model (band count, class
            count or architecture), naming the mismatching tensor.
    """
    if _is_enum_name(weights):
        return _load_enum(model, weights)
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(
            f'teacher weights {weights!r}: no such file, and not a TorchGeo weight '
            "enum name like 'ResNet18_Weights.SENTINEL2_ALL_MOCO'"
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


def _load_enum(model: nn.Module, name: str) -> TeacherInput:
    from torchgeo.models import get_weight

    try:
        enum = get_weight(name)
    except (KeyError, ValueError, AttributeError) as err:
        raise ValueError(f'unknown TorchGeo weights {name!r}: {err}') from err
    state = enum.get_state_dict(progress=True)
    head = {k for k in state if k.split('.')[0] in ('fc', 'head', 'classifier')}
    backbone = {k: v for k, v in state.items() if k not in head}
    check_state_dict(model, backbone, name, ignore_missing_head=True)
    model.load_state_dict(backbone, strict=False)
    bands = enum.meta.get('bands')
    band_names = tuple(_S2_ALIASES.get(b, b) for b in bands) if bands else None
    if band_names is not None and len(band_names) == 13:
        # Every TorchGeo 13-band Sentinel-2 weight uses the SSL4EO order.
        assert band_names == SENTINEL2_SSL4EO.bands, band_names
    scale = _normalize_std(enum.transforms)
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
) -> None:
    """Check that a state dict fits a model, with an error that says why not.

    Args:
        model: The model.
        state: The state dict to load.
        source: Where *state* comes from (for the message).
        ignore_missing_head: Allow missing classifier parameters.

    Raises:
        ValueError: On missing/unexpected keys or mismatching shapes; the first
            conv (band count) and the classifier (class count) get their own
            messages.
    """
    own = model.state_dict()
    first_conv = next((k for k, v in own.items() if v.ndim == 4), None)
    classifier = _classifier_weight_key(model)
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            if key == first_conv:
                raise ValueError(
                    f'teacher weights {source!r} take {value.shape[1]} input bands '
                    f'({key} has shape {tuple(value.shape)}), but the teacher is '
                    f'built for {own[key].shape[1]} bands'
                )
            if key == classifier:
                raise ValueError(
                    f'teacher weights {source!r} have {value.shape[0]} classes '
                    f'({key} has shape {tuple(value.shape)}), but the task has '
                    f'{own[key].shape[0]} classes'
                )
            raise ValueError(
                f'teacher weights {source!r}: {key} has shape {tuple(value.shape)}, '
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
            f'teacher weights {source!r} do not fit the teacher architecture: '
            f'missing {missing[:5]}, unexpected {unexpected[:5]}'
        )


def _classifier_weight_key(model: nn.Module) -> str | None:
    get_classifier = getattr(model, 'get_classifier', None)
    if get_classifier is None:
        return None
    head = get_classifier()
    for name, module in model.named_modules():
        if module is head:
            return f'{name}.weight'
    return None


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
