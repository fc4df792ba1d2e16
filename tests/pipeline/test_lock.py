"""One pipeline per output folder."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from torchgeo_ackd.pipeline import lock as lock_module
from torchgeo_ackd.pipeline.lock import HOLDER_FILE, output_lock

# The lock module alone, in a fresh interpreter (no torch to import).
_IMPORT = (
    'import importlib.util, sys, time; from pathlib import Path\n'
    f'spec = importlib.util.spec_from_file_location("lock", {lock_module.__file__!r})\n'
    'lock = importlib.util.module_from_spec(spec); spec.loader.exec_module(lock)\n'
)


def _other_process(out: Path) -> subprocess.CompletedProcess[str]:
    code = _IMPORT + (
        'try:\n'
        f'    with lock.output_lock(Path({str(out)!r})): print("held")\n'
        'except RuntimeError as e:\n'
        '    print(e); sys.exit(3)\n'
    )
    return subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_second_writer_is_refused_and_lock_released(tmp_path: Path) -> None:
    with output_lock(tmp_path):
        holder = json.loads((tmp_path / HOLDER_FILE).read_text())
        assert (holder['pid'], holder['host']) == (os.getpid(), socket.gethostname())
        run = _other_process(tmp_path)
        assert run.returncode == 3, run.stderr
        assert f'in use by another pipeline (PID {os.getpid()} on ' in run.stdout
        # Nor can the same process take it twice (a second run in a notebook).
        with pytest.raises(RuntimeError, match='in use by another pipeline'):
            with output_lock(tmp_path):
                pass
    assert not (tmp_path / HOLDER_FILE).exists()
    assert _other_process(tmp_path).stdout.strip() == 'held'  # released


def test_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    code = _IMPORT + (
        f'with lock.output_lock(Path({str(tmp_path)!r})):\n'
        '    print("held", flush=True); time.sleep(60)\n'
    )
    holder = subprocess.Popen(
        [sys.executable, '-c', code], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == 'held'
    assert _other_process(tmp_path).returncode == 3
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    # Its files are left behind, but the OS released the lock with the process.
    assert (tmp_path / HOLDER_FILE).exists()
    assert _other_process(tmp_path).stdout.strip() == 'held'


def test_racing_writers_never_both_hold_it(tmp_path: Path) -> None:
    code = _IMPORT + (
        'time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n'
        'try:\n'
        f'    with lock.output_lock(Path({str(tmp_path)!r})):\n'
        '        print("held", flush=True); time.sleep(1.0)\n'
        'except RuntimeError:\n'
        '    print("refused")\n'
    )
    import time

    for _ in range(5):
        start = str(time.time() + 1.5)
        racers = [
            subprocess.Popen(
                [sys.executable, '-c', code, start], stdout=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in racers)
        assert outcomes == ['held', 'refused', 'refused', 'refused']
