"""CompileModels: the task's networks compiled in place, training unchanged."""

from pathlib import Path

import torch
from conftest import TINY_DATA
from conftest import quiet_trainer as _trainer

from torchgeo_ackd.callbacks import CompileModels, DynamicMatching
from torchgeo_ackd.callbacks.compile import convolutional_children
from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.models.teacher import TeacherConfig
from torchgeo_ackd.tasks import ACKDTask


def _fit(
    bench: dict[str, Path], tmp_path: Path, compile: CompileModels | None
) -> ACKDTask:
    torch.manual_seed(0)
    task = ACKDTask(
        student='resnet18',
        teacher=TeacherConfig('resnet18', weights=str(bench['teacher'])),
    )
    dm = SyntheticACKDDataModule(root=bench['root'], batch_size=4, **TINY_DATA)
    callbacks = [DynamicMatching(epochs=[], log_pairs=0)]
    if compile is not None:
        callbacks.append(compile)  # type: ignore[arg-type]
    trainer = _trainer(
        tmp_path,
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=0,
        callbacks=callbacks,
    )
    trainer.fit(task, dm)
    return task


def test_compiled_training_gives_the_same_weights(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    # aot_eager traces forward and backward like inductor but runs the traced
    # graphs with eager kernels: the same numbers without a C++ compiler run.
    callback = CompileModels(backend='aot_eager')
    compiled = _fit(bench, tmp_path / 'compiled', callback)
    plain = _fit(bench, tmp_path / 'plain', None)
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
    torch.manual_seed(0)
    start = ACKDTask(
        student='resnet18',
        teacher=TeacherConfig('resnet18', weights=str(bench['teacher'])),
    )
    moved = (start.student.fc.weight - plain.student.fc.weight).detach().abs().max()
    assert 0 < float(moved) < 0.01  # the same start, moved by two small steps
