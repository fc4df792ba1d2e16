"""One pipeline per output folder."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from torchgeo_ackd.pipeline.lock import LOCK_FILE, output_lock


def test_second_writer_is_refused_and_lock_released(tmp_path: Path) -> None:
    with output_lock(tmp_path):
        holder = json.loads((tmp_path / LOCK_FILE).read_text())
        assert holder['host'] == socket.gethostname()
        # Another process trying the same folder is refused, naming the holder.
        code = (
            'import sys; from pathlib import Path\n'
            'from torchgeo_ackd.pipeline.lock import output_lock\n'
            'try:\n'
            f'    with output_lock(Path({str(tmp_path)!r})): pass\n'
            'except RuntimeError as e:\n'
            '    print(e); sys.exit(3)\n'
        )
        run = subprocess.run(
            [sys.executable, '-c', code], capture_output=True, text=True, check=False
        )
        assert run.returncode == 3, run.stderr
        assert f'in use by another pipeline (PID {holder["pid"]}' in run.stdout
    assert not (tmp_path / LOCK_FILE).exists()  # released


def test_stale_lock_of_a_dead_process_is_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = subprocess.run(
        [sys.executable, '-c', 'import os; print(os.getpid())'],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    (tmp_path / LOCK_FILE).write_text(
        json.dumps({'pid': pid, 'host': socket.gethostname(), 'since': 0})
    )
    with output_lock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())['pid'] != pid
    assert f'taking over a stale lock (PID {pid}' in capsys.readouterr().out


def test_lock_of_another_host_is_not_taken(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text(
        json.dumps({'pid': 1, 'host': 'elsewhere', 'since': 0})
    )
    with pytest.raises(RuntimeError, match=r'PID 1 on elsewhere.*delete'):
        with output_lock(tmp_path):
            pass
    assert (tmp_path / LOCK_FILE).exists()  # left for its holder
