"""The benchmark scripts import as modules (they import one another by name)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / 'benchmarks'))
