"""timm models as every stage builds them, with the reference's initialisation."""

from typing import Any

import timm
from torch import nn


def create_model(
    name: str, in_chans: int, num_classes: int, zero_init_last: bool = True
) -> nn.Module:
    """A timm model from scratch.

    timm's ResNets start the last BatchNorm weight of every residual block at zero;
    torchvision's, and the authors' ResNet-34, start it at one
    (``zero_init_last=False``). Loaded weights replace either.

    Args:
        name: timm model name.
        in_chans: Input bands.
        num_classes: Classes (0: no classifier, pooled features out).
        zero_init_last: timm's default (True), or False for the reference's
            initialisation.

    Returns:
        The model.

    Raises:
        ValueError: If ``zero_init_last=False`` is asked of a model that has
            no such option.
    """
    kwargs: dict[str, Any] = {} if zero_init_last else {'zero_init_last': False}
    try:
        return timm.create_model(
            name, in_chans=in_chans, num_classes=num_classes, **kwargs
        )
    except TypeError as error:
        if zero_init_last or 'zero_init_last' not in str(error):
            raise
        raise ValueError(
            f'zero_init_last=False: timm model {name!r} has no zero_init_last '
            'option (only residual networks such as ResNets zero-initialise their '
            'last BatchNorm); leave zero_init_last at its default for this model'
        ) from error
