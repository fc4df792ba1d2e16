"""``torchgeo-ackd``: TorchGeo's CLI with the registered plugins loaded.

Importing a plugin's subpackages registers its DataModules and tasks as
subclasses of TorchGeo's base classes, so their SHORT class names
(``SyntheticACKDDataModule``, ``ACKDTask``) work in configs and on the command
line, next to TorchGeo's own.
"""

import importlib
import importlib.util
from importlib.metadata import entry_points

from lightning.pytorch.cli import ArgsType

#: Entry-point group under which packages register TorchGeo plugins.
ENTRY_POINT_GROUP = 'torchgeo_ackd.plugins'

# Subpackages of a plugin that hold classes the CLI should know by short name.
_SUBPACKAGES = ('datamodules', 'tasks', 'trainers', 'callbacks')


def load_plugins() -> list[str]:
    """Import every package registered under :data:`ENTRY_POINT_GROUP`.

    Returns:
        Names of the modules imported.
    """
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        module = ep.load()
        loaded.append(module.__name__)
        for sub in _SUBPACKAGES:
            name = f'{module.__name__}.{sub}'
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
                loaded.append(name)
    return loaded


def main(args: ArgsType = None) -> None:
    """Run TorchGeo's command-line interface with the plugins loaded.

    Args:
        args: Command-line arguments (default: ``sys.argv[1:]``).
    """
    import sys

    from .migrate import check_config_files

    check_config_files(list(args) if args is not None else sys.argv[1:])  # type: ignore[arg-type]
    load_plugins()
    from torchgeo.main import main as torchgeo_main

    torchgeo_main(args)
