"""Results of a pipeline run: table (Markdown + CSV) and figures (PNG)."""

import csv
import re
import statistics
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import numpy as np
import rasterio
import torch
import yaml
from matplotlib import pyplot as plt
from PIL import Image

from ..datasets import ACKDDataset
from .methods import LABELS
from .stages import StageResult

# Gains reported in the table: (method, reference method).
GAINS = (
    ('kd_sembridge', 'baseline'),
    ('kd_sembridge', 'kd'),
    ('dkd_sembridge', 'baseline'),
    ('dkd_sembridge', 'dkd'),
)


def _method(result: StageResult) -> str:
    return re.sub(r'_seed\d+$', '', result.name)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(
    results: list[StageResult], classes: tuple[str, ...]
) -> list[dict[str, object]]:
    """One row per method: mean and std over seeds of OA, F1, time, per-class accuracy."""
    by_method: dict[str, list[StageResult]] = {}
    for r in results:
        by_method.setdefault(_method(r), []).append(r)
    rows: list[dict[str, object]] = []
    for method, runs in by_method.items():
        oa = _mean_std([100 * r.metrics['test_OverallAccuracy'] for r in runs])
        f1 = _mean_std([100 * r.metrics['test_F1Score'] for r in runs])
        row: dict[str, object] = {
            'method': method,
            'label': LABELS.get(method, method),
            'seeds': len(runs),
            'oa_mean': oa[0],
            'oa_std': oa[1],
            'f1_mean': f1[0],
            'f1_std': f1[1],
            'fit_seconds': statistics.mean(r.fit_seconds for r in runs),
        }
        for c in classes:
            key = f'test_accuracy_{c}'
            values = [r.metrics[key] for r in runs if key in r.metrics]
            if values:
                row[f'acc_{c}'] = 100 * statistics.mean(values)
        rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, object]]) -> str:
    """The results table, with SemBridge's gains below it."""
    lines = [
        '| method | seeds | test OA (%) | test macro F1 (%) | fit time (s) |',
        '|---|---|---|---|---|',
    ]
    for r in rows:
        lines.append(
            f'| {r["label"]} | {r["seeds"]} | {r["oa_mean"]:.2f} ± {r["oa_std"]:.2f} | '
            f'{r["f1_mean"]:.2f} ± {r["f1_std"]:.2f} | {r["fit_seconds"]:.0f} |'
        )
    by = {str(r['method']): r for r in rows}
    gains = [
        f'- {LABELS[a]} vs {LABELS[b]}: OA {float(by[a]["oa_mean"]) - float(by[b]["oa_mean"]):+.2f} '  # type: ignore[arg-type]
        f'points, F1 {float(by[a]["f1_mean"]) - float(by[b]["f1_mean"]):+.2f} points'  # type: ignore[arg-type]
        for a, b in GAINS
        if a in by and b in by
    ]
    if gains:
        lines += ['', "SemBridge's gain (difference of the means):", '', *gains]
    return '\n'.join(lines) + '\n'


def write_results(
    results: list[StageResult],
    directory: Path,
    dataset: type[ACKDDataset],
    out: Path,
    student_classes: list[str] | None = None,
) -> None:
    """Write results.md, results.csv and the figures, and print the table.

    Args:
        results: Student stage results.
        directory: Output folder of the results.
        dataset: Dataset class (class names, sensor).
        out: Pipeline output folder (to find the pairings).
        student_classes: Classes of the student's test set (default: all);
            teacher-only classes have no test images, so no accuracy.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rows = summarise(results, tuple(student_classes or dataset.classes))
    table = markdown_table(rows)
    (directory / 'results.md').write_text(table)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(directory / 'results.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    _accuracy_figure(rows, directory / 'accuracy.png')
    _per_class_figure(
        rows,
        tuple(student_classes or dataset.classes),
        directory / 'per_class_accuracy.png',
    )
    sembridge = sorted((out / 'students').glob('kd_sembridge_seed*'))
    if sembridge:
        _pairs_figure(sembridge[0], dataset, directory / 'matched_pairs.png')
    print('\n' + table)
    print(f'results written to {directory}/ (results.md, results.csv, *.png)')


def _accuracy_figure(rows: list[dict[str, object]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(1.6 * len(rows) + 2, 4))
    x = np.arange(len(rows))
    for offset, key, name in ((-0.2, 'oa', 'OA'), (0.2, 'f1', 'macro F1')):
        means = [float(r[f'{key}_mean']) for r in rows]  # type: ignore[arg-type]
        stds = [float(r[f'{key}_std']) for r in rows]  # type: ignore[arg-type]
        ax.bar(x + offset, means, 0.4, yerr=stds, capsize=3, label=name)
    ax.set_xticks(x, [str(r['label']) for r in rows], rotation=20, ha='right')
    ax.set_ylabel('test %')
    low = min(float(r['f1_mean']) for r in rows)  # type: ignore[arg-type]
    ax.set_ylim(max(0, low - 15), 100)
    ax.legend()
    ax.set_title('Student accuracy per method (mean ± std over seeds)')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _per_class_figure(
    rows: list[dict[str, object]], classes: tuple[str, ...], path: Path
) -> None:
    present = [c for c in classes if any(f'acc_{c}' in r for r in rows)]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(present) + 2), 4))
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
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _read_rgb(root: Path, file: str) -> np.ndarray:
    with Image.open(root / file) as img:
        return np.asarray(img.convert('RGB'), dtype=np.float32) / 255


def _read_pseudo_rgb(root: Path, file: str, dataset: type[ACKDDataset]) -> np.ndarray:
    with rasterio.open(root / file) as src:
        rgb = src.read([i + 1 for i in dataset.ms_sensor.rgb_indices]).astype(
            np.float32
        )
    top = np.percentile(rgb, 98) or 1.0
    return np.clip(rgb / top, 0, 1).transpose(1, 2, 0)


def _pairs_figure(
    student_dir: Path, dataset: type[ACKDDataset], path: Path, n: int = 6
) -> None:
    """Students with their teacher before (SSM) and after the last re-matching."""
    initial = student_dir / 'pairing_initial' / 'pairing.pt'
    later = sorted(
        student_dir.glob('pairing_epoch*/pairing.pt'),
        key=lambda p: int(p.parent.name[13:]),
    )
    if not initial.is_file():
        return
    config = yaml.safe_load((student_dir / 'config.yaml').read_text())
    root = Path(config['data']['init_args']['root'])
    first = torch.load(initial, weights_only=True)
    last = torch.load(later[-1], weights_only=True) if later else first
    students = np.linspace(0, len(first['pairing']) - 1, n).astype(int)
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), squeeze=False)
    last_name = (
        later[-1].parent.name.replace('pairing_', 'after DynM ') if later else 'no DynM'
    )
    for row, s in enumerate(students.tolist()):
        panels = (
            (_read_rgb(root, first['student_files'][s]), f'RGB student #{s}'),
            (
                _read_pseudo_rgb(
                    root, first['teacher_files'][int(first['pairing'][s])], dataset
                ),
                'teacher (SSM)',
            ),
            (
                _read_pseudo_rgb(
                    root, last['teacher_files'][int(last['pairing'][s])], dataset
                ),
                f'teacher ({last_name})',
            ),
        )
        for ax, (image, title) in zip(axes[row], panels, strict=True):
            ax.imshow(image)
            ax.set_title(title, fontsize=7)
            ax.axis('off')
    fig.suptitle('Matched pairs: student RGB | teacher pseudo-RGB', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
