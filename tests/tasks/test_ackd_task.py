"""ACKDTask through the CLI and the Python API, on a tiny synthetic benchmark."""

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback

from torchgeo_ackd.cli import main
from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.losses import available_kd_losses
from torchgeo_ackd.synthetic import generate_synthetic_benchmark
from torchgeo_ackd.tasks import ACKDTask

CONF = Path(__file__).parents[2] / 'conf'
TINY_DATA = {'ms_per_class': 5, 'rgb_per_class': 5, 'ms_size': 16, 'rgb_size': 24}
TINY_TRAINER = [
    '--trainer.accelerator=cpu',
    '--trainer.enable_progress_bar=false',
    '--trainer.enable_model_summary=false',
    '--trainer.logger=false',
]


@pytest.fixture(scope='module')
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny benchmark plus a teacher and a matcher trained on it (1 epoch each)."""
    base = tmp_path_factory.mktemp('ackd')
    root = generate_synthetic_benchmark(base / 'synthetic', **TINY_DATA)
    data = [f'--data.init_args.root={root}'] + [
        f'--data.init_args.{k}={v}' for k, v in TINY_DATA.items()
    ]
    for stage in ('teacher', 'matcher'):
        out = base / stage
        main(
            [
                'fit',
                f'--config={CONF / f"{stage}.yaml"}',
                *data,
                '--data.init_args.batch_size=8',
                f'--trainer.default_root_dir={out}',
                f'--trainer.callbacks.init_args.dirpath={out}',
                '--trainer.callbacks.init_args.save_last=false',  # disk: 0.4 GB
                '--trainer.max_epochs=1',
                *TINY_TRAINER,
            ]
        )
    return {
        'root': root,
        'teacher': base / 'teacher' / 'teacher.ckpt',
        'matcher': base / 'matcher' / 'matcher.ckpt',
        'base': base,
    }


def ackd_args(bench: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        f'--config={CONF / "ackd.yaml"}',
        f'--data.init_args.root={bench["root"]}',
        *[f'--data.init_args.{k}={v}' for k, v in TINY_DATA.items()],
        '--data.init_args.batch_size=4',
        f'--model.init_args.teacher_weights={bench["teacher"]}',
        f'--model.init_args.matcher_checkpoint={bench["matcher"]}',
        '--model.init_args.dynm_epochs=[0]',
        f'--trainer.default_root_dir={out}',
        f'--trainer.callbacks.init_args.dirpath={out}',
        '--trainer.callbacks.init_args.save_last=false',  # 190 MB per run
        *TINY_TRAINER,
        *extra,
    ]


@pytest.mark.parametrize('kd', sorted(available_kd_losses()))
@pytest.mark.parametrize('sembridge', [True, False])
def test_cli_every_kd_method(
    bench: dict[str, Path], tmp_path: Path, kd: str, sembridge: bool
) -> None:
    main(
        [
            'fit',
            *ackd_args(bench, tmp_path, f'--model.init_args.kd={kd}'),
            f'--model.init_args.sembridge={str(sembridge).lower()}',
            '--model.init_args.kd_kwargs={}',
            '--trainer.fast_dev_run=1',
        ]
    )
    # DynM at epoch 0 wrote its pairing only with SemBridge on.
    assert (tmp_path / 'pairing_epoch0' / 'pairing.csv').is_file() == sembridge
    assert (tmp_path / 'pairing_initial' / 'pairing.csv').is_file()


@pytest.mark.parametrize('switch', ['ssm', 'dynm', 'use_ot1', 'use_ot2'])
def test_cli_ablation_switches(
    bench: dict[str, Path], tmp_path: Path, switch: str
) -> None:
    main(
        [
            'fit',
            *ackd_args(bench, tmp_path, f'--model.init_args.{switch}=false'),
            '--trainer.fast_dev_run=1',
        ]
    )
    assert (tmp_path / 'pairing_epoch0').is_dir() == (switch != 'dynm')


def test_switches_build_the_right_modules() -> None:
    task = ACKDTask(student='resnet18', teacher='resnet18', use_ot1=False)
    assert (
        task.planner is not None and task.planner.use_ot2 and not task.planner.use_ot1
    )
    assert (
        ACKDTask(student='resnet18', teacher='resnet18', sembridge=False).planner
        is None
    )
    off = ACKDTask(student='resnet18', teacher='resnet18', use_ot1=False, use_ot2=False)
    assert off.planner is None


def test_validate_test_predict(bench: dict[str, Path], tmp_path: Path) -> None:
    args = ackd_args(bench, tmp_path, '--trainer.max_epochs=1')
    main(['fit', *args])
    ckpt = tmp_path / 'best.ckpt'
    assert ckpt.is_file()
    for command in ('validate', 'test', 'predict'):
        main([command, *args, f'--ckpt_path={ckpt}'])


def _datamodule(bench: dict[str, Path], **kwargs: Any) -> SyntheticACKDDataModule:
    return SyntheticACKDDataModule(
        root=bench['root'], batch_size=4, **TINY_DATA, **kwargs
    )


def _trainer(tmp_path: Path, **kwargs: Any) -> Trainer:
    defaults: dict[str, Any] = {
        'accelerator': 'cpu',
        'logger': False,
        'enable_progress_bar': False,
        'enable_model_summary': False,
        'default_root_dir': tmp_path,
        'enable_checkpointing': False,
    }
    return Trainer(**(defaults | kwargs))


def _task(bench: dict[str, Path], **kwargs: Any) -> ACKDTask:
    torch.manual_seed(0)  # same initial weights for every task built here
    defaults: dict[str, Any] = {
        'student': 'resnet18',
        'teacher': 'resnet18',
        'teacher_weights': str(bench['teacher']),
        'matcher_checkpoint': str(bench['matcher']),
        'dynm_epochs': [1],
    }
    return ACKDTask(**(defaults | kwargs))


def test_teacher_frozen_and_in_eval_mode(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    task = _task(bench, cache_teacher=False)
    before = {k: v.clone() for k, v in task.teacher.state_dict().items()}
    seen_modes: list[bool] = []
    # timm's forward_features bypasses the model's own hooks: watch its stem.
    hook = task.teacher.conv1.register_forward_pre_hook(
        lambda m, a: seen_modes.append(task.teacher.training or m.training)
    )
    _trainer(tmp_path, max_epochs=2, limit_val_batches=0).fit(task, _datamodule(bench))
    hook.remove()
    after = task.teacher.state_dict()
    # Bit-identical, BatchNorm running statistics included.
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert seen_modes and not any(seen_modes)
    assert not any(p.requires_grad for p in task.teacher.parameters())
    optimised = {
        id(p) for g in task.optimizers().optimizer.param_groups for p in g['params']
    }
    assert not optimised & {id(p) for p in task.teacher.parameters()}


def test_teacher_loaded_from_torchgeo_checkpoint(bench: dict[str, Path]) -> None:
    task = _task(bench)
    state = torch.load(bench['teacher'], map_location='cpu', weights_only=True)[
        'state_dict'
    ]
    assert torch.equal(task.teacher.conv1.weight, state['model.conv1.weight'])
    assert torch.equal(task.teacher.fc.bias, state['model.fc.bias'])


def test_teacher_loaded_from_state_dict(tmp_path: Path) -> None:
    model = timm.create_model('resnet18', in_chans=13, num_classes=10)
    torch.save(model.state_dict(), tmp_path / 'teacher.pt')
    task = ACKDTask(
        student='resnet18',
        teacher='resnet18',
        teacher_weights=str(tmp_path / 'teacher.pt'),
    )
    assert torch.equal(task.teacher.conv1.weight, model.conv1.weight)


def test_teacher_from_torchgeo_enum_served_locally(tmp_path: Path) -> None:
    from torchgeo.models import ResNet18_Weights

    weights = ResNet18_Weights.SENTINEL2_ALL_MOCO
    backbone = timm.create_model('resnet18', in_chans=13, num_classes=0)
    hub = tmp_path / 'hub'
    (hub / 'checkpoints').mkdir(parents=True)
    torch.save(backbone.state_dict(), hub / 'checkpoints' / Path(weights.url).name)
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        task = ACKDTask(
            student='resnet18',
            teacher='resnet18',
            teacher_weights='ResNet18_Weights.SENTINEL2_ALL_MOCO',
        )
    finally:
        torch.hub.set_dir(old)
    assert torch.equal(task.teacher.conv1.weight, backbone.conv1.weight)
    assert task.teacher_input.scale == 10000.0
    assert task.teacher_input.bands is not None and task.teacher_input.bands[8] == 'B8A'


def test_enum_teacher_gets_raw_reordered_scaled_input(bench: dict[str, Path]) -> None:
    from torchgeo_ackd.models.teacher_weights import TeacherInput
    from torchgeo_ackd.sensors import SENTINEL2_SSL4EO

    task = _task(bench, teacher_weights=None, ssm=False)
    task.teacher_input = TeacherInput(bands=SENTINEL2_SSL4EO.bands, scale=10000.0)
    dm = _datamodule(bench)
    dm.setup('fit')
    task._build_teacher_adapter(dm)
    raw = torch.stack([dm.ms_train[i]['image'] for i in range(3)])
    adapted = task.teacher_adapter(dm.preprocess({'image_ms': raw})['image_ms'])
    # EuroSAT order stores B8A last; SSL4EO wants it 9th, all values / 10000.
    expected = raw[:, [0, 1, 2, 3, 4, 5, 6, 7, 12, 8, 9, 10, 11]] / 10000
    assert torch.allclose(adapted, expected, atol=1e-5)


@pytest.mark.parametrize('precision', ['32-true', 'bf16-mixed'])
def test_cached_teacher_equals_uncached(
    bench: dict[str, Path], tmp_path: Path, precision: str
) -> None:
    losses = {}
    for cache in (True, False):
        torch.manual_seed(0)
        task = _task(bench, cache_teacher=cache, dynm=False)
        dm = _datamodule(bench)
        trainer = _trainer(
            tmp_path,
            max_epochs=1,
            limit_train_batches=0,
            limit_val_batches=0,
            precision=precision,
        )
        trainer.fit(task, dm)  # runs on_fit_start: pairing, cache
        assert (task.teacher_cache is not None) == cache
        assert dm.train_dataset.load_teacher == (not cache)
        dm.train_dataset.load_teacher = True
        batch = dm.preprocess(next(iter(dm.train_dataloader())))
        task.eval()
        # The training step's context: autocast under bf16-mixed.
        with torch.no_grad(), trainer.precision_plugin.forward_context():
            losses[cache] = (
                task.compute_losses(batch)[0],
                task._teacher_outputs(batch),
            )
    atol = 1e-5 if precision == '32-true' else 1e-6
    assert torch.allclose(losses[True][0], losses[False][0], atol=atol)
    for a, b in zip(losses[True][1], losses[False][1], strict=True):
        assert torch.allclose(a.float(), b.float(), atol=atol)


def test_resume_gives_the_same_pairing_and_weights(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint

    class Interrupt(Callback):
        def on_train_epoch_end(self, trainer: Trainer, pl_module: Any) -> None:
            if trainer.current_epoch == 1:
                trainer.should_stop = True

    def run(
        out: Path, ckpt: Path | None = None, interrupt: bool = False
    ) -> tuple[ACKDTask, SyntheticACKDDataModule]:
        task = _task(bench, dynm_epochs=[1, 2])
        dm = _datamodule(bench)
        callbacks: list[Callback] = [ModelCheckpoint(dirpath=out, save_last=True)]
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
        return task, dm

    full, full_dm = run(tmp_path / 'full')
    part, _ = run(
        tmp_path / 'part', interrupt=True
    )  # stops after epoch index 1 (one re-match done)
    assert part.rematched_epochs == [1]
    resumed, resumed_dm = run(tmp_path / 'part', ckpt=tmp_path / 'part' / 'last.ckpt')
    assert resumed.rematched_epochs == full.rematched_epochs == [1, 2]
    assert torch.equal(resumed_dm.pairing, full_dm.pairing)
    for (name, a), b in zip(
        full.student.state_dict().items(),
        resumed.student.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b), name


def test_dynm_rematch_is_lowest_kl(bench: dict[str, Path], tmp_path: Path) -> None:
    task = _task(bench, dynm_epochs=[0])
    dm = _datamodule(bench)
    _trainer(tmp_path, max_epochs=1, limit_train_batches=0, limit_val_batches=0).fit(
        task, dm
    )
    pairing, _ = task.rematch()
    # Independent check: brute force over the class with plain softmax/KL.
    task.student.eval()
    with torch.no_grad():
        xs = torch.stack([dm.rgb_train[i]['image'] for i in range(len(dm.rgb_train))])
        log_ps = torch.log_softmax(
            task.student(dm.preprocess({'image': xs})['image']) / 3, 1
        )
    log_pt = torch.log_softmax(task.gallery_logits / 3, 1)
    for i in range(len(pairing)):
        same = (dm.ms_train.targets == dm.rgb_train.targets[i]).nonzero().flatten()
        kl = (log_pt[same].exp() * (log_pt[same] - log_ps[i])).sum(1)
        assert int(pairing[i]) == int(same[kl.argmin()])


class _RecordRank(Callback):
    """On every rank: the student entering epoch 1 and the pairing after its re-match."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        # Callbacks run before the task's own hook, i.e. before the re-matching.
        if trainer.current_epoch == 1:
            state = pl_module.student.state_dict()
            torch.save(state, self.out / f'student_rank{trainer.global_rank}.pt')

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.current_epoch == 1:
            record = {
                'pairing': trainer.datamodule.pairing.clone(),
                'gallery_logits': pl_module.gallery_logits.cpu(),
                'rematched': list(pl_module.rematched_epochs),
            }
            torch.save(record, self.out / f'rank{trainer.global_rank}.pt')


def test_ddp_spawn_rematches_identically_on_every_rank(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    task = _task(bench, dynm_epochs=[1], pairing_dir=str(tmp_path / 'out'))
    trainer = _trainer(
        tmp_path,
        max_epochs=2,
        devices=2,
        strategy='ddp_spawn',
        limit_val_batches=0,
        callbacks=[_RecordRank(str(tmp_path))],
    )
    trainer.fit(task, _datamodule(bench))
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    assert ranks[0]['rematched'] == ranks[1]['rematched'] == [1]
    assert torch.equal(ranks[0]['pairing'], ranks[1]['pairing'])
    assert torch.equal(ranks[0]['gallery_logits'], ranks[1]['gallery_logits'])

    # One process with rank 0's student (BatchNorm statistics included) must
    # find the same pairing and the KL values rank 0 wrote, for the students
    # of both shards.
    single = _task(bench, dynm_epochs=[0])
    single.student.load_state_dict(torch.load(tmp_path / 'student_rank0.pt'))
    dm = _datamodule(bench)
    _trainer(
        tmp_path / 'single', max_epochs=1, limit_train_batches=0, limit_val_batches=0
    ).fit(single, dm)
    pairing, kl = single.rematch()
    assert torch.equal(pairing, ranks[0]['pairing'])
    with open(tmp_path / 'out' / 'pairing_epoch1' / 'pairing.csv') as f:
        written = torch.tensor([float(row['score']) for row in csv.DictReader(f)])
    torch.testing.assert_close(kl, written, rtol=1e-6, atol=1e-6)


def test_multilabel_teacher_single_label_student(tmp_path: Path) -> None:
    from torchgeo_ackd.datamodules import ACKDDataModule
    from torchgeo_ackd.datasets import SyntheticACKD

    root = generate_synthetic_benchmark(tmp_path / 'ml', **TINY_DATA)
    with open(root / 'MS' / 'labels.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['path', 'labels'])
        for p in sorted((root / 'MS').glob('*/*.tif')):
            writer.writerow(
                [p.relative_to(root / 'MS').as_posix(), f'{p.parent.name};Forest']
            )

    class MultiLabel(SyntheticACKD):
        ms_multilabel = True

    class MultiLabelDataModule(ACKDDataModule):
        dataset_class = MultiLabel

    dm = MultiLabelDataModule(root, batch_size=4)
    task = ACKDTask(
        student='resnet18',
        teacher='resnet18',
        teacher_multilabel=True,
        ssm=False,
        dynm_epochs=[0],
    )
    assert task.kd_loss.multilabel_teacher
    _trainer(tmp_path, fast_dev_run=1).fit(task, dm)
    assert (
        dm.ms_train.multilabels is not None and dm.ms_train.multilabels[:, 1].all()
    )  # Forest everywhere
    assert task.rematched_epochs == [0]


def test_bad_teacher_checkpoints(bench: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='take 13 input bands.*built for 12 bands'):
        ACKDTask(
            student='resnet18',
            teacher='resnet18',
            teacher_in_channels=12,
            teacher_weights=str(bench['teacher']),
        )
    with pytest.raises(ValueError, match='have 10 classes.*task has 7 classes'):
        ACKDTask(
            student='resnet18',
            teacher='resnet18',
            num_classes=7,
            teacher_weights=str(bench['teacher']),
        )
    with pytest.raises(FileNotFoundError, match='nope.ckpt'):
        ACKDTask(
            student='resnet18',
            teacher='resnet18',
            teacher_weights=str(tmp_path / 'nope.ckpt'),
        )


def test_pairing_file_with_missing_samples(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    task = _task(bench, dynm=False)
    dm = _datamodule(bench)
    _trainer(tmp_path, max_epochs=1, limit_train_batches=0, limit_val_batches=0).fit(
        task, dm
    )
    csv_path = tmp_path / 'pairing_initial' / 'pairing.csv'
    good = tmp_path / 'good.csv'
    shutil.copy(csv_path, good)
    # The written CSV reads back to the same pairing through the task.
    again = _task(bench, dynm=False, pairing_file=str(good), matcher_checkpoint=None)
    dm2 = _datamodule(bench)
    _trainer(tmp_path, max_epochs=1, limit_train_batches=0, limit_val_batches=0).fit(
        again, dm2
    )
    assert torch.equal(dm2.pairing, dm.pairing)
    text = good.read_text().replace('_0000.tif', '_9999.tif')
    bad = tmp_path / 'bad.csv'
    bad.write_text(text)
    task = _task(bench, dynm=False, pairing_file=str(bad), matcher_checkpoint=None)
    with pytest.raises(ValueError, match='9999'):
        _trainer(tmp_path, max_epochs=1, limit_train_batches=0).fit(
            task, _datamodule(bench)
        )


def test_matcher_checkpoint_of_another_dataset(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    other = generate_synthetic_benchmark(
        tmp_path / 'other', **(TINY_DATA | {'ms_size': 8})
    )
    task = _task(bench, dynm=False)
    dm = SyntheticACKDDataModule(
        root=other, batch_size=4, **(TINY_DATA | {'ms_size': 8})
    )
    with pytest.raises(ValueError, match='other statistics'):
        _trainer(tmp_path, max_epochs=1, limit_train_batches=0).fit(task, dm)


def test_ssm_without_matcher_is_an_error(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    task = _task(bench, matcher_checkpoint=None)
    with pytest.raises(ValueError, match='ssm=True needs the matcher stage'):
        _trainer(tmp_path, max_epochs=1, limit_train_batches=0).fit(
            task, _datamodule(bench)
        )


def test_tensorboard_figures(bench: dict[str, Path], tmp_path: Path) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    task = _task(bench, dynm_epochs=[1])
    logger = TensorBoardLogger(tmp_path, name='tb')
    _trainer(tmp_path, max_epochs=2, logger=logger).fit(task, _datamodule(bench))
    events = EventAccumulator(logger.log_dir, size_guidance={'images': 0})
    events.Reload()
    tags = set(events.Tags()['images'])
    assert {'val_confusion_matrix', 'pairs/initial', 'pairs/epoch_1'} <= tags
    assert len(events.Images('val_confusion_matrix')) == 2  # one per validation epoch
    scalars = set(events.Tags()['scalars'])
    assert {
        'val_OverallAccuracy',
        'val_F1Score',
        'dynm_changed_fraction',
        'val_accuracy_Forest',
    } <= scalars


def test_cli_teacher_from_state_dict_and_enum(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    from torchgeo.models import ResNet18_Weights

    from torchgeo_ackd.sensors import SENTINEL2_SSL4EO

    # (c) a plain state dict file
    model = timm.create_model('resnet18', in_chans=13, num_classes=10)
    torch.save(model.state_dict(), tmp_path / 'teacher.pth')
    main(
        [
            'fit',
            *ackd_args(
                bench,
                tmp_path / 'sd',
                f'--model.init_args.teacher_weights={tmp_path / "teacher.pth"}',
            ),
            '--trainer.fast_dev_run=1',
        ]
    )
    # (a) a TorchGeo weight enum, served from a local torch hub cache
    hub = tmp_path / 'hub'
    (hub / 'checkpoints').mkdir(parents=True)
    backbone = timm.create_model('resnet18', in_chans=13, num_classes=0)
    torch.save(
        backbone.state_dict(),
        hub / 'checkpoints' / Path(ResNet18_Weights.SENTINEL2_ALL_MOCO.url).name,
    )
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        main(
            [
                'fit',
                *ackd_args(
                    bench,
                    tmp_path / 'enum',
                    '--model.init_args.teacher_weights=ResNet18_Weights.SENTINEL2_ALL_MOCO',
                    '--model.init_args.ssm=false',
                    f'--data.init_args.bands=[{",".join(SENTINEL2_SSL4EO.bands)}]',
                ),
                '--trainer.fast_dev_run=1',
            ]
        )
    finally:
        torch.hub.set_dir(old)


def test_student_weights(tmp_path: Path) -> None:
    student = timm.create_model('resnet18', in_chans=3, num_classes=10)
    torch.save(student.state_dict(), tmp_path / 'student.pth')
    task = ACKDTask(
        student='resnet18',
        teacher='resnet18',
        student_weights=str(tmp_path / 'student.pth'),
    )
    assert torch.equal(task.student.fc.weight, student.fc.weight)
