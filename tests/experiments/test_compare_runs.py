"""experiments/compare_runs.py: runs of two output folders, paired by hand."""

import json
from pathlib import Path

import compare_runs
import pytest


def _finished(students: Path, name: str, oa: float) -> None:
    run = students / name
    run.mkdir(parents=True)
    metrics = {'test_OverallAccuracy': oa, 'test_F1Score': 0.0}
    (run / 'done.json').write_text(json.dumps({'metrics': metrics}))


def test_finished_runs_reads_one_method_and_skips_unfinished(tmp_path: Path) -> None:
    students = tmp_path / 'students'
    _finished(students, 'kd_sembridge_fold0_seed0', 0.875)
    _finished(students, 'kd_sembridge_fold1_seed0', 0.9)
    _finished(students, 'kd_sembridge_no_dynm_fold0_seed0', 0.5)  # another method
    _finished(students, 'kd_fold0_seed0', 0.25)
    (students / 'kd_sembridge_fold2_seed0').mkdir()  # not finished
    (students / 'notes').mkdir()  # not a run
    runs = compare_runs.finished_runs(students, 'kd_sembridge')
    assert runs == {'fold0_seed0': 87.5, 'fold1_seed0': 90.0}
    _finished(students, 'kd_sembridge_fold0_seed3', 0.75)
    assert compare_runs.finished_runs(students, 'kd_sembridge', {3}) == {
        'fold0_seed3': 75.0
    }
    with pytest.raises(FileNotFoundError, match="no finished run of 'dkd'"):
        compare_runs.finished_runs(students, 'dkd')


def test_main_pairs_runs_across_folders(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    one, other = tmp_path / 'a' / 'students', tmp_path / 'b' / 'students'
    for run, base, new in (('fold0_seed0', 0.80, 0.81), ('fold1_seed0', 0.82, 0.84)):
        _finished(one, f'baseline_{run}', base)
        _finished(other, f'kd_sembridge_{run}', new)
    _finished(other, 'kd_sembridge_fold2_seed0', 0.99)  # no baseline to pair with
    argv = [f'base={one}:baseline', f'new={other}:kd_sembridge', '--against', 'base']
    monkeypatch.setattr('sys.argv', ['compare_runs.py', *argv])
    compare_runs.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "base: OA 81.00 ± 12.71 over runs ['fold0_seed0', 'fold1_seed0']"
    # Paired over the two shared runs: differences 1 and 2, mean 1.5, sd
    # sqrt(0.5), t(0.975, 1) = 12.706 -> 12.706 * sqrt(0.5) / sqrt(2) = 6.35.
    assert lines[1].endswith('; vs base 1.50 ± 6.35')


def test_bad_specs_and_labels_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match='expected LABEL=FOLDER:METHOD'):
        compare_runs.parse_spec('output/students:kd')
    assert compare_runs.parse_spec('x=C:/out/students:kd') == (
        'x',
        Path('C:/out/students'),
        'kd',
    )
    monkeypatch.setattr(
        'sys.argv', ['compare_runs.py', f'a={tmp_path}:kd', '--against', 'b']
    )
    with pytest.raises(SystemExit):
        compare_runs.main()
    # A label given twice would hide one of its folders.
    twice = [f'a={tmp_path}:kd', f'a={tmp_path}:dkd', '--against', 'a']
    monkeypatch.setattr('sys.argv', ['compare_runs.py', *twice])
    with pytest.raises(SystemExit):
        compare_runs.main()


def test_validation_accuracy_is_read_at_the_lowest_validation_loss(
    tmp_path: Path,
) -> None:
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / 'students' / 'kd_sembridge_fold0_seed0'
    writer = SummaryWriter(str(run / 'logs' / 'version_0'))
    # The lowest loss, 0.5, first at step 11 (the checkpoint kept), again at 17.
    for step, loss, oa in (
        (5, 1.0, 0.5),
        (11, 0.5, 0.8),
        (17, 0.5, 0.9),
        (23, 0.7, 0.95),
    ):
        writer.add_scalar('val_loss', loss, step)
        writer.add_scalar('val_OverallAccuracy', oa, step)
    writer.close()
    assert compare_runs.validation_accuracy(run) == pytest.approx(80.0)
    (run / 'done.json').write_text(
        json.dumps({'metrics': {'test_OverallAccuracy': 0.6}})
    )
    students = run.parent
    assert compare_runs.finished_runs(students, 'kd_sembridge') == {'fold0_seed0': 60.0}
    validation = compare_runs.finished_runs(students, 'kd_sembridge', validation=True)
    assert validation == {'fold0_seed0': pytest.approx(80.0)}
    with pytest.raises(FileNotFoundError, match='no TensorBoard logs'):
        compare_runs.validation_accuracy(tmp_path)
