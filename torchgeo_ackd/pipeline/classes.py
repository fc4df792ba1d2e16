"""Classes named by their full path, as configs name them."""

import importlib
import sys
from typing import TypeVar

_T = TypeVar('_T')


def load_class(class_path: str, base: type[_T]) -> type[_T]:
    """The class a config's ``class_path`` names.

    Args:
        class_path: ``package.module.ClassName``.
        base: The class it must be (a subclass of).

    Returns:
        The class.

    Raises:
        ValueError: If the path names no class, or one of another kind.
    """
    module, _, name = class_path.rpartition('.')
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f'{class_path!r} names no class: {error}') from error
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f'{class_path!r} is not a subclass of {base.__name__}')
    return cls


def class_path(cls: type) -> str:
    """The path a config names a class by (its package's, where it exports it).

    Args:
        cls: The class.

    Returns:
        ``package.ClassName`` or ``package.module.ClassName``.
    """
    package = cls.__module__.rpartition('.')[0]
    if package and getattr(sys.modules.get(package), cls.__name__, None) is cls:
        return f'{package}.{cls.__name__}'
    return f'{cls.__module__}.{cls.__qualname__}'
