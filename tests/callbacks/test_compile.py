"""CompileModels: the task's networks compiled in place, training unchanged."""

from pathlib import Path

import torch
from conftest import fit_student, seeded_student

from torchgeo_ackd.callbacks import CompileModels
from torchgeo_ackd.callbacks.compile import convolutional_children


def test_compiled_training_gives_the_same_weights(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    # aot_eager traces forward and backward like inductor but runs the traced
    # graphs with eager kernels: the same numbers without a C++ compiler run.
    callback = CompileModels(backend='aot_eager')
    compiled = fit_student(bench, tmp_path / 'compiled', 2, [callback])
    plain = fit_student(bench, tmp_path / 'plain', 2, [])
    assert callback.compiled == ['student', 'teacher']
    assert set(convolutional_children(compiled)) == {'student', 'teacher'}
    assert compiled.student._compiled_call_impl is not None
    assert plain.student._compiled_call_impl is None
    # Compiled in place: the same state-dict keys (checkpoints unchanged).
    assert compiled.state_dict().keys() == plain.state_dict().keys()
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(
            compiled.state_dict()[key], value, rtol=1e-5, atol=1e-6, msg=key
        )
    # Two steps moved the student from its seeded start: not a vacuous check.
    start = seeded_student(bench)
    moved = (start.student.fc.weight - plain.student.fc.weight).detach().abs().max()
    assert 0 < float(moved) < 0.01  # the same start, moved by two small steps
