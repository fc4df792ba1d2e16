import importlib.util
import sys
from pathlib import Path

import pytest
import torch

# Small test models are fastest single-threaded; 2 xdist workers share 2 cores.
torch.set_num_threads(1)

TESTS = Path(__file__).parent
REAL_MINI = TESTS.parent.parent / 'shared' / 'data' / 'ackd-real-mini'

# The fake-data generator sits beside the fixtures, as in TorchGeo.
_spec = importlib.util.spec_from_file_location(
    'ackd_fake_data', TESTS / 'data' / 'ackd' / 'data.py'
)
assert _spec is not None and _spec.loader is not None
fake_data = importlib.util.module_from_spec(_spec)
sys.modules['ackd_fake_data'] = fake_data
_spec.loader.exec_module(fake_data)


@pytest.fixture
def real_mini() -> Path:
    """The shared real-imagery mini benchmark; skips when it is absent."""
    if not (REAL_MINI / 'MS').is_dir():
        pytest.skip(f'real benchmark not found at {REAL_MINI}')
    return REAL_MINI
