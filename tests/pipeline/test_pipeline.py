"""The whole pipeline end to end on a tiny synthetic benchmark."""

import csv
import json
import os
from pathlib import Path

import pytest
import torch

from torchgeo_ackd.datasets import Pairing
from torchgeo_ackd.pipeline import resolve_benchmark, run_pipeline
from torchgeo_ackd.synthetic import generate_synthetic_benchmark

TINY = {'ms_per_class': 5, 'rgb_per_class': 5, 'ms_size': 16, 'rgb_size': 24}
# timm's 0.4 M-parameter test ResNet in every stage: the pipeline's logic is the
# same as with ResNet-18, its checkpoints ~30x smaller (disk) and faster to write.
TINY_MODELS = {
    m: 'test_resnet' for m in ('teacher_model', 'matcher_model', 'student_model')
}
FAST = {
    'methods': ['baseline', 'kd_sembridge'],
    'seeds': [0],
    'teacher_epochs': 1,
    'matcher_epochs': 1,
    'student_epochs': 2,
    'dynm_epochs': [1],
    'use_pretrained': False,
} | TINY_MODELS


def test_pipeline_runs_reuses_and_refuses(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(tmp_path / 'synthetic', **TINY)
    out = tmp_path / 'out'
    # Every last.ckpt kept: the resume below needs the student's.
    keep = FAST | {'keep_last_checkpoints': True}
    results = run_pipeline(root=root, out=out, **keep)
    assert [r.name for r in results] == ['baseline_seed0', 'kd_sembridge_seed0']
    assert not any(r.reused for r in results)
    for name in (
        'results.md',
        'results.csv',
        'accuracy.png',
        'per_class_accuracy.png',
        'matched_pairs.png',
    ):
        assert (out / 'results' / name).stat().st_size > 0, name
    # The table holds the test metrics each stage recorded.
    with open(out / 'results' / 'results.csv', newline='') as f:
        rows = {row['method']: row for row in csv.DictReader(f)}
    for r in results:
        done = json.loads((r.directory / 'done.json').read_text())
        assert float(rows[r.name.removesuffix('_seed0')]['oa_mean']) == pytest.approx(
            100 * done['metrics']['test_OverallAccuracy']
        )
    table = (out / 'results' / 'results.md').read_text()
    assert 'Vanilla KD + SemBridge vs Baseline' in table
    # The teacher (TeacherTask) is reported with its accuracy and calibration.
    teacher = json.loads((out / 'teacher' / 'done.json').read_text())['metrics']
    assert (
        f'Teacher (MS test split): OA {100 * teacher["test_OverallAccuracy"]:.2f} %, '
        f'expected calibration error {teacher["test_CalibrationError"]:.3f}'
    ) in table
    sem = out / 'students' / 'kd_sembridge_seed0'
    assert (sem / 'pairing_initial' / 'pairing.csv').is_file() and (
        sem / 'pairing_epoch1' / 'pairing.pt'
    ).is_file()
    assert (out / 'matcher' / 'pairing.pt').is_file() and (
        out / 'teacher' / 'best.ckpt'
    ).is_file()

    # Re-running reuses every finished stage.
    again = run_pipeline(root=root, out=out, **keep)
    assert all(r.reused for r in again)

    # A kill between the matcher's last checkpoint and its pairing write: the
    # rerun writes the same pairing from the same weights, then goes on.
    pairing_pt = out / 'matcher' / 'pairing.pt'
    (out / 'matcher' / 'x.pt').write_bytes(pairing_pt.read_bytes())
    pairing_pt.unlink()
    (out / 'matcher' / 'pairing.csv').unlink()
    assert all(r.reused for r in run_pipeline(root=root, out=out, **keep))
    from torchgeo_ackd.datasets import Pairing

    restored, before = Pairing.read(pairing_pt), Pairing.read(out / 'matcher' / 'x.pt')
    assert torch.equal(restored.teacher_index, before.teacher_index)

    # An interrupted stage (checkpoint, no done.json) resumes from last.ckpt.
    (sem / 'done.json').unlink()
    resumed = run_pipeline(root=root, out=out, **keep)
    assert not resumed[1].reused and resumed[0].reused
    assert '--ckpt_path=' + str(sem / 'last.ckpt') in (sem / 'stage.log').read_text()

    # Another config over a finished run is refused, never overwritten.
    with pytest.raises(RuntimeError, match='another .or an unknown. config'):
        run_pipeline(root=root, out=out, **(keep | {'student_epochs': 3}))

    # Changed data: no stage is reused; the message says what changed.
    (root / 'MS' / 'Forest' / 'Forest_0099.tif').write_bytes(
        (root / 'MS' / 'Forest' / 'Forest_0000.tif').read_bytes()
    )
    with pytest.raises(
        RuntimeError,
        match=r'\[teacher\] .* other inputs \(input files: 1 added '
        r'\(MS/Forest/Forest_0099.tif\)\)',
    ):
        run_pipeline(root=root, out=out, **keep)
    (root / 'MS' / 'Forest' / 'Forest_0099.tif').unlink()
    # Same names, other pixels: refused as well.
    rgb = root / 'RGB' / 'Forest' / 'Forest_0000.jpg'
    rgb.write_bytes((root / 'RGB' / 'River' / 'River_0000.jpg').read_bytes())
    with pytest.raises(RuntimeError, match=r'1 changed \(RGB/Forest/Forest_0000.jpg'):
        run_pipeline(root=root, out=out, **keep)


def test_resolve_synthetic_and_bad_methods(tmp_path: Path) -> None:
    synthetic = resolve_benchmark(None, None)
    assert synthetic.datamodule.endswith('SyntheticACKDDataModule')
    assert len(synthetic.bands) == 13
    with pytest.raises(ValueError, match='methods'):
        run_pipeline(root=tmp_path, out=tmp_path / 'o', methods=['nope'])
    # Impossible re-matching epochs are refused before any stage, naming the option.
    with pytest.raises(
        ValueError, match=r'--dynm-epochs 4,8 must lie in \[0, --student-epochs=1\)'
    ):
        run_pipeline(root=tmp_path, out=tmp_path / 'o', student_epochs=1)
    # The pretrained weights are a ResNet-18: another teacher needs them off.
    with pytest.raises(
        ValueError,
        match=r'--teacher-model resnet50: .* are a resnet18; .*--no-pretrained',
    ):
        run_pipeline(root=tmp_path, out=tmp_path / 'o', teacher_model='resnet50')
    assert not (tmp_path / 'o').exists()
    with pytest.raises(
        ValueError, match='--datamodule: .* is not a subclass of PairedDataModule'
    ):
        resolve_benchmark(tmp_path, 'torchgeo.datamodules.EuroSATDataModule')
    with pytest.raises(
        ValueError,
        match="'torchgeo_ackd.datamodules.PairedDataModule' declares no ms_datamodule",
    ):
        resolve_benchmark(tmp_path, 'torchgeo_ackd.datamodules.PairedDataModule')


def test_resolve_real_mini(real_mini: Path) -> None:
    real = resolve_benchmark(real_mini, None)
    assert real.datamodule.endswith('S2SEUDataModule')
    assert real.student_classes == [
        'River',
        'Residential',
        'Highway',
        'HerbaceousVegetation',
        'Forest',
        'AnnualCrop',
    ]
    assert len(real.bands) == 10


def test_checkpoint_of_unknown_origin_is_refused(tmp_path: Path) -> None:
    from torchgeo_ackd.pipeline.stages import run_stage

    stage = tmp_path / 'teacher'
    stage.mkdir()
    (stage / 'last.ckpt').write_bytes(b'not ours')
    with pytest.raises(RuntimeError, match='unknown'):
        run_stage('teacher', {'model': {}, 'data': {}, 'trainer': {}}, stage)
    assert (stage / 'last.ckpt').read_bytes() == b'not ours'  # untouched


def test_pretrained_teacher_from_local_hub_cache(tmp_path: Path) -> None:
    import timm
    import torch
    from torchgeo.models import ResNet18_Weights

    from torchgeo_ackd.pipeline.pretrained import pretrained_teacher_available

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    try:
        # Nothing cached and no network here (or a download): either way a clear answer.
        ok, reason = pretrained_teacher_available(timeout=5)
        assert isinstance(ok, bool) and reason
        (tmp_path / 'hub' / 'checkpoints').mkdir(parents=True, exist_ok=True)
        backbone = timm.create_model('resnet18', in_chans=13, num_classes=0)
        name = Path(ResNet18_Weights.SENTINEL2_ALL_MOCO.url).name
        torch.save(backbone.state_dict(), tmp_path / 'hub' / 'checkpoints' / name)
        assert pretrained_teacher_available(timeout=5) == (
            True,
            'loaded with TorchGeo (torch hub cache or download)',
        )
    finally:
        torch.hub.set_dir(old)


@pytest.mark.parametrize('dataset', ['S2SEU', 'S2SCN'])
def test_pretrained_teacher_for_other_bands(tmp_path: Path, dataset: str) -> None:
    """A 10-band (S2S-EU) or Tiangong-2 (S2S-CN) teacher starts from the weights."""
    import timm
    from torchgeo.models import ResNet18_Weights

    import torchgeo_ackd.datasets
    from torchgeo_ackd.pipeline.benchmark import Benchmark
    from torchgeo_ackd.pipeline.pretrained import PRETRAINED, teacher_weights
    from torchgeo_ackd.tasks import TeacherTask

    cls = getattr(torchgeo_ackd.datasets, dataset)
    path = f'torchgeo_ackd.datamodules.{dataset}'
    bench = Benchmark(f'{path}DataModule', f'{path}MSDataModule', {}, cls, None)
    assert teacher_weights(bench, use_pretrained=False) == (None, {})
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    try:
        (tmp_path / 'hub' / 'checkpoints').mkdir(parents=True)
        backbone = timm.create_model('resnet18', in_chans=13, num_classes=0)
        name = Path(ResNet18_Weights.SENTINEL2_ALL_MOCO.url).name
        torch.save(backbone.state_dict(), tmp_path / 'hub' / 'checkpoints' / name)
        weights, mapped = teacher_weights(bench, use_pretrained=True)
        assert weights == PRETRAINED
        assert mapped['bands'] == list(bench.bands)
        assert len(mapped['wavelengths']) == len(bench.bands)
        # The teacher stage's task is built from exactly these arguments.
        task = TeacherTask(
            model='resnet18',
            weights=weights,
            in_channels=len(bench.bands),
            num_classes=10,
            **mapped,
        )
    finally:
        torch.hub.set_dir(old)
    assert task.model.conv1.weight.shape[1] == len(bench.bands)
    torch.testing.assert_close(
        task.model.layer1[0].conv1.weight, backbone.layer1[0].conv1.weight
    )


#: The two longest tests run in lane 1 only (scripts/test.sh): they exercise
#: the pipeline's own code, which is the same on both TorchGeo versions.
lane_1_only = pytest.mark.skipif(
    os.environ.get('ACKD_LANE') == '2',
    reason='lane 1 runs it; lane 2 keeps test_pipeline_runs_reuses_and_refuses',
)


@lane_1_only
def test_k_fold_pipeline(tmp_path: Path) -> None:
    from torchgeo_ackd.datasets import Pairing, SyntheticACKD

    root = generate_synthetic_benchmark(tmp_path / 'synthetic', **TINY)
    out = tmp_path / 'out'
    # SemBridge: one method exercises fold pairings and the paired gains.
    fast = FAST | {'methods': ['baseline', 'kd_sembridge']}
    results = run_pipeline(root=root, out=out, folds=3, **fast)
    assert [r.name for r in results] == [
        f'{method}_fold{fold}_seed0'
        for method in ('baseline', 'kd_sembridge')
        for fold in range(3)
    ]
    for fold in range(3):
        split = out / 'folds' / f'fold{fold}' / 'split.csv'
        # Each fold's SSM pairing covers exactly that fold's RGB training images.
        students = SyntheticACKD(root, modality='rgb', split='train', split_file=split)
        gallery = SyntheticACKD(root, modality='ms', split='train', split_file=split)
        pairing = split.parent / 'pairings' / 'nearest' / 'pairing.pt'
        assert len(Pairing.load(pairing, students, gallery)) == len(students)
        name = f'kd_sembridge_fold{fold}_seed0'
        config = (out / 'students' / name / 'config.yaml').read_text()
        assert str(split) in config and str(pairing) in config
    with open(out / 'results' / 'results.csv', newline='') as f:
        rows = {row['method']: row for row in csv.DictReader(f)}
    method = 'kd_sembridge'
    assert rows['baseline']['runs'] == rows[method]['runs'] == '3'
    # The paired gain is the mean of the three run-by-run differences.
    oa = {r.name: 100 * r.metrics['test_OverallAccuracy'] for r in results}
    expected = (
        sum(
            oa[f'{method}_fold{f}_seed0'] - oa[f'baseline_fold{f}_seed0']
            for f in range(3)
        )
        / 3
    )
    assert float(rows[method]['oa_gain_vs_baseline']) == pytest.approx(expected)
    assert rows[method]['oa_gain_vs_baseline_runs'] == '3'
    assert 'paired' in (out / 'results' / 'results.md').read_text()
    # A rerun reuses every stage and the fold pairings.
    fold0 = out / 'folds' / 'fold0' / 'pairings' / 'nearest' / 'pairing.pt'
    stamp = fold0.stat()
    assert all(r.reused for r in run_pipeline(root=root, out=out, folds=3, **fast))
    assert fold0.stat().st_mtime_ns == stamp.st_mtime_ns
    # The variance diagnosis reads these runs back (experiments/dynm_diagnosis.py).
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        'dynm_diagnosis',
        Path(__file__).parents[2] / 'experiments' / 'dynm_diagnosis.py',
    )
    assert spec is not None and spec.loader is not None
    diagnosis = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagnosis)
    run = out / 'students' / f'{method}_fold0_seed0'
    row = diagnosis.describe(run)
    assert (row['method'], row['fold'], row['seed']) == (method, 0, 0)
    assert row['test_oa'] == pytest.approx(oa[run.name])
    assert 0 <= row['val_oa_best'] <= 100
    initial = Pairing.read(run / 'pairing_initial' / 'pairing.pt')
    assert row['initial_max_load'] == initial.max_load()
    assert row['initial_teachers'] == initial.distinct_teachers()
    assert 0 <= row['initial_wrong'] <= 1 and row['initial_entropy'] >= 0


@pytest.mark.parametrize('which', ['best', 'last'])
def test_broken_stage_checkpoints_are_named_before_torchgeo_runs(
    tmp_path: Path, which: str
) -> None:
    import yaml

    from torchgeo_ackd.pipeline import stages

    config: dict = {'model': {}, 'data': {}, 'trainer': {}}  # type: ignore[type-arg]
    stage = tmp_path / 'teacher'
    stage.mkdir()
    full = stages._with_outputs(config, stage)
    (stage / 'inputs.json').write_text('{}')  # the same (no) inputs
    if which == 'best':  # a finished run whose best checkpoint was emptied
        done = {'config_hash': stages.config_hash(full), 'fit_seconds': 1.0}
        (stage / 'done.json').write_text(json.dumps(done | {'metrics': {}}))
        (stage / 'best.ckpt').write_bytes(b'')
        message = r"best checkpoint '.*best.ckpt' is empty"
    else:  # an interrupted run whose last checkpoint was cut short
        (stage / 'config.yaml').write_text(yaml.safe_dump(full, sort_keys=False))
        (stage / 'last.ckpt').write_bytes(b'PK\x03\x04' + bytes(100))
        message = r"resume from '.*last.ckpt' \(104 bytes\) is truncated"
    with pytest.raises(RuntimeError, match=message) as error:
        stages.run_stage('teacher', config, stage)
    assert f'Delete {stage} to train this stage again' in str(error.value)
    assert not (stage / 'stage.log').exists()  # torchgeo never started


#: Kill points: right after these writes (or steps) the pipeline process, or
#: the torchgeo process of a stage, exits as if killed.
KILLS = (
    '*/teacher/fit',  # teacher: checkpoints written, not tested
    '*/matcher/pairing.pt',  # matcher: pairing .pt written, .csv not
    '*/pairing_epoch1/pairing.pt',  # student: DynM pairing in mid-training
    '*/results/results.md',  # results half written
)


@lane_1_only
def test_a_kill_at_any_write_is_recovered(tmp_path: Path) -> None:
    import subprocess
    import sys

    from torchgeo_ackd.io import CRASH_ENV

    root = generate_synthetic_benchmark(tmp_path / 'synthetic', **TINY)
    fast = FAST | {'methods': ['kd_sembridge']}
    clean = run_pipeline(root=root, out=tmp_path / 'clean', **fast)
    out = tmp_path / 'killed'
    command = [
        sys.executable,
        '-m',
        'torchgeo_ackd.pipeline',
        f'--root={root}',
        f'--out={out}',
        '--methods=kd_sembridge',
        '--seeds=0',
        '--teacher-epochs=1',
        '--matcher-epochs=1',
        '--student-epochs=2',
        '--dynm-epochs=1',
        '--no-pretrained',
        *(f'--{k.replace("_", "-")}={v}' for k, v in TINY_MODELS.items()),
    ]
    env = dict(os.environ)
    for point in KILLS:
        killed = subprocess.run(
            command,
            env=env | {CRASH_ENV: point},
            capture_output=True,
            text=True,
            check=False,
        )
        assert killed.returncode != 0, point
        assert '[test] exiting right after' in killed.stdout, (point, killed.stdout)
    # The same command, without kills, finishes: same results as never killed.
    subprocess.run(command, env=env, check=True, capture_output=True)
    for stage in ('teacher', 'matcher', 'students/kd_sembridge_seed0'):
        done = json.loads((out / stage / 'done.json').read_text())
        reference = json.loads((tmp_path / 'clean' / stage / 'done.json').read_text())
        assert done['metrics'] == reference['metrics'], stage
        # By default a finished student's last.ckpt is deleted (only a resume
        # reads it); the teacher's and the matcher's are kept.
        assert (out / stage / 'last.ckpt').is_file() == ('students' not in stage)
    assert (
        clean[0].metrics
        == json.loads(
            (out / 'students' / 'kd_sembridge_seed0' / 'done.json').read_text()
        )['metrics']
    )
    for name in ('results.md', 'results.csv', 'accuracy.png', 'matched_pairs.png'):
        assert (out / 'results' / name).stat().st_size > 0, name
    for folder in ('matcher', 'students/kd_sembridge_seed0/pairing_epoch1'):
        new = Pairing.read(out / folder / 'pairing.pt')
        old = Pairing.read(tmp_path / 'clean' / folder / 'pairing.pt')
        assert torch.equal(new.teacher_index, old.teacher_index), folder


def test_default_root_configs_do_not_depend_on_an_earlier_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The main job run twice must reuse its stages: the second run finds
    # data/synthetic written, and its configs must be the first run's.
    monkeypatch.chdir(tmp_path)
    before = resolve_benchmark(None, None)
    assert not (tmp_path / 'data' / 'synthetic').exists()
    generate_synthetic_benchmark(tmp_path / 'data' / 'synthetic', **TINY)
    after = resolve_benchmark(None, None)
    assert after.init_args == before.init_args
    # A synthetic root given explicitly is used as written (any size), and
    # its configs say how it was written, not the generator's defaults.
    given = resolve_benchmark(tmp_path / 'data' / 'synthetic', None)
    assert given.init_args['generate'] is False
    assert given.init_args['ms_per_class'] == TINY['ms_per_class']
    assert given.init_args['mixed'] is True
    assert 'label_rule' not in given.init_args
    pure = generate_synthetic_benchmark(tmp_path / 'pure', mixed=False, **TINY)
    control = resolve_benchmark(pure, None).init_args
    assert control['mixed'] is False and 'label_rule' not in control
    assert control['generator_seed'] == 0 and 'rgb_format' not in control


def test_an_older_default_benchmark_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # data/synthetic as an older version wrote it (pure scenes, then the
    # default): the main job stops before training and says what to do.
    monkeypatch.chdir(tmp_path)
    old = generate_synthetic_benchmark(
        tmp_path / 'data' / 'synthetic', mixed=False, **TINY
    )
    marker = old / 'MS' / 'Forest' / 'Forest_0000.tif'
    written = marker.read_bytes()
    with pytest.raises(FileExistsError) as error:
        run_pipeline(out=tmp_path / 'out', **FAST)  # type: ignore[arg-type]
    message = str(error.value)
    assert "'mixed': False" in message and 'move that folder aside' in message
    assert f'--root {Path("data/synthetic")}' in message
    assert marker.read_bytes() == written
    assert not (tmp_path / 'out' / 'teacher').exists()


def test_a_checkpoint_of_an_attempt_that_cannot_resume_is_not_tested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after best.ckpt, before last.ckpt: the rerun tests its own best."""
    from torchgeo_ackd.pipeline import stages

    stage = tmp_path / 'teacher'
    stage.mkdir()
    (stage / 'best.ckpt').write_bytes(b'the killed attempt')
    calls: list[tuple[str, tuple[str, ...]]] = []

    def torchgeo(command: str, config_file: Path, *extra: str, log: Path) -> float:
        calls.append((command, extra))
        if command == 'fit':  # as ModelCheckpoint: a taken name gets -v1
            taken = (stage / 'best.ckpt').exists()
            (stage / ('best-v1.ckpt' if taken else 'best.ckpt')).write_bytes(
                b'this run'
            )
            (stage / 'last.ckpt').write_bytes(b'this run')
        return 1.0

    monkeypatch.setattr(stages, '_torchgeo', torchgeo)
    monkeypatch.setattr(stages, '_check_checkpoint', lambda *args: None)
    monkeypatch.setattr(stages, 'read_test_metrics', lambda folder: {'test_OA': 0.5})
    result = stages.run_stage(
        'teacher', {'model': {}, 'data': {}, 'trainer': {}}, stage
    )
    assert [command for command, _ in calls] == ['fit', 'test']
    assert calls[0][1] == ()  # a new fit, nothing to resume from
    assert calls[1][1][0] == f'--ckpt_path={stage / "best.ckpt"}'
    assert (stage / 'best.ckpt').read_bytes() == b'this run'
    assert sorted(p.name for p in stage.glob('*.ckpt')) == ['best.ckpt', 'last.ckpt']
    assert result.metrics == {'test_OA': 0.5}


@pytest.mark.parametrize('keep_last', [True, False])
def test_a_finished_stage_keeps_last_ckpt_only_when_asked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keep_last: bool,
) -> None:
    """Only a resume reads last.ckpt; a finished student can do without it."""
    from torchgeo_ackd.pipeline import stages

    stage = tmp_path / 'student'

    def torchgeo(command: str, config_file: Path, *extra: str, log: Path) -> float:
        if command == 'fit':
            for name in ('best.ckpt', 'last.ckpt'):
                (stage / name).write_bytes(bytes(3 * 2**20))
        return 1.0

    monkeypatch.setattr(stages, '_torchgeo', torchgeo)
    monkeypatch.setattr(stages, '_check_checkpoint', lambda *args: None)
    monkeypatch.setattr(stages, 'read_test_metrics', lambda folder: {'test_OA': 0.5})
    config = {'model': {}, 'data': {}, 'trainer': {}}
    stages.run_stage('student', config, stage, keep_last=keep_last)
    assert (stage / 'done.json').is_file() and (stage / 'best.ckpt').is_file()
    assert (stage / 'last.ckpt').is_file() == keep_last
    removed = f'[student] finished: removed {stage / "last.ckpt"} (3 MiB'
    assert (removed in capsys.readouterr().out) != keep_last
    # A finished run reused: a last.ckpt it still has (an older version
    # kept them) goes too, and the run is reused, not trained again.
    (stage / 'last.ckpt').write_bytes(b'kept by an older version')
    result = stages.run_stage('student', config, stage, keep_last=keep_last)
    assert result.reused
    assert (stage / 'last.ckpt').is_file() == keep_last
