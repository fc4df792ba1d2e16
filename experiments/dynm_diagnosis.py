"""Where does a method's run-to-run variance come from? Read a pipeline's runs.

For every student run of a pipeline output folder (``OUT/students/*``), from
its own logs and files only:

* the validation curve (TensorBoard): validation OA at the checkpoint the
  pipeline tests (lowest validation loss), at the last epoch, the mean of the
  last 4 epochs, and the epoch-to-epoch change over the last 6 epochs;
* the test OA (``done.json``);
* for every pairing the run used (``pairing_initial``, ``pairing_epoch<N>``):
  distinct teachers, the largest number of students on one teacher, and what
  the matched teachers' soft labels say (entropy at the KD temperature, the
  probability of the pair's class, the share the teacher gets wrong), with the
  teacher of the run applied to the run's MS gallery.

Prints one line per run and, per method, the means over runs, so the rules
can be compared on VALIDATION numbers (``val_*``) before any test number is
looked at::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/dynm_diagnosis.py output/real-mini-5fold
"""

import argparse
import itertools
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
import yaml
from jsonargparse import ArgumentParser
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from torchgeo_ackd.datamodules import ACKDDataModule
from torchgeo_ackd.datasets import Pairing
from torchgeo_ackd.matching import compute_embeddings, eval_mode, matched_teachers
from torchgeo_ackd.pipeline.intervals import paired_difference
from torchgeo_ackd.tasks import ACKDTask

RUN = re.compile(r'(?P<method>.+?)_(?:fold(?P<fold>\d+)_)?seed(?P<seed>\d+)$')


def curve(run: Path) -> dict[str, list[float]]:
    """Per-epoch validation loss and OA of a run (TensorBoard, in epoch order).

    Raises:
        FileNotFoundError: If the run has no TensorBoard logs.
    """
    versions = sorted((run / 'logs').glob('version_*'))
    if not versions:
        raise FileNotFoundError(f'no TensorBoard logs in {str(run / "logs")!r}')
    acc = EventAccumulator(str(versions[-1]))
    acc.Reload()
    tags = acc.Tags()['scalars']
    out = {}
    for tag in ('val_loss', 'val_OverallAccuracy', 'train_kd'):
        if tag in tags:
            out[tag] = [e.value for e in sorted(acc.Scalars(tag), key=lambda e: e.step)]
    return out


def selected_epoch(val_loss: list[float]) -> int:
    """The epoch whose checkpoint the pipeline tests: the lowest validation loss.

    The first such epoch on a tie, as the checkpointing keeps (it replaces
    its best only on a strictly lower loss).
    """
    return min(range(len(val_loss)), key=val_loss.__getitem__)


def build(config: dict[str, Any]) -> tuple[ACKDTask, ACKDDataModule]:
    """The run's task and datamodule, from its ``config.yaml``."""
    parser = ArgumentParser()
    parser.add_argument('--model', type=ACKDTask)
    parser.add_argument('--data', type=ACKDDataModule)
    cfg = parser.parse_object({'model': config['model'], 'data': config['data']})
    init = parser.instantiate_classes(cfg)
    task, dm = init.model, init.data
    task.configure_models()
    dm.setup('fit')
    return task, dm


_GALLERY: dict[str, torch.Tensor] = {}


def gallery_logits(task: ACKDTask, dm: ACKDDataModule, key: str) -> torch.Tensor:
    """(N_t, K) logits of the run's teacher on its MS gallery (cached by *key*)."""
    if key not in _GALLERY:
        gallery = dm.ms_train
        task.teacher.adapt_input(gallery.bands, *dm.statistics('ms'))
        with eval_mode(task.teacher), torch.no_grad():
            _GALLERY[key] = compute_embeddings(
                lambda image: task.teacher(image).logits,
                dm.gallery_dataloader(),
                num_samples=len(gallery),
                key='image_ms',
                device=torch.device('cpu'),
                transform=dm.preprocess,
            ).float()
    return _GALLERY[key]


def describe(run: Path) -> dict[str, Any]:
    """One run's validation curve, test OA and matched-teacher statistics."""
    match = RUN.match(run.name)
    assert match, run
    row: dict[str, Any] = {
        'method': match['method'],
        'fold': int(match['fold'] or 0),
        'seed': int(match['seed']),
    }
    done = json.loads((run / 'done.json').read_text())
    row['test_oa'] = 100 * done['metrics']['test_OverallAccuracy']
    c = curve(run)
    loss, oa = c['val_loss'], [100 * v for v in c['val_OverallAccuracy']]
    best = selected_epoch(loss)
    row['val_curve'] = oa
    row |= {
        'best_epoch': best,
        'val_oa_best': oa[best],
        'val_oa_last': oa[-1],
        'val_oa_last4': statistics.mean(oa[-4:]),
        'val_jitter': statistics.mean(
            abs(a - b) for a, b in itertools.pairwise(oa[-6:])
        ),
    }
    if 'train_kd' in c:
        row['train_kd_last'] = c['train_kd'][-1]
    pairings = sorted(
        run.glob('pairing_*/pairing.pt'),
        key=lambda p: (p.parent.name != 'pairing_initial', p.parent.name),
    )
    config = yaml.safe_load((run / 'config.yaml').read_text())
    uses_teacher = config['model']['init_args']['kd']['loss'] != 'none'
    if pairings and uses_teacher:
        task, dm = build(config)
        temperature = float(
            config['model']['init_args']['kd']['options']
            .get('kd', {})
            .get('temperature', 3.0)
        )
        split = str(config['data']['init_args'].get('split_file'))
        logits = gallery_logits(task, dm, split)
        for file in pairings:
            pairing = Pairing.load(file, dm.rgb_train, dm.ms_train)
            stats = matched_teachers(
                logits, dm.ms_train.targets, pairing.teacher_index, temperature
            )
            name = file.parent.name.removeprefix('pairing_')
            row[f'{name}_teachers'] = pairing.distinct_teachers()
            row[f'{name}_max_load'] = pairing.max_load()
            row[f'{name}_entropy'] = float(stats.entropy)
            row[f'{name}_true_p'] = float(stats.true_class_probability)
            row[f'{name}_wrong'] = float(stats.wrong_fraction)
    return row


def seed_spread(
    by_method: dict[str, list[dict[str, Any]]],
) -> dict[str, dict[str, float]]:
    """Per method: the standard deviation over seeds within each fold, averaged.

    Only methods with at least two seeds in some fold are listed.
    """
    out = {}
    for method, runs in by_method.items():
        folds: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in runs:
            folds[r['fold']].append(r)
        groups = [g for g in folds.values() if len(g) >= 2]
        if groups:
            out[method] = {
                key: statistics.mean(
                    statistics.stdev(r[key] for r in g) for g in groups
                )
                for key in ('val_oa_best', 'test_oa')
            }
    return out


def plot_curves(by_method: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Mean validation OA per epoch of each method (the band: min to max)."""
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for method, runs in by_method.items():
        curves = [r['val_curve'] for r in runs]
        epochs = min(map(len, curves))
        stacked = torch.tensor([c[:epochs] for c in curves])
        x = range(epochs)
        ax.plot(x, stacked.mean(0), label=f'{method} (n={len(runs)})')
        ax.fill_between(x, stacked.min(0).values, stacked.max(0).values, alpha=0.1)
    ax.set_xlabel('epoch')
    ax.set_ylabel('validation OA (%)')
    ax.set_title('Validation accuracy per epoch (mean over runs; band: min-max)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', type=Path, help='a pipeline --out folder')
    parser.add_argument('--json', type=Path, help='also write the rows here')
    parser.add_argument(
        '--baseline', default='baseline', help='method the others are paired with'
    )
    parser.add_argument('--plot', type=Path, help='write the validation curves here')
    args = parser.parse_args()
    rows = [
        describe(run)
        for run in sorted((args.out / 'students').iterdir())
        if (run / 'done.json').is_file()
    ]
    for row in rows:
        print(
            ' '.join(
                f'{k}={v:.3f}' if isinstance(v, float) else f'{k}={v}'
                for k, v in row.items()
                if k != 'val_curve'
            )
        )
    by_method: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_method[row['method']].append(row)
    print('\nmeans over runs (val_* on validation folds; test_oa only to report)')
    for method, runs in by_method.items():
        keys = [k for k in runs[0] if k not in ('method', 'fold', 'seed', 'val_curve')]
        means = {
            k: statistics.mean(r[k] for r in runs if k in r)
            for k in keys
            if all(k in r for r in runs)
        }
        print(
            f'{method} (n={len(runs)}): '
            + ' '.join(f'{k}={v:.3f}' for k, v in means.items())
        )
    spread = seed_spread(by_method)
    if spread:
        print('\nspread over seeds (std over seeds within a fold, mean over folds)')
        for method, values in spread.items():
            print(f'{method}: ' + ' '.join(f'{k}={v:.2f}' for k, v in values.items()))
    baseline = {(r['fold'], r['seed']): r for r in by_method.get(args.baseline, [])}
    if baseline:
        print(f'\npaired against {args.baseline} on the same folds and seeds (95 % CI)')
        for method, runs in by_method.items():
            if method == args.baseline:
                continue
            line = [f'{method}:']
            for key in ('val_oa_best', 'val_oa_last4', 'test_oa'):
                mine = {f'{r["fold"]}_{r["seed"]}': r[key] for r in runs}
                base = {f'{f}_{s}': r[key] for (f, s), r in baseline.items()}
                common = mine.keys() & base.keys()
                if len(common) < 2:
                    continue
                d = paired_difference(
                    {k: mine[k] for k in common}, {k: base[k] for k in common}
                )
                line.append(
                    f'{key} {d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}] (n={d.n})'
                )
            print(' '.join(line))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.plot:
        plot_curves(by_method, args.plot)
        print(f'validation curves: {args.plot}')


if __name__ == '__main__':
    main()
