"""Results of a pipeline run: table (Markdown + CSV) and figures (PNG)."""

import csv
import math
import re
import statistics
from pathlib import Path

import numpy as np
import yaml
from matplotlib.figure import Figure

from ..datamodules import ACKDDataModule
from ..datasets import ACKDDataset, Pairing, plot_pairs
from ..datasets.pairing import PAIRING_PT
from ..io import atomic_open
from .classes import load_class
from .intervals import mean_interval, paired_difference
from .methods import LABELS
from .stages import StageResult

# Gains reported in the table: (method, reference method).
GAINS = (
    ('kd_sembridge', 'baseline'),
    ('kd_sembridge', 'kd'),
    ('dkd_sembridge', 'baseline'),
    ('dkd_sembridge', 'dkd'),
)


_RUN = re.compile(r'^(?P<method>.+?)_(?P<run>(?:fold\d+_)?seed\d+)$')


def run_key(name: str) -> tuple[str, str]:
    """Split a student stage name into its method and its run.

    Args:
        name: E.g. ``'kd_sembridge_fold2_seed1'`` or ``'baseline_seed0'``.

    Returns:
        ``(method, run)``, e.g. ``('kd_sembridge', 'fold2_seed1')``.
    """
    match = _RUN.match(name)
    if match is None:
        raise ValueError(
            f'student stage {name!r} is not named <method>_[fold<f>_]seed<s>'
        )
    return match['method'], match['run']


def _percent(runs: dict[str, StageResult], metric: str) -> dict[str, float]:
    return {k: 100 * r.metrics[metric] for k, r in runs.items()}


def summarise(
    results: list[StageResult], classes: tuple[str, ...]
) -> list[dict[str, object]]:
    """One row per method: OA and F1 with 95 % intervals over runs, paired gains.

    Gains over the baseline (and SemBridge's over its KD loss alone) are paired by run.

    Args:
        results: Student stage results (``<method>_[fold<f>_]seed<s>``).
        classes: Classes of the per-class accuracy columns.

    Returns:
        The rows, in the order the methods first appear.
    """
    by_method: dict[str, dict[str, StageResult]] = {}
    for r in results:
        method, run = run_key(r.name)
        by_method.setdefault(method, {})[run] = r
    rows: list[dict[str, object]] = []
    for method, runs in by_method.items():
        label = LABELS.get(method, method)
        row: dict[str, object] = dict(method=method, label=label, runs=len(runs))
        for key, metric in (('oa', 'test_OverallAccuracy'), ('f1', 'test_F1Score')):
            interval = mean_interval(list(_percent(runs, metric).values()))
            for part in ('mean', 'low', 'high', 'std'):
                row[f'{key}_{part}'] = getattr(interval, part)
        for reference in _references(method, by_method):
            gain = paired_difference(
                _percent(runs, 'test_OverallAccuracy'),
                _percent(by_method[reference], 'test_OverallAccuracy'),
            )
            row |= {
                f'oa_gain_vs_{reference}': gain.mean,
                f'oa_gain_vs_{reference}_low': gain.low,
                f'oa_gain_vs_{reference}_high': gain.high,
                f'oa_gain_vs_{reference}_runs': gain.n,
            }
        row['fit_seconds'] = statistics.mean(r.fit_seconds for r in runs.values())
        for c in classes:
            values = [
                r.metrics[f'test_accuracy_{c}']
                for r in runs.values()
                if f'test_accuracy_{c}' in r.metrics
            ]
            if values:
                row[f'acc_{c}'] = 100 * statistics.mean(values)
        rows.append(row)
    return rows


def _references(method: str, by_method: dict[str, dict[str, StageResult]]) -> list[str]:
    """The methods *method* is compared with: the baseline, and its KD alone."""
    wanted = ['baseline'] + [b for a, b in GAINS if a == method and b != 'baseline']
    return [b for b in wanted if b in by_method and b != method]


def _fmt(row: dict[str, object], key: str) -> str:
    """An accuracy (``oa``, ``f1``) as mean ± half-width, or a gain with its interval."""
    gain = key.startswith('oa_gain')
    names = (key if gain else f'{key}_mean', f'{key}_low', f'{key}_high')
    mean, low, high = (float(row[n]) for n in names)  # type: ignore[arg-type]
    if math.isnan(low):
        return f'{mean:+.2f}' if gain else f'{mean:.2f}'
    if gain:
        verdict = '' if low > 0 or high < 0 else ' (within noise)'
        return f'{mean:+.2f} [{low:+.2f}, {high:+.2f}]{verdict}'
    return f'{mean:.2f} ± {(high - low) / 2:.2f}'


def markdown_table(rows: list[dict[str, object]]) -> str:
    """The results table, with the paired gains below it."""
    lines = [
        '| method | runs | test OA (%) | test macro F1 (%) | OA gain vs baseline '
        '(paired, 95 % CI) | fit time (s) |',
        '|---|---|---|---|---|---|',
    ]
    for r in rows:
        gain = _fmt(r, 'oa_gain_vs_baseline') if 'oa_gain_vs_baseline' in r else '-'
        lines.append(
            f'| {r["label"]} | {r["runs"]} | {_fmt(r, "oa")} | '
            f'{_fmt(r, "f1")} | {gain} | {r["fit_seconds"]:.0f} |'
        )
    by = {str(r['method']): r for r in rows}
    gains = [
        f'- {LABELS[a]} vs {LABELS[b]}: OA {_fmt(by[a], f"oa_gain_vs_{b}")} points '
        f'over {by[a][f"oa_gain_vs_{b}_runs"]} paired runs'
        for a, b in GAINS
        if a in by and f'oa_gain_vs_{b}' in by[a]
    ]
    lines += [
        '',
        'Accuracy: mean ± half-width of the 95 % t-interval over runs (fold x seed). '
        'Gains: mean of the run-by-run differences [95 % interval]; '
        '"within noise" when the interval includes 0.',
    ]
    if gains:
        title = "SemBridge's gain (paired over identical folds and seeds):"
        lines += ['', title, '', *gains]
    return '\n'.join(lines) + '\n'


def teacher_summary(metrics: dict[str, float]) -> str:
    """One line on the teacher: its MS test accuracy and calibration.

    Args:
        metrics: The teacher stage's test metrics (TorchGeo names).

    Returns:
        E.g. ``'Teacher (MS test split): OA 90.35 %, expected calibration
        error 0.078'``.
    """
    parts = []
    if 'test_OverallAccuracy' in metrics:
        parts.append(f'OA {100 * metrics["test_OverallAccuracy"]:.2f} %')
    if 'test_CalibrationError' in metrics:
        parts.append(
            f'expected calibration error {metrics["test_CalibrationError"]:.3f}'
        )
    return f'Teacher (MS test split): {", ".join(parts) or "no test metrics"}'


def write_results(
    results: list[StageResult],
    directory: Path,
    dataset: type[ACKDDataset],
    out: Path,
    student_classes: list[str] | None = None,
    teacher_metrics: dict[str, float] | None = None,
) -> None:
    """Write results.md, results.csv and the figures, and print the table.

    Args:
        results: Student stage results.
        directory: Output folder of the results.
        dataset: Dataset class (class names, sensor).
        out: Pipeline output folder (to find the pairings).
        student_classes: Classes of the student's test set (default: all).
        teacher_metrics: The teacher stage's test metrics, summarised under the table.
    """
    directory.mkdir(parents=True, exist_ok=True)
    classes = tuple(student_classes or dataset.classes)
    rows = summarise(results, classes)
    table = markdown_table(rows)
    if teacher_metrics:
        table += f'\n{teacher_summary(teacher_metrics)}\n'
    with atomic_open(directory / 'results.md', 'w') as f:
        f.write(table)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_open(directory / 'results.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    _save(accuracy_figure(rows), directory / 'accuracy.png')
    _save(_per_class_figure(rows, classes), directory / 'per_class_accuracy.png')
    sembridge = sorted((out / 'students').glob('kd_sembridge_*seed*'))
    if sembridge and (figure := _pairs_figure(sembridge[0])) is not None:
        _save(figure, directory / 'matched_pairs.png')
    print('\n' + table)
    print(f'results written to {directory}/ (results.md, results.csv, *.png)')


def accuracy_figure(rows: list[dict[str, object]]) -> Figure:
    """Bars of each method's OA and macro F1 with their 95 % intervals.

    Args:
        rows: The results table's rows (``label``, ``oa_mean``, ``oa_high``,
            ``f1_mean``, ``f1_high``).

    Returns:
        The figure, at least 6 inches wide (for its title over one or two methods).
    """
    fig = Figure(figsize=(max(6.0, 1.6 * len(rows) + 2), 4))
    ax = fig.subplots()
    x = np.arange(len(rows))
    for offset, key, name in ((-0.2, 'oa', 'OA'), (0.2, 'f1', 'macro F1')):
        means = [float(r[f'{key}_mean']) for r in rows]  # type: ignore[arg-type]
        highs = [float(r[f'{key}_high']) for r in rows]  # type: ignore[arg-type]
        halves = [h - m for h, m in zip(highs, means, strict=True)]
        halves = [0.0 if math.isnan(h) else h for h in halves]
        ax.bar(x + offset, means, 0.4, yerr=halves, capsize=3, label=name)
    ax.set_xticks(x, [str(r['label']) for r in rows], rotation=20, ha='right')
    ax.set_ylabel('test %')
    low = min(float(r['f1_mean']) for r in rows)  # type: ignore[arg-type]
    ax.set_ylim(max(0, low - 15), 100)
    ax.legend()
    ax.set_title('Student accuracy per method\n(mean and 95 % interval over runs)')
    fig.tight_layout()
    return fig


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=120)


def _per_class_figure(
    rows: list[dict[str, object]], classes: tuple[str, ...]
) -> Figure:
    present = [c for c in classes if any(f'acc_{c}' in r for r in rows)]
    fig = Figure(figsize=(max(6, 1.1 * len(present) + 2), 4))
    ax = fig.subplots()
    width = 0.8 / max(1, len(rows))
    for i, r in enumerate(rows):
        values = [float(r.get(f'acc_{c}', np.nan)) for c in present]  # type: ignore[arg-type]
        ax.bar(
            np.arange(len(present)) + i * width, values, width, label=str(r['label'])
        )
    ax.set_xticks(
        np.arange(len(present)) + 0.4 - width / 2, present, rotation=30, ha='right'
    )
    ax.set_ylabel('test accuracy %')
    ax.legend(fontsize=7)
    ax.set_title('Per-class student accuracy')
    fig.tight_layout()
    return fig


def _pairs_figure(student_dir: Path, n: int = 6) -> Figure | None:
    """Students with their teacher before (SSM) and after the last re-matching."""
    initial = student_dir / 'pairing_initial' / PAIRING_PT
    if not initial.is_file():
        return None
    first = Pairing.read(initial)
    later = [Pairing.read(p) for p in student_dir.glob(f'pairing_epoch*/{PAIRING_PT}')]
    columns = [('SSM', first)]
    if later:
        last = max(later, key=lambda p: p.epoch if p.epoch is not None else -1)
        columns.append((f'after DynM epoch {last.epoch}', last))
    data = yaml.safe_load((student_dir / 'config.yaml').read_text())['data']
    dm = load_class(data['class_path'], ACKDDataModule)(**data['init_args'])
    return plot_pairs(dm.rgb_train, dm.gallery, columns, n)
