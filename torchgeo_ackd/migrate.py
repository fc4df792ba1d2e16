"""Move a student or matcher config of an earlier version to the current layout.

SemBridge's parts now live where they act: SSM is the datamodule's
``pairing_file``, DynM the :class:`~torchgeo_ackd.callbacks.DynamicMatching`
callback, SKA the task's ``ska`` group; the teacher and the KD loss are the
task's ``teacher`` and ``kd`` groups. The matcher's initial pairing is the
:class:`~torchgeo_ackd.callbacks.InitialPairing` callback. A config that still sets
the moved ``ACKDTask`` or ``MatcherTask`` options is refused by the CLI (``torchgeo-ackd`` and plain
``torchgeo``) with what to write instead, and
``python -m torchgeo_ackd.migrate OLD.yaml`` writes the new one::

    python -m torchgeo_ackd.migrate conf/old.yaml > conf/new.yaml
"""

import argparse
import copy
import itertools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

DYNAMIC_MATCHING = 'torchgeo_ackd.callbacks.DynamicMatching'
INITIAL_PAIRING = 'torchgeo_ackd.callbacks.InitialPairing'

#: Moved ACKDTask option -> where it is now.
MOVED = {
    'sembridge': 'false: data.init_args.pairing_file: null, DynamicMatching '
    'epochs: [] and model.init_args.use_ot1/use_ot2: false; true: nothing',
    'ssm': 'false: data.init_args.pairing_file: null (random same-class pairs)',
    'dynm': 'false: the DynamicMatching callback with epochs: []',
    'pairing_file': 'data.init_args.pairing_file',
    'matcher_checkpoint': "data.init_args.pairing_file: the matcher stage's "
    'pairing.pt (written beside its checkpoint)',
    'dynm_epochs': 'DynamicMatching init_args.epochs',
    'dynm_e0': 'DynamicMatching init_args.e0',
    'dynm_delta_e': 'DynamicMatching init_args.delta_e',
    'dynm_e_mu': 'DynamicMatching init_args.e_mu',
    'dynm_num_matchings': 'DynamicMatching init_args.num_matchings',
    'dynm_temperature': 'DynamicMatching init_args.temperature',
    'matching_chunk_size': 'DynamicMatching init_args.chunk_size',
    'log_pairs': 'DynamicMatching init_args.log_pairs',
    'pairing_dir': 'DynamicMatching init_args.output_dir',
}
#: Moved MatcherTask option -> where it is now.
MOVED_MATCHER = {
    'write_pairing': 'true: the InitialPairing callback in trainer.callbacks; '
    'false: leave the callback out',
    'pairing_dir': 'InitialPairing init_args.output_dir',
    'pairing_capacity': 'InitialPairing init_args.capacity',
    'adapt_batchnorm': 'InitialPairing init_args.adapt_batchnorm',
    'pairing_chunk_size': 'model.init_args.retrieval_chunk_size and '
    'InitialPairing init_args.chunk_size',
}
_PAIRING_ARGS = {
    'pairing_dir': 'output_dir',
    'pairing_capacity': 'capacity',
    'adapt_batchnorm': 'adapt_batchnorm',
}
#: Flat ACKDTask option -> (its group, its name there).
GROUPED = {
    'teacher_in_channels': ('teacher', 'in_channels'),
    'teacher_weights': ('teacher', 'weights'),
    'teacher_multilabel': ('teacher', 'multilabel'),
    'kd_kwargs': ('kd', 'options'),
    'w_kd': ('kd', 'weight'),
    'use_ot1': ('ska', 'use_ot1'),
    'use_ot2': ('ska', 'use_ot2'),
    'w_ot': ('ska', 'weight'),
    'planner_dim': ('ska', 'dim'),
    'planner_heads': ('ska', 'heads'),
}
#: Options that were a name and are now a group: option -> the name's place.
BECAME_GROUP = {'teacher': 'model', 'kd': 'loss'}
#: Moved KD-loss option (in kd_kwargs) -> where it is now.
MOVED_KD = {
    'weight': 'model.init_args.kd.weight (multiply it by the weight)',
    'multilabel_teacher': 'model.init_args.teacher.multilabel',
}
_CALLBACK_ARGS = {
    'dynm_epochs': 'epochs',
    'dynm_e0': 'e0',
    'dynm_delta_e': 'delta_e',
    'dynm_e_mu': 'e_mu',
    'dynm_num_matchings': 'num_matchings',
    'dynm_temperature': 'temperature',
    'matching_chunk_size': 'chunk_size',
    'log_pairs': 'log_pairs',
    'pairing_dir': 'output_dir',
}


def _model_args(config: dict[str, Any], task: str = 'ACKDTask') -> dict[str, Any]:
    model = config.get('model')
    if not isinstance(model, dict) or not str(model.get('class_path', '')).endswith(
        task
    ):
        return {}
    args = model.get('init_args')
    return args if isinstance(args, dict) else {}


def _callbacks(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The trainer's callback list of a config (created if absent)."""
    trainer = config.setdefault('trainer', {})
    callbacks = trainer.get('callbacks') or []
    if isinstance(callbacks, dict):
        callbacks = [callbacks]
    trainer['callbacks'] = callbacks
    return callbacks  # type: ignore[no-any-return]


def _migrate_matcher(config: dict[str, Any]) -> None:
    """Move a MatcherTask config's pairing options to InitialPairing (in place)."""
    args = _model_args(config, 'MatcherTask')
    if not any(k in args for k in MOVED_MATCHER):
        return
    callbacks = _callbacks(config)
    pairing = next(
        (c for c in callbacks if c.get('class_path') == INITIAL_PAIRING), None
    )
    if args.pop('write_pairing', True) is False:
        for key in _PAIRING_ARGS:
            args.pop(key, None)
        if pairing is not None:
            callbacks.remove(pairing)
        pairing = None
    elif pairing is None:
        pairing = {'class_path': INITIAL_PAIRING, 'init_args': {}}
        callbacks.insert(0, pairing)
    chunk = args.pop('pairing_chunk_size', None)
    if chunk is not None:
        args['retrieval_chunk_size'] = chunk
    if pairing is None:
        return
    pairing_args = pairing.setdefault('init_args', {})
    for old, new in _PAIRING_ARGS.items():
        if old in args:
            pairing_args[new] = args.pop(old)
    if chunk is not None:
        pairing_args['chunk_size'] = chunk


def moved_options(config: dict[str, Any]) -> list[str]:
    """Every moved option a config sets, each with what to write instead.

    Args:
        config: A LightningCLI config (``model``, ``data``, ``trainer``).

    Returns:
        One line per moved option (empty for a current config).
    """
    matcher = _model_args(config, 'MatcherTask')
    lines = [
        f'model.init_args.{k} -> {v}' for k, v in MOVED_MATCHER.items() if k in matcher
    ]
    args = _model_args(config)
    lines += [f'model.init_args.{k} -> {v}' for k, v in MOVED.items() if k in args]
    lines += [
        f'model.init_args.{k} -> model.init_args.{group}.{name}'
        for k, (group, name) in GROUPED.items()
        if k in args
    ]
    lines += [
        f'model.init_args.{k}: {args[k]} -> model.init_args.{k}.{name}: {args[k]}'
        for k, name in BECAME_GROUP.items()
        if isinstance(args.get(k), str)
    ]
    kd_kwargs = args.get('kd_kwargs') or {}
    lines += [
        f'model.init_args.kd_kwargs.{k} -> {v}'
        for k, v in MOVED_KD.items()
        if isinstance(kd_kwargs, dict) and k in kd_kwargs
    ]
    return lines


def migrate(config: dict[str, Any]) -> dict[str, Any]:
    """The same config in the current layout (the input is not changed).

    Args:
        config: A LightningCLI config of an earlier version.

    Returns:
        The config with every moved option in its new place.
    """
    config = copy.deepcopy(config)
    _migrate_matcher(config)
    args = _model_args(config)
    if not moved_options(config):
        return config
    data = config.setdefault('data', {}).setdefault('init_args', {})
    callbacks = _callbacks(config)
    dynm = next((c for c in callbacks if c.get('class_path') == DYNAMIC_MATCHING), None)
    if dynm is None:
        dynm = {'class_path': DYNAMIC_MATCHING, 'init_args': {}}
        callbacks.append(dynm)
    dynm_args = dynm.setdefault('init_args', {})
    for old, new in _CALLBACK_ARGS.items():
        if old in args:
            dynm_args[new] = args.pop(old)
    sembridge = args.pop('sembridge', True)
    if args.pop('dynm', True) is False or sembridge is False:
        dynm_args['epochs'] = []
    if 'pairing_file' in args:
        data['pairing_file'] = args.pop('pairing_file')
    checkpoint = args.pop('matcher_checkpoint', None)
    if checkpoint and not data.get('pairing_file'):
        data['pairing_file'] = str(Path(checkpoint).parent / 'pairing.pt')
    if args.pop('ssm', True) is False or sembridge is False:
        data['pairing_file'] = None
    if sembridge is False:
        args['use_ot1'] = args['use_ot2'] = False
    kd_kwargs = args.get('kd_kwargs')
    if isinstance(kd_kwargs, dict):
        if 'weight' in kd_kwargs:
            args['w_kd'] = float(args.get('w_kd', 0.4)) * float(kd_kwargs.pop('weight'))
        if 'multilabel_teacher' in kd_kwargs:
            args['teacher_multilabel'] = kd_kwargs.pop('multilabel_teacher')
        # kd.options are given per loss name now.
        loss = args.get('kd') if isinstance(args.get('kd'), str) else 'kd'
        args['kd_kwargs'] = {loss: kd_kwargs} if kd_kwargs else {}
    for old, name in BECAME_GROUP.items():
        if isinstance(args.get(old), str):
            args[old] = {name: args[old]}
    for old, (group, name) in GROUPED.items():
        if old in args:
            value = args.pop(old)
            args.setdefault(group, {})[name] = {} if value is None else value
    return config


def check_config_files(argv: Sequence[str], base: Path | None = None) -> None:
    """Refuse ``--config`` files that set moved options, saying what to write.

    Args:
        argv: Command-line arguments of the CLI.
        base: Folder that relative config paths are relative to, tried before
            the current one.

    Raises:
        SystemExit: If a config sets a moved option.
    """
    paths = [a.split('=', 1)[1] for a in argv if a.startswith('--config=')]
    paths += [b for a, b in itertools.pairwise(argv) if a in ('--config', '-c')]
    for path in paths:
        folders = [base] if base is not None else []
        file = next(
            (f for f in (d / path for d in [*folders, Path.cwd()]) if f.is_file()),
            None,
        )
        if file is None:
            continue  # the CLI names it
        config = yaml.safe_load(file.read_text())
        lines = moved_options(config) if isinstance(config, dict) else []
        if lines:
            raise SystemExit(
                f'{path}: options of an earlier torchgeo-ackd version:\n  '
                + '\n  '.join(lines)
                + f'\nwrite them there, or run: python -m torchgeo_ackd.migrate {path}'
            )


def check_torchgeo_command_line() -> None:
    """Under TorchGeo's own CLI, refuse configs that set moved options.

    ``torchgeo fit --config old.yaml`` imports this package while jsonargparse
    resolves ``class_path: torchgeo_ackd.tasks.ACKDTask``, before it validates
    the options; called from there, this gives the message of
    :func:`check_config_files` instead of jsonargparse's "Unable to load
    config". Anything else that imports the package is left alone.

    Raises:
        SystemExit: If the program is ``torchgeo`` (the console script or
            ``python -m torchgeo``) and a ``--config`` sets a moved option.
    """
    main_module = sys.modules.get('__main__')
    spec = getattr(main_module, '__spec__', None)
    program = Path(sys.argv[0]).name if sys.argv else ''
    if program == 'torchgeo' or getattr(spec, 'name', None) == 'torchgeo.__main__':
        # jsonargparse parses a config inside the config's folder: a relative
        # path is relative to the folder the command started in.
        check_config_files(sys.argv[1:], Path(os.environ.get('PWD', os.curdir)))


def main(argv: Sequence[str] | None = None) -> int:
    """Print (or write) the migrated config.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog='python -m torchgeo_ackd.migrate', description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        'config', type=Path, help='a student or matcher config of an earlier version'
    )
    parser.add_argument('--output', type=Path, help='write here (default: stdout)')
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    for line in moved_options(config):
        print(f'moved {line}', file=sys.stderr)
    text = yaml.safe_dump(migrate(config), sort_keys=False)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
