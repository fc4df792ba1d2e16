"""``python -m torchgeo_ackd.pipeline``: teacher -> matcher -> students -> results."""

import argparse
from collections.abc import Sequence
from pathlib import Path

from .config import PipelineConfig
from .methods import DEFAULT_METHODS, METHODS
from .run import run_pipeline


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run the pipeline.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        prog='python -m torchgeo_ackd.pipeline',
        description='Run the ACKD pipeline (each stage a real torchgeo fit/test run; '
        'finished stages are reused, interrupted ones resumed).',
    )
    parser.add_argument(
        '--root',
        type=Path,
        help='benchmark root (default: generate the synthetic benchmark in data/synthetic)',
    )
    parser.add_argument(
        '--out',
        type=Path,
        default=Path('output'),
        help='output folder (default: output)',
    )
    parser.add_argument(
        '--datamodule', help='DataModule class path (default: from --root)'
    )
    parser.add_argument(
        '--methods',
        default=','.join(DEFAULT_METHODS),
        help=f'comma-separated, from: {", ".join(METHODS)}',
    )
    parser.add_argument(
        '--seeds', default='0', help='comma-separated student seeds (default: 0)'
    )
    parser.add_argument(
        '--single-seed-methods',
        default='',
        help='more methods, run with the first seed only (e.g. ablations)',
    )
    parser.add_argument(
        '--teacher-epochs',
        type=int,
        default=60,
        help='at most this many (early stopping on validation accuracy decides)',
    )
    parser.add_argument('--matcher-epochs', type=int, default=16)
    parser.add_argument('--student-epochs', type=int, default=12)
    parser.add_argument(
        '--dynm-epochs', default='4,8', help='re-matching epochs (default: 4,8)'
    )
    parser.add_argument(
        '--no-pretrained', action='store_true', help='train the teacher from scratch'
    )
    parser.add_argument(
        '--folds',
        type=int,
        default=1,
        help='K >= 3: stratified K-fold evaluation over the RGB images, every '
        'method on every fold and seed, with paired intervals (default: 1, the '
        'single default split)',
    )
    for stage, conf in (
        ('teacher', 'conf/teacher.yaml; another than resnet18 needs --no-pretrained'),
        ('matcher', 'both encoders; conf/matcher.yaml'),
        ('student', 'every RGB student; conf/ackd.yaml'),
    ):
        parser.add_argument(
            f'--{stage}-model',
            metavar='TIMM_NAME',
            help=f'the {stage} architecture, a timm model name (default: {conf})',
        )
    parser.add_argument(
        '--download',
        action='store_true',
        help='first download the benchmark into --root with TorchGeo (a '
        'downloadable --datamodule, e.g. EuroSATUCMercedDataModule)',
    )
    parser.add_argument('--fresh', action='store_true', help='start every stage over')
    parser.add_argument(
        '--keep-last-checkpoints',
        action='store_true',
        help="keep each finished student's last.ckpt (default: deleted once the "
        'student is finished; only a resume reads it)',
    )
    args = parser.parse_args(argv)
    config = PipelineConfig(
        root=args.root,
        out=args.out,
        datamodule=args.datamodule,
        download=args.download,
        methods=[m for m in args.methods.split(',') if m],
        seeds=[int(s) for s in args.seeds.split(',') if s],
        single_seed_methods=[m for m in args.single_seed_methods.split(',') if m],
        teacher_epochs=args.teacher_epochs,
        matcher_epochs=args.matcher_epochs,
        student_epochs=args.student_epochs,
        dynm_epochs=[int(e) for e in args.dynm_epochs.split(',') if e],
        use_pretrained=not args.no_pretrained,
        fresh=args.fresh,
        folds=args.folds,
        teacher_model=args.teacher_model,
        matcher_model=args.matcher_model,
        student_model=args.student_model,
        keep_last_checkpoints=args.keep_last_checkpoints,
    )
    run_pipeline(config)


if __name__ == '__main__':
    main()
