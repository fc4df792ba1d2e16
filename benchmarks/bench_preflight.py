"""Time the image preflight: cold (no cache) and warm, on a benchmark root.

    .venv/bin/python benchmarks/bench_preflight.py --root ../shared/data/ackd-real-mini
    .venv/bin/python benchmarks/bench_preflight.py --generate output/bench-10x \\
        --ms-per-class 583 --rgb-per-class 583   # 11,660 images: 10x ackd-real-mini

Prints the number of images, the cold time (every file read and hashed, cache
in a fresh temporary folder) and the warm time (a new process's view: the
in-memory cache cleared, the cache file read).
"""

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from torchgeo_ackd.datasets.preflight import preflight
from torchgeo_ackd.io import files as files_module
from torchgeo_ackd.pipeline import resolve_benchmark
from torchgeo_ackd.synthetic import generate_synthetic_benchmark


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path)
    parser.add_argument('--generate', type=Path, help='write a synthetic root here')
    parser.add_argument('--ms-per-class', type=int, default=583)
    parser.add_argument('--rgb-per-class', type=int, default=583)
    args = parser.parse_args(argv)
    root = args.root
    if args.generate is not None:
        root = generate_synthetic_benchmark(
            args.generate,
            ms_per_class=args.ms_per_class,
            rgb_per_class=args.rgb_per_class,
        )
    bench = resolve_benchmark(root, None)
    os.environ['TORCHGEO_ACKD_CACHE'] = tempfile.mkdtemp(prefix='preflight-bench-')
    for label in ('cold', 'warm'):
        files_module._CACHE.clear()
        start = time.perf_counter()
        preflight(bench.dataset, root, ('ms', 'rgb'), bench.student_classes)
        seconds = time.perf_counter() - start
        n = len(files_module._CACHE)
        print(f'{root}: {n} images, preflight {label}: {seconds:.2f} s')


if __name__ == '__main__':
    main()
