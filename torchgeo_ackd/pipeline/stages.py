"""Run one pipeline stage as a real ``torchgeo fit`` + ``torchgeo test``, reusably.

A stage's folder holds its ``config.yaml``, checkpoints, logs and, once finished,
``done.json`` (config hash, fit time, test metrics). A matching stage is reused, an
interrupted one resumed from ``last.ckpt``, a changed one refused unless ``fresh``.
"""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..io import atomic_open, check_torch_file, crash_point, describe_changes


@dataclass
class StageResult:
    """What a finished stage reports.

    Attributes:
        name: Stage name.
        directory: Stage folder.
        fit_seconds: Wall time of ``torchgeo fit`` (0 when only tested).
        metrics: Test metrics (``test_OverallAccuracy``, ...).
        reused: Whether the stage was reused from an earlier run.
        run_id: Identifies this finished run (an input of the later stages).
    """

    name: str
    directory: Path
    fit_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    reused: bool = False
    run_id: str = ''


def config_hash(config: dict[str, Any]) -> str:
    """Stable hash of a config dict."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _torchgeo(command: str, config: Path, *extra: str, log: Path) -> float:
    """Run ``torchgeo COMMAND --config CONFIG`` in a subprocess; return its wall time."""
    args = [sys.executable, '-m', 'torchgeo', command, f'--config={config}', *extra]
    print(f'\n$ torchgeo {command} --config {config} {" ".join(extra)}', flush=True)
    start = time.perf_counter()
    with open(log, 'ab') as log_file:
        log_file.write(f'$ {" ".join(args)}\n'.encode())
        # Raw chunks to the terminal (progress bars keep their \r), all to the log.
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, 'PYTHONUNBUFFERED': '1'},
        )
        assert proc.stdout is not None
        while chunk := os.read(proc.stdout.fileno(), 4096):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            log_file.write(chunk)
        code = proc.wait()
    if code != 0:
        raise RuntimeError(f'torchgeo {command} failed (exit {code}); see {log}')
    return time.perf_counter() - start


def run_stage(
    name: str,
    config: dict[str, Any],
    directory: Path,
    fresh: bool = False,
    inputs: dict[str, str] | None = None,
    keep_last: bool = True,
) -> StageResult:
    """Fit and test one stage, or reuse/resume it.

    Sets the trainer's ``default_root_dir``, logger and checkpointing (``best.ckpt``,
    ``last.ckpt``) to *directory*.

    Args:
        name: Stage name, for messages.
        config: Full LightningCLI config (``model``, ``data``, ``trainer``).
        directory: The stage's folder.
        fresh: Delete an earlier run of this stage first.
        inputs: What the stage reads, ``{name: content hash}`` (data, split and
            pairing files, ``stage:<name>`` run ids), recorded in ``inputs.json``;
            a finished or interrupted run whose inputs differ is refused.
        keep_last: Keep ``last.ckpt`` once the stage is finished (only a resume
            reads it). False: delete it, with a message.

    Returns:
        The stage's result.

    Raises:
        RuntimeError: If a run fails, or an earlier run with another config
            or other inputs is in *directory* and *fresh* is not set.
    """
    config = _with_outputs(config, directory)
    digest = config_hash(config)
    done_file = directory / 'done.json'
    inputs = inputs or {}
    if fresh and directory.exists():
        shutil.rmtree(directory)
    if done_file.is_file():
        done = json.loads(done_file.read_text())
        if done['config_hash'] == digest:
            _check_inputs(name, directory, inputs)
            _check_checkpoint(name, directory / 'best.ckpt', 'its best checkpoint')
            print(f'[{name}] reusing the finished run in {directory}', flush=True)
            if not keep_last:
                _drop_last_checkpoint(name, directory)
            seconds, metrics = done['fit_seconds'], done['metrics']
            return StageResult(
                name, directory, seconds, metrics, True, done.get('run_id', '')
            )
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / 'config.yaml'
    resume = directory / 'last.ckpt'
    # Resume only a run whose config is known to be this one.
    same = config_file.is_file() and yaml.safe_load(config_file.read_text()) == config
    if not same and (resume.is_file() or done_file.is_file()):
        raise RuntimeError(
            f'[{name}] {directory} holds a run with another (or an unknown) config; '
            'pass --fresh to start over (nothing is overwritten otherwise)'
        )
    if resume.is_file():
        _check_inputs(name, directory, inputs)
    else:
        # A checkpoint left by an attempt killed before its last.ckpt would be
        # tested in place of this run's (Lightning names the new best-v1.ckpt).
        for stale in sorted(directory.glob('*.ckpt')):
            print(
                f'[{name}] removing {stale}: left by an interrupted run that '
                'cannot be resumed (no last.ckpt)',
                flush=True,
            )
            stale.unlink()
        with atomic_open(directory / 'inputs.json', 'w') as f:
            json.dump(inputs, f, indent=0, sort_keys=True)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    log = directory / 'stage.log'
    extra = [f'--ckpt_path={resume}'] if resume.is_file() else []
    if extra:
        _check_checkpoint(name, resume, 'the checkpoint to resume from')
        print(f'[{name}] resuming the interrupted run from {resume}', flush=True)
    # After a resume this counts the resumed part only.
    seconds = _torchgeo('fit', config_file, *extra, log=log)
    crash_point(str(directory / 'fit'))  # checkpoints written, not yet tested
    _check_checkpoint(name, directory / 'best.ckpt', 'the checkpoint to test')
    metrics_dir = directory / 'test'
    if metrics_dir.exists():
        shutil.rmtree(metrics_dir)
    _torchgeo(
        'test',
        config_file,
        f'--ckpt_path={directory / "best.ckpt"}',
        '--trainer.logger=lightning.pytorch.loggers.CSVLogger',
        f'--trainer.logger.save_dir={metrics_dir}',
        log=log,
    )
    metrics = read_test_metrics(metrics_dir)
    run_id = uuid.uuid4().hex
    done = {
        'config_hash': digest,
        'fit_seconds': seconds,
        'metrics': metrics,
        'run_id': run_id,
    }
    # Written last and atomically: a stage is finished exactly when it exists.
    with atomic_open(done_file, 'w') as f:
        json.dump(done, f, indent=1)
    if not keep_last:
        _drop_last_checkpoint(name, directory)
    return StageResult(name, directory, seconds, metrics, False, run_id)


def _drop_last_checkpoint(name: str, directory: Path) -> None:
    """Delete a finished stage's ``last.ckpt``: only a resume reads it."""
    last = directory / 'last.ckpt'
    if last.is_file():
        size = last.stat().st_size
        last.unlink()
        print(
            f'[{name}] finished: removed {last} ({size / 2**20:.0f} MiB; '
            'keep it with --keep-last-checkpoints)',
            flush=True,
        )


def _check_inputs(name: str, directory: Path, inputs: dict[str, str]) -> None:
    """Refuse to reuse or resume a run that was made from other inputs."""
    recorded_file = directory / 'inputs.json'
    try:
        recorded = json.loads(recorded_file.read_text())
    except (OSError, ValueError):
        recorded = None
    if recorded == inputs:
        return
    if recorded is None:
        what = f'no readable record of its inputs ({recorded_file})'
    else:
        recorded_files, input_files = (
            {k: v for k, v in d.items() if not k.startswith('stage:')}
            for d in (recorded, inputs)
        )
        files = describe_changes(recorded_files, input_files)
        stages = [
            k.removeprefix('stage:')
            for k in sorted(set(recorded) | set(inputs))
            if k.startswith('stage:') and recorded.get(k) != inputs.get(k)
        ]
        parts = [f'input files: {files}'] if files else []
        if stages:
            parts.append(f'retrained stage(s) it builds on: {", ".join(stages)}')
        what = '; '.join(parts)
    raise RuntimeError(
        f'[{name}] {directory} holds a run made from other inputs ({what}). It is '
        'not reused: pass --fresh to start every stage over, or choose a new --out'
    )


def _check_checkpoint(name: str, path: Path, what: str) -> None:
    """Refuse a broken checkpoint before LightningCLI or torch trip over it."""
    try:
        check_torch_file(path, f'[{name}] {what}')
    except (FileNotFoundError, ValueError) as err:
        raise RuntimeError(
            f'{err}. Delete {path.parent} to train this stage again (the other '
            'stages are kept), or pass --fresh to start every stage over'
        ) from err


def _with_outputs(config: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Point the config's outputs at *directory*."""
    config = json.loads(json.dumps(config))  # deep copy
    trainer = config.setdefault('trainer', {})
    trainer['default_root_dir'] = str(directory)
    trainer['logger'] = {
        'class_path': 'lightning.pytorch.loggers.TensorBoardLogger',
        'init_args': {'save_dir': str(directory), 'name': 'logs'},
    }
    # The stage's own checkpointing replaces the config's; other callbacks stay.
    others = [
        c
        for c in trainer.get('callbacks') or []
        if not str(c.get('class_path', '')).endswith('ModelCheckpoint')
    ]
    trainer['callbacks'] = [
        *others,
        {
            'class_path': 'lightning.pytorch.callbacks.ModelCheckpoint',
            'init_args': {
                'dirpath': str(directory),
                'filename': 'best',
                'monitor': 'val_loss',
                'mode': 'min',
                'save_last': True,
            },
        },
    ]
    return config


def read_test_metrics(directory: Path) -> dict[str, float]:
    """Read the test metrics that a CSV logger wrote under *directory*."""
    files = sorted(directory.rglob('metrics.csv'))
    if not files:
        raise RuntimeError(f'no metrics.csv under {directory}')
    with open(files[-1], newline='') as f:
        return {
            key: float(value)
            for row in csv.DictReader(f)
            for key, value in row.items()
            if key.startswith('test_') and value not in ('', None)
        }
