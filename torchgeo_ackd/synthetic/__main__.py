"""Command line: ``python -m torchgeo_ackd.synthetic --root DIR [options]``."""

import argparse
import time
from collections.abc import Sequence

from .generate import PAPER_SIZE, generate_synthetic_benchmark, paper_counts
from .layouts import SYNTHETIC_CLASSES


def main(argv: Sequence[str] | None = None) -> int:
    """Generate (or reuse) a synthetic benchmark and print what was written.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status (0 on success).
    """
    parser = argparse.ArgumentParser(
        prog='python -m torchgeo_ackd.synthetic',
        description='Write a seeded synthetic MS -> RGB ACKD benchmark '
        '(ROOT/MS/<class>/*.tif, ROOT/RGB/<class>/*.jpg|png, ROOT/synthetic.json).',
    )
    parser.add_argument('--root', required=True, help='benchmark directory')
    parser.add_argument('--ms-per-class', type=int, default=100)
    parser.add_argument('--rgb-per-class', type=int, default=60)
    parser.add_argument('--ms-size', type=int, default=32, help='MS side (pixels)')
    parser.add_argument('--rgb-size', type=int, default=64, help='RGB side (pixels)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rgb-format', choices=('jpg', 'png'), default='jpg')
    parser.add_argument(
        '--mixed',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='scenes mix their class with a second land cover (default; '
        '--no-mixed: pure scenes, the control under which no method should gain)',
    )
    parser.add_argument(
        '--paper-size',
        type=float,
        metavar='FRACTION',
        help="a fraction of the paper's benchmark (1: 70,414 MS and 63,549 RGB "
        'images, 64 x 64; 0.1 for CPU runs): sets the counts and sizes',
    )
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace ROOT if it holds something else',
    )
    args = parser.parse_args(argv)
    if args.paper_size is not None:
        try:
            args.ms_per_class, args.rgb_per_class = paper_counts(args.paper_size)
        except ValueError as error:
            parser.error(f'--paper-size: {error}')
        args.ms_size = args.rgb_size = PAPER_SIZE

    start = time.perf_counter()
    try:
        root = generate_synthetic_benchmark(
            args.root,
            ms_per_class=args.ms_per_class,
            rgb_per_class=args.rgb_per_class,
            ms_size=args.ms_size,
            rgb_size=args.rgb_size,
            seed=args.seed,
            rgb_format=args.rgb_format,
            mixed=args.mixed,
            overwrite=args.overwrite,
        )
    except (FileExistsError, ValueError, TypeError) as error:
        parser.error(str(error))
    seconds = time.perf_counter() - start
    n_ms = sum(1 for _ in (root / 'MS').glob('*/*.tif'))
    n_rgb = sum(1 for _ in (root / 'RGB').glob(f'*/*.{args.rgb_format}'))
    print(
        f'{root}: {len(SYNTHETIC_CLASSES)} classes, {n_ms} MS GeoTIFFs '
        f'({args.ms_size}x{args.ms_size}x13, uint16) in {root / "MS"}, {n_rgb} RGB '
        f'{args.rgb_format.upper()}s ({args.rgb_size}x{args.rgb_size}x3, uint8) in '
        f'{root / "RGB"}, metadata in {root / "synthetic.json"} '
        f'({seconds:.2f} s)'
    )
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
