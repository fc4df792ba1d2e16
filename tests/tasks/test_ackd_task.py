"""ACKDTask through the CLI and the Python API, on a tiny synthetic benchmark."""

import csv
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from conftest import TINY_DATA, ackd_args
from conftest import quiet_trainer as _trainer
from lightning.pytorch import Trainer

from torchgeo_ackd.callbacks import DynamicMatching
from torchgeo_ackd.cli import main
from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.datasets import Pairing
from torchgeo_ackd.losses import DistillationConfig, available_kd_losses
from torchgeo_ackd.models import AlignmentConfig
from torchgeo_ackd.models.teacher import TeacherConfig
from torchgeo_ackd.synthetic import generate_synthetic_benchmark
from torchgeo_ackd.tasks import ACKDTask

CONF = Path(__file__).parents[2] / 'conf'


#: Overrides that turn SemBridge off (random pairs, no DynM, no SKA).
NO_SEMBRIDGE = (
    '--data.init_args.pairing_file=null',
    '--trainer.callbacks.init_args.epochs=[]',
    '--model.init_args.ska.use_ot1=false',
    '--model.init_args.ska.use_ot2=false',
)


@pytest.mark.parametrize('kd', sorted(available_kd_losses()))
@pytest.mark.parametrize('sembridge', [True, False])
def test_cli_every_kd_method(
    bench: dict[str, Path], tmp_path: Path, kd: str, sembridge: bool
) -> None:
    main(
        [
            'fit',
            *ackd_args(bench, tmp_path, f'--model.init_args.kd.loss={kd}'),
            *(() if sembridge else NO_SEMBRIDGE),
            '--model.init_args.kd.options={}',
            '--trainer.fast_dev_run=1',
        ]
    )
    # DynM at epoch 0 wrote its pairing only with SemBridge on.
    assert (tmp_path / 'pairing_epoch0' / 'pairing.csv').is_file() == sembridge
    assert (tmp_path / 'pairing_initial' / 'pairing.csv').is_file()


@pytest.mark.parametrize(
    'override',
    [
        '--data.init_args.pairing_file=null',
        '--trainer.callbacks.init_args.epochs=[]',
        '--model.init_args.ska.use_ot1=false',
        '--model.init_args.ska.use_ot2=false',
    ],
)
def test_cli_ablation_switches(
    bench: dict[str, Path], tmp_path: Path, override: str
) -> None:
    main(['fit', *ackd_args(bench, tmp_path, override), '--trainer.fast_dev_run=1'])
    assert (tmp_path / 'pairing_epoch0').is_dir() == ('epochs' not in override)
    initial = Pairing.read(tmp_path / 'pairing_initial' / 'pairing.pt')
    # SSM pairs carry their cosine score; random pairs have none.
    assert initial.scores.isnan().all() == ('pairing_file' in override)


def test_switches_build_the_right_modules() -> None:
    r18 = TeacherConfig('resnet18', weights='random')
    task = ACKDTask(student='resnet18', teacher=r18, ska=AlignmentConfig(use_ot1=False))
    assert (
        task.planner is not None and task.planner.use_ot2 and not task.planner.use_ot1
    )
    no_ska = AlignmentConfig(use_ot1=False, use_ot2=False)
    off = ACKDTask(student='resnet18', teacher=r18, ska=no_ska)
    assert off.planner is None and off.uses_teacher
    alone = ACKDTask(
        student='resnet18', teacher=r18, kd=DistillationConfig('none'), ska=no_ska
    )
    assert not alone.uses_teacher


def test_groups_are_plain_mappings_in_checkpoints(tmp_path: Path) -> None:
    task = ACKDTask(
        student='resnet18',
        teacher={'model': 'resnet18', 'in_channels': 12, 'weights': 'random'},
        kd=DistillationConfig('dkd', 0.5, {'dkd': {'warmup_epochs': 2}}),
    )
    assert task.hparams['teacher'] == {
        'model': 'resnet18',
        'in_channels': 12,
        'weights': 'random',
        'multilabel': False,
        'multilabel_logits': 'logsigmoid',
    }
    assert task.hparams['kd'] == {
        'loss': 'dkd',
        'weight': 0.5,
        'options': {'dkd': {'warmup_epochs': 2}},
    }
    assert task.hparams['ska'] == asdict(AlignmentConfig())
    trainer = Trainer(
        max_epochs=0, logger=False, enable_checkpointing=False, barebones=True
    )
    trainer.strategy.connect(task)
    trainer.save_checkpoint(tmp_path / 'task.ckpt')
    # weights_only=True: no dataclass object is pickled into the checkpoint.
    loaded = ACKDTask.load_from_checkpoint(tmp_path / 'task.ckpt', weights_only=True)
    assert loaded.hparams['kd'] == task.hparams['kd']
    assert loaded.teacher.in_channels == 12 and loaded.kd_loss.warmup_epochs == 2
    with pytest.raises(ValueError, match=r"kd: unknown keys \['kd_kwargs'\]"):
        ACKDTask(kd={'loss': 'kd', 'kd_kwargs': {}})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='teacher must be a TeacherConfig'):
        ACKDTask(teacher='resnet18')  # type: ignore[arg-type]


@pytest.mark.parametrize('moved', ['sembridge', 'ssm', 'dynm_epochs', 'pairing_file'])
def test_moved_options_fail_before_training(
    bench: dict[str, Path],
    tmp_path: Path,
    moved: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An option the task does not take (an older layout) fails at parsing, naming it."""
    with pytest.raises(SystemExit):
        main(['fit', *ackd_args(bench, tmp_path, f'--model.init_args.{moved}=null')])
    assert moved in capsys.readouterr().err
    assert not (tmp_path / 'pairing_initial').exists()


def test_validate_test_predict(bench: dict[str, Path], tmp_path: Path) -> None:
    args = ackd_args(bench, tmp_path, '--trainer.max_epochs=1')
    main(['fit', *args])
    ckpt = tmp_path / 'best.ckpt'
    assert ckpt.is_file()
    # The pairing is stored once, by the datamodule.
    state = torch.load(ckpt, weights_only=True)
    assert 'ackd' not in state
    assert 'pairing' in state['SyntheticACKDDataModule']
    for command in ('validate', 'test', 'predict'):
        main([command, *args, f'--ckpt_path={ckpt}'])


def _datamodule(
    bench: dict[str, Path], ssm: bool = True, **kwargs: Any
) -> SyntheticACKDDataModule:
    pairing = str(bench['pairing']) if ssm else None
    return SyntheticACKDDataModule(
        root=bench['root'], batch_size=4, pairing_file=pairing, **TINY_DATA, **kwargs
    )


def _task(bench: dict[str, Path], **kwargs: Any) -> ACKDTask:
    torch.manual_seed(0)  # same initial weights for every task built here
    defaults: dict[str, Any] = {
        'student': 'resnet18',
        'teacher': TeacherConfig('resnet18', weights=str(bench['teacher'])),
    }
    return ACKDTask(**(defaults | kwargs))


def test_teacher_frozen_and_in_eval_mode(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    task = _task(bench, cache_teacher=False)
    before = {k: v.clone() for k, v in task.teacher.state_dict().items()}
    seen_modes: list[bool] = []
    # timm's forward_features bypasses the model's own hooks: watch its stem.
    stem = task.teacher.model.conv1
    hook = stem.register_forward_pre_hook(
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


@pytest.mark.parametrize('precision', ['32-true', 'bf16-mixed'])
def test_cached_teacher_equals_uncached(
    bench: dict[str, Path], tmp_path: Path, precision: str
) -> None:
    losses = {}
    for cache in (True, False):
        torch.manual_seed(0)
        task = _task(bench, cache_teacher=cache)
        dm = _datamodule(bench)
        trainer = _trainer(
            tmp_path,
            max_epochs=1,
            limit_train_batches=0,
            limit_val_batches=0,
            precision=precision,
        )
        trainer.fit(task, dm)  # runs on_fit_start: the cache
        assert (task.teacher.gallery is not None) == cache
        assert dm.teacher_images == (not cache)
        dm.teacher_images = True
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
        assert a.dtype == b.dtype
        assert torch.allclose(a.float(), b.float(), atol=atol)


def test_baseline_reads_no_teacher_image(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    task = _task(
        bench,
        kd=DistillationConfig('none'),
        ska=AlignmentConfig(use_ot1=False, use_ot2=False),
    )
    dm = _datamodule(bench, ssm=False)
    _trainer(tmp_path, max_epochs=1, limit_train_batches=0, limit_val_batches=0).fit(
        task, dm
    )
    assert task.teacher.gallery is None and not dm.teacher_images
    assert 'image_ms' not in next(iter(dm.train_dataloader()))


def test_multilabel_teacher_single_label_student(tmp_path: Path) -> None:
    from torchgeo_ackd.datamodules import PairedDataModule
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

    class MultiLabelDataModule(PairedDataModule):
        dataset_class = MultiLabel

    dm = MultiLabelDataModule(root, batch_size=4)
    task = ACKDTask(
        student='resnet18',
        teacher=TeacherConfig('resnet18', weights='random', multilabel=True),
    )
    assert task.teacher.multilabel
    dynm = DynamicMatching(epochs=[0])
    _trainer(tmp_path, fast_dev_run=1, callbacks=[dynm]).fit(task, dm)
    assert (
        dm.ms_train.multilabels is not None and dm.ms_train.multilabels[:, 1].all()
    )  # Forest everywhere
    assert dynm.rematched_epochs == [0]


def test_a_teacher_without_weights_is_refused() -> None:
    # A student taught by an untrained teacher learns noise: only on purpose.
    with pytest.raises(ValueError, match='teacher.weights is not set'):
        ACKDTask(student='resnet18', teacher=TeacherConfig('resnet18'))
    task = ACKDTask(
        student='resnet18', teacher=TeacherConfig('resnet18', weights='random')
    )
    assert task.teacher.input.bands is None  # nothing loaded


def test_bad_teacher_checkpoints(bench: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='take 13 input bands.*built for 12 bands'):
        ACKDTask(
            student='resnet18',
            teacher=TeacherConfig('resnet18', 12, str(bench['teacher'])),
        )
    with pytest.raises(ValueError, match='have 10 classes.*task has 7 classes'):
        ACKDTask(
            student='resnet18',
            teacher=TeacherConfig('resnet18', weights=str(bench['teacher'])),
            num_classes=7,
        )
    with pytest.raises(FileNotFoundError, match='nope.ckpt'):
        ACKDTask(
            student='resnet18',
            teacher=TeacherConfig('resnet18', weights=str(tmp_path / 'nope.ckpt')),
        )


def test_data_that_does_not_fit_the_teacher(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    task = _task(
        bench, teacher=TeacherConfig('resnet18', in_channels=12, weights='random')
    )
    with pytest.raises(
        ValueError,
        match=r'13 MS bands \[.*\], but ACKDTask takes teacher.in_channels=12: set --model.init_args.teacher.in_channels=13',
    ):
        _trainer(tmp_path, max_epochs=1, limit_train_batches=0).fit(
            task, _datamodule(bench)
        )
    task = _task(
        bench, teacher=TeacherConfig('resnet18', weights='random'), num_classes=7
    )
    with pytest.raises(
        ValueError,
        match='10 classes, but ACKDTask takes num_classes=7: set --model.init_args.num_classes=10',
    ):
        _trainer(tmp_path, max_epochs=1, limit_train_batches=0).fit(
            task, _datamodule(bench)
        )


def test_pairing_file_with_missing_samples(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    dm = _datamodule(bench)
    _trainer(
        tmp_path,
        max_epochs=1,
        limit_train_batches=0,
        limit_val_batches=0,
        callbacks=[DynamicMatching(epochs=[])],
    ).fit(_task(bench), dm)
    csv_path = tmp_path / 'pairing_initial' / 'pairing.csv'
    good = tmp_path / 'good.csv'
    shutil.copy(csv_path, good)
    # The written CSV reads back to the same pairing through the datamodule.
    again = _datamodule(bench, ssm=False)
    again.pairing_file = str(good)
    again.setup('fit')
    assert torch.equal(again.pairing.teacher_index, dm.pairing.teacher_index)
    text = good.read_text().replace('_0000.tif', '_9999.tif')
    bad = tmp_path / 'bad.csv'
    bad.write_text(text)
    broken = _datamodule(bench, ssm=False)
    broken.pairing_file = str(bad)
    with pytest.raises(ValueError, match='9999'):
        _trainer(tmp_path, max_epochs=1, limit_train_batches=0).fit(
            _task(bench), broken
        )


def test_pairing_of_another_benchmark(bench: dict[str, Path], tmp_path: Path) -> None:
    other = generate_synthetic_benchmark(
        tmp_path / 'other', **(TINY_DATA | {'ms_per_class': 3})
    )
    dm = SyntheticACKDDataModule(
        root=other,
        batch_size=4,
        pairing_file=bench['pairing'],
        **(TINY_DATA | {'ms_per_class': 3}),
    )
    with pytest.raises(ValueError, match=r'pairing\.pt.*other data'):
        _trainer(tmp_path, max_epochs=1, limit_train_batches=0).fit(_task(bench), dm)


def test_tensorboard_figures(bench: dict[str, Path], tmp_path: Path) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path, name='tb')
    trainer = _trainer(
        tmp_path, max_epochs=2, logger=logger, callbacks=[DynamicMatching(epochs=[1])]
    )
    trainer.fit(_task(bench), _datamodule(bench))
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
        'dynm_distinct_teachers',
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
                f'--model.init_args.teacher.weights={tmp_path / "teacher.pth"}',
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
                    '--model.init_args.teacher.weights=ResNet18_Weights.SENTINEL2_ALL_MOCO',
                    '--data.init_args.pairing_file=null',
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
        teacher=TeacherConfig('resnet18', weights='random'),
        student_weights=str(tmp_path / 'student.pth'),
    )
    assert torch.equal(task.student.fc.weight, student.fc.weight)
