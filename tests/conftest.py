import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
import yaml

if TYPE_CHECKING:
    from lightning.pytorch import Trainer

# Small test models are fastest single-threaded; 2 xdist workers share 2 cores.
torch.set_num_threads(1)
# The image preflight's cache goes to a temporary folder, not the user's, and
# is removed when the test process ends.
if 'TORCHGEO_ACKD_CACHE' not in os.environ:
    os.environ['TORCHGEO_ACKD_CACHE'] = tempfile.mkdtemp(prefix='ackd-cache-')
    atexit.register(shutil.rmtree, os.environ['TORCHGEO_ACKD_CACHE'], True)

TESTS = Path(__file__).parent
REAL_MINI = TESTS.parent.parent / 'shared' / 'data' / 'ackd-real-mini'
# The benchmark scripts import one another by name; their tests import them so.
sys.path.insert(0, str(TESTS.parent / 'benchmarks'))

# The fake-data generator sits beside the fixtures, as in TorchGeo.
_spec = importlib.util.spec_from_file_location(
    'ackd_fake_data', TESTS / 'data' / 'ackd' / 'data.py'
)
assert _spec is not None and _spec.loader is not None
fake_data = importlib.util.module_from_spec(_spec)
sys.modules['ackd_fake_data'] = fake_data
_spec.loader.exec_module(fake_data)


_CALL_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    report = yield
    if report.when == 'call':
        item.stash[_CALL_PASSED] = report.passed
    return report


@pytest.fixture(autouse=True)
def _remove_tmp_path_of_passed_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Delete a passed test's ``tmp_path`` as soon as it ends.

    Training tests write checkpoints; pytest's own retention removes them only
    when the whole session ends, so a lane's peak disk use would be the sum of
    all of them. A failed test's folder is kept for inspection.
    """
    yield
    path = request.node.funcargs.get('tmp_path')
    if path is not None and request.node.stash.get(_CALL_PASSED, False):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def real_mini() -> Path:
    """The shared real-imagery mini benchmark; skips when it is absent."""
    if not (REAL_MINI / 'MS').is_dir():
        pytest.skip(f'real benchmark not found at {REAL_MINI}')
    return REAL_MINI


#: A tiny synthetic benchmark: every stage trains in seconds on it.
TINY_DATA = {'ms_per_class': 5, 'rgb_per_class': 5, 'ms_size': 16, 'rgb_size': 24}
TINY_TRAINER = [
    '--trainer.accelerator=cpu',
    '--trainer.enable_progress_bar=false',
    '--trainer.enable_model_summary=false',
    '--trainer.logger=false',
]


def quiet_trainer(tmp_path: Path, **kwargs: Any) -> 'Trainer':
    """A CPU Trainer without logger, checkpoints or progress output, for tests."""
    from lightning.pytorch import Trainer

    defaults: dict[str, Any] = {
        'accelerator': 'cpu',
        'logger': False,
        'enable_progress_bar': False,
        'enable_model_summary': False,
        'default_root_dir': tmp_path,
        'enable_checkpointing': False,
    }
    return Trainer(**(defaults | kwargs))


def ssm_pairing_of(matcher: Any, dm: Any, chunk_size: int = 4096) -> Any:
    """:func:`~torchgeo_ackd.matching.ssm_pairing` of a datamodule's RGB training set."""
    from torchgeo_ackd.matching import ssm_pairing

    loaders = (dm.student_dataloader(), dm.gallery_dataloader())
    return ssm_pairing(
        matcher, dm.rgb_train, dm.gallery, loaders, dm.preprocess, chunk_size
    )


def seeded_student(bench: dict[str, Path]) -> Any:
    """A ResNet-18 ACKDTask with the bench's teacher, initialised with seed 0."""
    from torchgeo_ackd.models.teacher import TeacherConfig
    from torchgeo_ackd.tasks import ACKDTask

    torch.manual_seed(0)
    return ACKDTask(
        student='resnet18',
        teacher=TeacherConfig('resnet18', weights=str(bench['teacher'])),
    )


def fit_student(
    bench: dict[str, Path], tmp_path: Path, steps: int, callbacks: list[Any]
) -> Any:
    """Train :func:`seeded_student` for *steps* steps on the bench, no re-matching."""
    from torchgeo_ackd.callbacks import DynamicMatching
    from torchgeo_ackd.datamodules import SyntheticACKDDataModule

    task = seeded_student(bench)
    dm = SyntheticACKDDataModule(root=bench['root'], batch_size=4, **TINY_DATA)
    trainer = quiet_trainer(
        tmp_path,
        max_epochs=1,
        limit_train_batches=steps,
        limit_val_batches=0,
        callbacks=[DynamicMatching(epochs=[], log_pairs=0), *callbacks],
    )
    trainer.fit(task, dm)
    return task


@pytest.fixture(scope='session')
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny benchmark plus a teacher and a matcher trained on it (1 epoch each).

    Returns:
        ``root``, the ``teacher`` checkpoint, the ``matcher`` checkpoint, the
        matcher's ``pairing`` file and the ``base`` folder.
    """
    from torchgeo_ackd.cli import main
    from torchgeo_ackd.synthetic import generate_synthetic_benchmark

    base = tmp_path_factory.mktemp('ackd')
    root = generate_synthetic_benchmark(base / 'synthetic', **TINY_DATA)
    data = [f'--data.init_args.root={root}'] + [
        f'--data.init_args.{k}={v}' for k, v in TINY_DATA.items()
    ]
    conf = TESTS.parent / 'conf'
    for stage in ('teacher', 'matcher'):
        out = base / stage
        main(
            [
                'fit',
                f'--config={conf / f"{stage}.yaml"}',
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
        'pairing': base / 'matcher' / 'pairing.pt',
        'base': base,
    }


def ackd_args(bench: dict[str, Path], out: Path, *extra: str) -> list[str]:
    """``torchgeo fit`` arguments of conf/ackd.yaml on the tiny benchmark.

    The config is copied with its checkpoints pointed at *out* (and no
    ``last.ckpt``: 190 MB per run); DynamicMatching stays the last callback
    and re-matches at epoch 0.
    """
    config = yaml.safe_load((TESTS.parent / 'conf' / 'ackd.yaml').read_text())
    checkpoint, dynm = config['trainer']['callbacks']
    checkpoint['init_args'] |= {'dirpath': str(out), 'save_last': False}
    dynm['init_args']['epochs'] = [0]
    out.mkdir(parents=True, exist_ok=True)
    (out / 'ackd.yaml').write_text(yaml.safe_dump(config))
    return [
        f'--config={out / "ackd.yaml"}',
        f'--data.init_args.root={bench["root"]}',
        *[f'--data.init_args.{k}={v}' for k, v in TINY_DATA.items()],
        '--data.init_args.batch_size=4',
        f'--data.init_args.pairing_file={bench["pairing"]}',
        f'--model.init_args.teacher.weights={bench["teacher"]}',
        f'--trainer.default_root_dir={out}',
        *TINY_TRAINER,
        *extra,
    ]


@pytest.fixture(scope='session')
def student_checkpoint(
    bench: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A student-stage ``best.ckpt`` of conf/ackd.yaml (1 epoch on the bench)."""
    from torchgeo_ackd.cli import main

    out = tmp_path_factory.mktemp('student')
    main(['fit', *ackd_args(bench, out, '--trainer.max_epochs=1')])
    return out / 'best.ckpt'


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Path]:
    """A torch hub folder that TorchGeo's loader reads weights from (offline)."""
    old = torch.hub.get_dir()
    (tmp_path / 'hub' / 'checkpoints').mkdir(parents=True)
    torch.hub.set_dir(str(tmp_path / 'hub'))
    yield tmp_path / 'hub' / 'checkpoints'
    torch.hub.set_dir(old)


def serve_weights(hub: Path, enum_name: str, arch: str) -> dict[str, torch.Tensor]:
    """Put a random backbone where TorchGeo's loader finds *enum_name* (offline)."""
    import timm
    from torchgeo.models import get_weight

    weights = get_weight(enum_name)
    backbone = timm.create_model(arch, in_chans=weights.meta['in_chans'], num_classes=0)
    torch.save(backbone.state_dict(), hub / Path(weights.url).name)
    return backbone.state_dict()
