"""Pretrained starts of the RGB student and the matcher's encoders.

One ``weights`` string, as for the teacher: a TorchGeo weight enum name, timm's
own pretrained weights (``'timm'`` or ``'timm:<tag>'``), or a file.
"""

import logging
from pathlib import Path

import timm
from torch import Tensor, nn

from ..io import read_torch_file
from .teacher_weights import check_state_dict, is_weight_enum_name

logger = logging.getLogger(__name__)


def load_pretrained(model: nn.Module, weights: str, what: str) -> None:
    """Start a timm model from pretrained weights.

    Args:
        model: A timm model (with or without classifier).
        weights: One of

            - a TorchGeo weight enum name (``'ResNet50_Weights.FMOW_RGB_GASSL'``)
              whose input bands the model takes: its backbone;
            - ``'timm'`` or ``'timm:<tag>'``: timm's pretrained weights of the
              model's architecture (``'timm:a1_in1k'`` -> ``resnet18.a1_in1k``),
              downloaded by timm: its backbone;
            - a file: a state dict, a TorchGeo/Lightning checkpoint (``model.``
              keys), a student checkpoint (``student.`` keys) or an exported
              student (``model.safetensors``): every parameter; the classifier
              too when its shape fits, else it keeps its initialisation.
        what: The model, for messages (``'student'``, ``'matcher MS encoder'``).

    Raises:
        FileNotFoundError: If a file does not exist.
        ValueError: If the weights do not fit the architecture.
    """
    if is_weight_enum_name(weights):
        state, source = _enum_state(weights), weights
    elif weights == 'timm' or weights.startswith('timm:'):
        state = _timm_backbone(model, weights.removeprefix('timm').lstrip(':'))
        source = f'timm {model.pretrained_cfg["architecture"]} {weights}'  # type: ignore[index]
    else:
        state, source = _file_state(Path(weights), what), weights
    # A classifier of another class count (or none) keeps its initialisation.
    own = model.state_dict()
    state = {
        k: v
        for k, v in state.items()
        if not _is_head(model, k) or (k in own and own[k].shape == v.shape)
    }
    check_state_dict(model, state, source, ignore_missing_head=True, what=what)
    model.load_state_dict(state, strict=False)
    head = any(_is_head(model, k) for k in state)
    kept = 'classifier included' if head else 'backbone only'
    logger.info('%s: weights from %s (%s)', what, source, kept)


def _is_head(model: nn.Module, key: str) -> bool:
    """Whether *key* names a parameter of the architecture's classifier."""
    cfg = getattr(model, 'pretrained_cfg', None) or {}
    names = cfg.get('classifier') or ('fc', 'head', 'classifier')
    names = (names,) if isinstance(names, str) else tuple(names)
    return any(key.startswith(f'{n}.') for n in names)


def _enum_state(name: str) -> dict[str, Tensor]:
    """The state dict of a TorchGeo weight enum (downloaded by TorchGeo)."""
    from torchgeo.models import get_weight

    try:
        enum = get_weight(name)
    except (KeyError, ValueError, AttributeError) as err:
        raise ValueError(f'unknown TorchGeo weights {name!r}: {err}') from err
    return dict(enum.get_state_dict(progress=True))


def _timm_backbone(model: nn.Module, tag: str) -> dict[str, Tensor]:
    """The pretrained weights timm has for *model*'s architecture, no classifier."""
    architecture = str(model.pretrained_cfg['architecture'])  # type: ignore[index]
    name = f'{architecture}.{tag}' if tag else architecture
    in_chans = next(v for v in model.state_dict().values() if v.ndim == 4).shape[1]
    pretrained = timm.create_model(
        name, pretrained=True, num_classes=0, in_chans=in_chans
    )
    return dict(pretrained.state_dict())


def _file_state(path: Path, what: str) -> dict[str, Tensor]:
    """The parameters a weights file holds, by the model's own names."""
    if path.is_dir():
        path = path / 'model.safetensors'
    if path.suffix == '.safetensors':
        if not path.is_file():
            raise FileNotFoundError(f'{what} weights {str(path)!r} do not exist')
        from safetensors.torch import load_file

        return load_file(path)
    loaded = read_torch_file(path, f'{what} weights')
    if not isinstance(loaded, dict):
        raise ValueError(
            f'{str(path)!r} holds a {type(loaded).__name__}, not a state dict'
        )
    state = loaded.get('state_dict', loaded)
    for prefix in ('student.', 'model.'):
        if any(k.startswith(prefix) for k in state):
            return {
                k.removeprefix(prefix): v
                for k, v in state.items()
                if k.startswith(prefix)
            }
    return dict(state)
