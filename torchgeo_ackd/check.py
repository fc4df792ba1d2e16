"""``python -m torchgeo_ackd.check ROOT``: check a benchmark's images, train nothing.

Runs :func:`~torchgeo_ackd.datasets.preflight.preflight` alone and prints every
problem with its file. Exit status 0 when all images pass, 1 otherwise.
"""

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .datasets.preflight import preflight
from .io import PreflightError
from .pipeline import resolve_benchmark


def main(argv: Sequence[str] | None = None) -> int:
    """Check the images of a benchmark root.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog='python -m torchgeo_ackd.check', description=__doc__.splitlines()[0]
    )
    parser.add_argument('root', type=Path, help='benchmark root (MS/ and RGB/)')
    parser.add_argument(
        '--datamodule', help='DataModule class path (default: chosen from ROOT)'
    )
    args = parser.parse_args(argv)
    bench = resolve_benchmark(args.root, args.datamodule)
    start = time.perf_counter()
    try:
        preflight(bench.dataset, args.root, ('ms', 'rgb'), bench.student_classes)
    except (PreflightError, ValueError) as err:
        print(err, file=sys.stderr)
        return 1
    print(f'{args.root}: all images pass ({time.perf_counter() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
