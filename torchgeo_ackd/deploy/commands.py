"""``torchgeo-ackd export`` and ``torchgeo-ackd predict --tiles``."""

import argparse
import sys
from collections.abc import Sequence

from .export import export_student
from .predict import predict_tiles


def export_main(argv: Sequence[str]) -> None:
    """``torchgeo-ackd export CKPT OUT``: the student alone, for timm and TorchGeo.

    Args:
        argv: The arguments after ``export``.
    """
    parser = argparse.ArgumentParser(
        prog='torchgeo-ackd export', description=export_main.__doc__
    )
    parser.add_argument('checkpoint', help="the student stage's best.ckpt")
    parser.add_argument('out', help='output folder')
    args = parser.parse_args(argv)
    card = export_student(args.checkpoint, args.out)
    print(
        f'exported {card.model} ({len(card.classes)} classes) to {args.out}/: '
        "timm.create_model('local-dir:...', pretrained=True), torchgeo.ckpt for "
        "TorchGeo's ClassificationTask(weights=...), README.md"
    )


def predict_main(argv: Sequence[str]) -> None:
    """``torchgeo-ackd predict --ckpt_path CKPT --tiles TILES``: a CSV of classes.

    Args:
        argv: The arguments after ``predict``.
    """
    parser = argparse.ArgumentParser(
        prog='torchgeo-ackd predict', description=predict_main.__doc__
    )
    parser.add_argument('--ckpt_path', required=True, help="the student's best.ckpt")
    parser.add_argument(
        '--tiles',
        required=True,
        nargs='+',
        help='a folder, a .txt/.csv list, or GeoTIFF/JPEG/PNG files',
    )
    parser.add_argument('--output', default='predictions.csv', help='the CSV file')
    parser.add_argument('--batch_size', type=int, default=32)
    parser.add_argument('--num_workers', type=int, default=0)
    parser.add_argument('--accelerator', default='auto')
    args = parser.parse_args(argv)
    tiles = args.tiles[0] if len(args.tiles) == 1 else args.tiles
    dataset = predict_tiles(
        args.ckpt_path,
        tiles,
        args.output,
        args.batch_size,
        args.num_workers,
        args.accelerator,
    )
    print(f'{len(dataset)} tiles predicted -> {args.output}')
    for path, reason in dataset.problems.items():
        print(f'not predicted: {path}: {reason}', file=sys.stderr)
