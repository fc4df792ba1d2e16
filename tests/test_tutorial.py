"""The tutorial notebook runs from top to bottom on the shipped real mini set."""

import csv
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / 'docs' / 'tutorial.ipynb'


def test_tutorial_notebook_runs(
    real_mini: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: the data, and 2 batches per epoch.
    monkeypatch.setenv('ACKD_REAL_MINI', str(real_mini))
    monkeypatch.setenv('ACKD_TUTORIAL_BATCHES', '2')
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name='python3',
        resources={'metadata': {'path': str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    out = tmp_path / 'tutorial_output'
    with open(out / 'forest.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 100 and all(r['error'] == '' for r in rows)
    assert (out / 'student_export' / 'model.safetensors').is_file()
    # The committed notebook was executed: every code cell has its outputs.
    committed = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in committed.cells if c.cell_type == 'code']
    assert all(c.execution_count for c in code)
