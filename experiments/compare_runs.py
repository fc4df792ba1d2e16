"""Compare student runs of different pipeline output folders, paired by run.

The pipeline pairs methods within one output folder. A setting that changes
a shared stage (another matcher, say) needs another folder, with the same
teacher, folds and seeds; this script reads the finished students' test
metrics (``done.json``) from any folders and pairs them by run
(``[fold<f>_]seed<s>``)::

    python experiments/compare_runs.py \\
        baseline=output/rm/students:baseline \\
        sembridge=output/rm/students:kd_sembridge \\
        sembridge_t16=output/rm-t16/students:kd_sembridge \\
        --against baseline,sembridge

Each ``LABEL=FOLDER:METHOD`` takes the runs ``FOLDER/METHOD_<run>`` that
have finished (``--seeds`` keeps those of some seeds). Printed per label:
the test OA (%) with its 95 % interval over runs, and the paired difference
to each ``--against`` label.
``--validation`` compares validation OA instead: each run's
``val_OverallAccuracy`` at its selected checkpoint (the epoch of the lowest
``val_loss``, the first on a tie, as the pipeline's checkpointing keeps),
read from the run's TensorBoard logs: what options may be chosen on.
"""

import argparse
import json
from pathlib import Path

from dynm_diagnosis import curve, selected_epoch
from fresh_test import comparisons

from torchgeo_ackd.pipeline.results import run_key


def validation_accuracy(run: Path) -> float:
    """Validation OA (%) of a run at the epoch of its lowest validation loss.

    Args:
        run: A student run folder (TensorBoard logs under ``logs/``).

    Returns:
        ``val_OverallAccuracy`` at :func:`dynm_diagnosis.selected_epoch`.

    Raises:
        FileNotFoundError: If the run has no TensorBoard logs.
    """
    values = curve(run)
    return 100 * values['val_OverallAccuracy'][selected_epoch(values['val_loss'])]


def finished_runs(
    students: Path,
    method: str,
    seeds: set[int] | None = None,
    validation: bool = False,
) -> dict[str, float]:
    """Test (or validation) OA (%) of every finished run of *method*.

    Args:
        students: A pipeline's ``students`` folder.
        method: Method name, e.g. ``'kd_sembridge'``.
        seeds: Only the runs of these seeds (``None``: every seed).
        validation: Validation OA (:func:`validation_accuracy`) instead of
            the test OA of ``done.json``.

    Returns:
        ``{run: OA}``, e.g. ``{'fold0_seed1': 87.5}``.

    Raises:
        FileNotFoundError: If no run of *method* has finished there.
    """
    scores = {}
    for run in sorted(students.iterdir()):
        done = run / 'done.json'
        if not done.is_file():
            continue
        try:
            found, key = run_key(run.name)
        except ValueError:
            continue
        if found == method and (
            seeds is None or int(key.rsplit('seed', 1)[1]) in seeds
        ):
            if validation:
                scores[key] = validation_accuracy(run)
            else:
                metrics = json.loads(done.read_text())['metrics']
                scores[key] = 100 * metrics['test_OverallAccuracy']
    if not scores:
        raise FileNotFoundError(f'no finished run of {method!r} in {str(students)!r}')
    return scores


def parse_spec(spec: str) -> tuple[str, Path, str]:
    """Split ``LABEL=FOLDER:METHOD``.

    Raises:
        ValueError: If *spec* does not have that form.
    """
    label, _, rest = spec.partition('=')
    folder, _, method = rest.rpartition(':')
    if not (label and folder and method):
        raise ValueError(f'{spec!r}: expected LABEL=FOLDER:METHOD')
    return label, Path(folder), method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', help='LABEL=FOLDER:METHOD')
    parser.add_argument(
        '--against',
        required=True,
        help='comma-separated labels every label is compared with, paired by run',
    )
    parser.add_argument(
        '--seeds', help='comma-separated: only the runs of these seeds (default: all)'
    )
    parser.add_argument(
        '--validation',
        action='store_true',
        help='validation OA at the selected checkpoint instead of test OA',
    )
    args = parser.parse_args()
    seeds = {int(x) for x in args.seeds.split(',')} if args.seeds else None
    specs = [parse_spec(s) for s in args.runs]
    against = args.against.split(',')
    labels = [label for label, _, _ in specs]
    if len(set(labels)) < len(labels):
        parser.error(f'every label must be given once, got {labels}')
    if unknown := [a for a in against if a not in labels]:
        parser.error(f'--against {unknown} are not among the labels {labels}')
    scores = {
        label: finished_runs(folder, method, seeds, args.validation)
        for label, folder, method in specs
    }
    for line in comparisons(scores, against, over='runs').values():
        print(line)


if __name__ == '__main__':
    main()
