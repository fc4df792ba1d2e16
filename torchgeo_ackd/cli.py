"""``torchgeo-ackd``: TorchGeo's CLI with the registered plugins loaded.

Importing a plugin's subpackages registers its classes, so their short names
(``SyntheticACKDDataModule``, ``ACKDTask``) work in configs and on the command line.
"""

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path

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


def _missing_checkpoint(args: list[str]) -> str | None:
    """The message for a ``--ckpt_path`` that does not exist, else None."""
    for i, arg in enumerate(args):
        path = None
        if arg.startswith('--ckpt_path='):
            path = arg.split('=', 1)[1]
        elif arg == '--ckpt_path' and i + 1 < len(args):
            path = args[i + 1]
        if path and path not in ('last', 'best', 'null') and not Path(path).exists():
            configs = [a.split('=', 1)[1] for a in args if a.startswith('--config=')]
            configs += [args[j + 1] for j, a in enumerate(args[:-1]) if a == '--config']
            config = f' --config {configs[0]}' if configs else ''
            return (
                f"checkpoint {path!r} does not exist: it is written by this stage's "
                f'fit; run torchgeo-ackd fit{config} first'
            )
    return None


def main(args: ArgsType = None) -> None:
    """Run TorchGeo's command-line interface with the plugins loaded.

    ``--version`` names this plugin's version and TorchGeo's. A missing output of
    an earlier stage (teacher weights, a pairing, a checkpoint) ends the command
    with a one-line message naming the stage to run, and exit status 2.
    ``export CKPT OUT`` writes a student alone, ``predict --ckpt_path CKPT
    --tiles TILES`` classifies unlabelled tiles (see :mod:`torchgeo_ackd.deploy`).

    Args:
        args: Command-line arguments (default: ``sys.argv[1:]``).
    """
    import torchgeo

    from . import __version__
    from .errors import MissingStageOutputError

    argv = [str(a) for a in (args if args is not None else sys.argv[1:])]  # type: ignore[union-attr]
    if argv and argv[0] in ('--version', '-V'):
        print(f'torchgeo-ackd {__version__} (torchgeo {torchgeo.__version__})')
        return
    if argv and (argv[0] == 'export' or (argv[0] == 'predict' and '--tiles' in argv)):
        _deploy(argv)
        return
    missing = _missing_checkpoint(argv)
    if missing is not None:
        print(f'torchgeo-ackd: {missing}', file=sys.stderr)
        raise SystemExit(2)
    load_plugins()
    from torchgeo.main import main as torchgeo_main

    try:
        torchgeo_main(args)
    except Exception as error:
        # jsonargparse wraps errors raised while it builds the model.
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, MissingStageOutputError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        print(f'torchgeo-ackd: {cause}', file=sys.stderr)
        raise SystemExit(2) from None


def _deploy(argv: list[str]) -> None:
    """Run ``export`` or ``predict --tiles``; a bad input ends with status 2."""
    from .deploy.commands import export_main, predict_main

    try:
        (export_main if argv[0] == 'export' else predict_main)(argv[1:])
    except (FileNotFoundError, ValueError) as error:
        print(f'torchgeo-ackd {argv[0]}: {error}', file=sys.stderr)
        raise SystemExit(2) from None
