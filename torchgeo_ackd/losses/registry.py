"""Registry of distillation losses by name, so a config can say ``kd: dkd``."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .base import DistillationLoss

_LossT = TypeVar('_LossT', bound=type[DistillationLoss])

_REGISTRY: dict[str, type[DistillationLoss]] = {}


def _normalise_name(name: str) -> str:
    """Registry key of a name: stripped and lower-case."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'a KD loss name must be a non-empty string, got {name!r}')
    return name.strip().lower()


def register_kd_loss(name: str) -> Callable[[_LossT], _LossT]:
    """Class decorator that registers a :class:`DistillationLoss` under ``name``.

    Args:
        name: the name configs use, case-insensitive, e.g. ``'dkd'``.

    Returns:
        The decorator; it returns the class unchanged.

    Raises:
        ValueError: if the name is empty or already taken.
    """
    key = _normalise_name(name)

    def decorator(cls: _LossT) -> _LossT:
        if not (isinstance(cls, type) and issubclass(cls, DistillationLoss)):
            raise TypeError(
                f'only DistillationLoss subclasses can be registered, got {cls!r}'
            )
        if key in _REGISTRY:
            raise ValueError(
                f'KD loss name {key!r} is already registered to '
                f'{_REGISTRY[key].__qualname__}'
            )
        _REGISTRY[key] = cls
        return cls

    return decorator


def available_kd_losses() -> list[str]:
    """Names of the registered distillation losses, sorted."""
    return sorted(_REGISTRY)


def build_kd_loss(name: str, **kwargs: Any) -> DistillationLoss:
    """Instantiate a registered distillation loss.

    Args:
        name: registered name (case-insensitive), see :func:`available_kd_losses`.
        **kwargs: keyword arguments of that loss's constructor.

    Returns:
        The loss module.

    Raises:
        ValueError: if no loss is registered under ``name``.
        TypeError: if ``kwargs`` do not fit the loss's constructor.
    """
    key = _normalise_name(name)
    if key not in _REGISTRY:
        raise ValueError(
            f'unknown KD loss {name!r}; registered: {", ".join(available_kd_losses())}'
        )
    cls = _REGISTRY[key]
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise TypeError(f'KD loss {key!r} ({cls.__name__}): {error}') from error


@dataclass
class DistillationConfig:
    """The distillation term of a student task, one group in a config.

    In a config::

        kd:
          loss: kd
          weight: 0.4
          options:
            kd: {temperature: 3.0, scale_by_temperature_squared: false}
            dkd: {first_epoch: 0}
            lskd: {temperature: 3.0}

    Only the ``options`` of the chosen ``loss`` are used, so switching the loss on
    the command line (``--model.init_args.kd.loss=dkd``) is safe.

    Attributes:
        loss: Registered name of the KD loss (``none``: no distillation), see
            :func:`available_kd_losses`.
        weight: Weight of the term in the task's total loss.
        options: Keyword arguments of the losses' constructors, by loss name.
    """

    loss: str = 'kd'
    weight: float = 0.4
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def loss_options(self) -> dict[str, Any]:
        """The keyword arguments of the chosen loss (none given: ``{}``).

        Raises:
            ValueError: If a key of ``options`` is not a registered loss name,
                or its value is not a mapping.
        """
        names = available_kd_losses()
        for name, kwargs in self.options.items():
            if _normalise_name(name) not in names:
                raise ValueError(
                    f'kd.options has options for {name!r}, which is no registered '
                    f'KD loss; options are given per loss name: {", ".join(names)} '
                    '(e.g. options: {kd: {temperature: 3.0}})'
                )
            if not isinstance(kwargs, dict):
                raise ValueError(
                    f'kd.options.{name} must be a mapping of keyword arguments, got '
                    f'{kwargs!r}'
                )
        chosen = _normalise_name(self.loss)
        by_name = {_normalise_name(k): v for k, v in self.options.items()}
        return dict(by_name.get(chosen, {}))

    def build(self) -> DistillationLoss:
        """The loss module (see :func:`build_kd_loss`)."""
        return build_kd_loss(self.loss, **self.loss_options())
