"""DynamicMatching: the schedule, the re-matching rule, resume and DDP."""

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import TINY_DATA
from conftest import quiet_trainer as _trainer
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from torchgeo_ackd.callbacks import DynamicMatching
from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.datasets import Pairing
from torchgeo_ackd.matching import matched_teachers
from torchgeo_ackd.models.teacher import TeacherConfig
from torchgeo_ackd.tasks import ACKDTask


def _datamodule(bench: dict[str, Path]) -> SyntheticACKDDataModule:
    return SyntheticACKDDataModule(
        root=bench['root'], batch_size=4, pairing_file=bench['pairing'], **TINY_DATA
    )


def _task(bench: dict[str, Path]) -> ACKDTask:
    torch.manual_seed(0)  # same initial weights for every task built here
    return ACKDTask(
        student='resnet18',
        teacher=TeacherConfig('resnet18', weights=str(bench['teacher'])),
    )


def _rematch_after_fit_start(
    out: Path, task: ACKDTask, dm: SyntheticACKDDataModule, dynm: DynamicMatching
) -> Pairing:
    """Run the fit start (teacher cache, initial pairing), then one re-matching."""
    trainer = _trainer(
        out, max_epochs=1, limit_train_batches=0, limit_val_batches=0, callbacks=[dynm]
    )
    trainer.fit(task, dm)
    return dynm.rematch(trainer, task)


def test_schedule() -> None:
    # The S2S-EU reference schedule, and explicit epochs.
    assert DynamicMatching(e0=5, delta_e=25, e_mu=5).schedule_for(200) == [
        30,
        60,
        95,
        135,
    ]
    assert DynamicMatching(epochs=[4, 8]).schedule_for(12) == [4, 8]
    assert DynamicMatching(epochs=[]).schedule_for(1) == []


def test_impossible_epochs_fail_before_training(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r'epochs=\[4, 8\].*max_epochs=1'):
        DynamicMatching(epochs=[4, 8]).schedule_for(1)
    task = _task(bench)
    trainer = _trainer(tmp_path, max_epochs=1, callbacks=[DynamicMatching(epochs=[1])])
    with pytest.raises(ValueError, match='max_epochs=1'):
        trainer.fit(task, _datamodule(bench))
    assert task.teacher.gallery is None  # nothing ran
    assert not (tmp_path / 'pairing_initial').exists()
    with pytest.raises(ValueError, match='temperature'):
        DynamicMatching(temperature=0)


def test_rematch_is_lowest_kl(bench: dict[str, Path], tmp_path: Path) -> None:
    task, dm, dynm = _task(bench), _datamodule(bench), DynamicMatching(epochs=[0])
    pairing = _rematch_after_fit_start(tmp_path, task, dm, dynm)
    assert pairing.epoch == 0 and dm.pairing is pairing
    # Independent check: brute force over the class with plain softmax/KL.
    task.student.eval()
    with torch.no_grad():
        xs = torch.stack([dm.rgb_train[i]['image'] for i in range(len(dm.rgb_train))])
        log_ps = torch.log_softmax(
            task.student(dm.preprocess({'image': xs})['image']) / 3, 1
        )
        ms = torch.stack([dm.ms_train[i]['image'] for i in range(len(dm.ms_train))])
        teacher_logits = task.teacher(
            dm.preprocess({'image_ms': ms})['image_ms']
        ).logits
    log_pt = torch.log_softmax(teacher_logits / 3, 1)
    for i in range(len(pairing)):
        same = (dm.ms_train.targets == dm.rgb_train.targets[i]).nonzero().flatten()
        kl = (log_pt[same].exp() * (log_pt[same] - log_ps[i])).sum(1)
        assert int(pairing.teacher_index[i]) == int(same[kl.argmin()])
        assert float(pairing.scores[i]) == pytest.approx(float(kl.min()), abs=1e-5)
    # The written file holds the same pairing.
    written = Pairing.read(tmp_path / 'pairing_epoch0' / 'pairing.pt')
    assert written.epoch == 0
    assert torch.equal(written.teacher_index, pairing.teacher_index)


def test_resume_gives_the_same_pairing_and_weights(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    class Interrupt(Callback):
        def on_train_epoch_end(self, trainer: Trainer, pl_module: Any) -> None:
            if trainer.current_epoch == 1:
                trainer.should_stop = True

    def run(
        out: Path, ckpt: Path | None = None, interrupt: bool = False
    ) -> tuple[ACKDTask, SyntheticACKDDataModule, DynamicMatching]:
        task, dm, dynm = (
            _task(bench),
            _datamodule(bench),
            DynamicMatching(epochs=[1, 2]),
        )
        callbacks: list[Callback] = [ModelCheckpoint(dirpath=out, save_last=True), dynm]
        if interrupt:
            callbacks.append(Interrupt())
        trainer = _trainer(
            out,
            max_epochs=3,
            enable_checkpointing=True,
            callbacks=callbacks,
            limit_val_batches=0,
        )
        trainer.fit(task, dm, ckpt_path=ckpt)
        return task, dm, dynm

    full, full_dm, full_dynm = run(tmp_path / 'full')
    # Stops after epoch index 1 (one re-match done).
    _, _, part_dynm = run(tmp_path / 'part', interrupt=True)
    assert part_dynm.rematched_epochs == [1]
    initial = (tmp_path / 'part' / 'pairing_initial' / 'pairing.csv').read_bytes()
    resumed, resumed_dm, resumed_dynm = run(
        tmp_path / 'part', ckpt=tmp_path / 'part' / 'last.ckpt'
    )
    assert resumed_dynm.rematched_epochs == full_dynm.rematched_epochs == [1, 2]
    assert torch.equal(resumed_dm.pairing.teacher_index, full_dm.pairing.teacher_index)
    # The initial pairing is not rewritten when resuming.
    assert (
        tmp_path / 'part' / 'pairing_initial' / 'pairing.csv'
    ).read_bytes() == initial
    for (name, a), b in zip(
        full.student.state_dict().items(),
        resumed.student.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b), name


class _RecordRank(Callback):
    """On every rank: the student entering epoch 1 and the pairing after its re-match."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        # Placed before DynamicMatching: runs before the re-matching.
        if trainer.current_epoch == 1:
            state = pl_module.student.state_dict()
            torch.save(state, self.out / f'student_rank{trainer.global_rank}.pt')

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.current_epoch == 1:
            dynm = next(c for c in trainer.callbacks if isinstance(c, DynamicMatching))
            record = {
                'pairing': trainer.datamodule.pairing.teacher_index.clone(),
                'gallery_logits': pl_module.teacher.gallery.logits.cpu(),
                'rematched': list(dynm.rematched_epochs),
            }
            torch.save(record, self.out / f'rank{trainer.global_rank}.pt')


def test_ddp_spawn_rematches_identically_on_every_rank(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    trainer = _trainer(
        tmp_path,
        max_epochs=2,
        devices=2,
        strategy='ddp_spawn',
        limit_val_batches=0,
        callbacks=[
            _RecordRank(str(tmp_path)),
            DynamicMatching(epochs=[1], output_dir=str(tmp_path / 'out')),
        ],
    )
    trainer.fit(_task(bench), _datamodule(bench))
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    assert ranks[0]['rematched'] == ranks[1]['rematched'] == [1]
    assert torch.equal(ranks[0]['pairing'], ranks[1]['pairing'])
    assert torch.equal(ranks[0]['gallery_logits'], ranks[1]['gallery_logits'])

    # One process with rank 0's student (BatchNorm statistics included) must
    # find the same pairing and the KL values rank 0 wrote, for the students
    # of both shards.
    single = _task(bench)
    single.student.load_state_dict(torch.load(tmp_path / 'student_rank0.pt'))
    dm, dynm = _datamodule(bench), DynamicMatching(epochs=[0])
    pairing = _rematch_after_fit_start(tmp_path / 'single', single, dm, dynm)
    assert torch.equal(pairing.teacher_index, ranks[0]['pairing'])
    with open(tmp_path / 'out' / 'pairing_epoch1' / 'pairing.csv') as f:
        written = torch.tensor([float(row['score']) for row in csv.DictReader(f)])
    torch.testing.assert_close(pairing.scores, written, rtol=1e-6, atol=1e-6)


def test_rematching_logs_what_the_students_are_taught(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    task, dm, dynm = _task(bench), _datamodule(bench), DynamicMatching(epochs=[0])
    trainer = _trainer(tmp_path, max_epochs=1, limit_val_batches=0, callbacks=[dynm])
    trainer.fit(task, dm)
    logged = trainer.callback_metrics
    logits = task.teacher.gallery.logits  # type: ignore[union-attr]
    # The 'after' statistics are those of the installed pairing, recomputed.
    expected = matched_teachers(
        logits, dm.ms_train.targets, dm.pairing.teacher_index, dynm.temperature
    )
    for key, value in expected._asdict().items():
        assert float(logged[f'dynm_teacher_{key}_after']) == pytest.approx(
            float(value), abs=1e-5
        )
        assert f'dynm_teacher_{key}_before' in logged
    assert float(logged['dynm_max_load']) == dm.pairing.max_load()
