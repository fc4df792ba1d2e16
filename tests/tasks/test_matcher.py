import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import ssm_pairing_of
from lightning.pytorch import Trainer
from torch.optim import AdamW
from torch.optim.lr_scheduler import ReduceLROnPlateau

from torchgeo_ackd.callbacks import InitialPairing
from torchgeo_ackd.cli import main
from torchgeo_ackd.datamodules import SyntheticMSDataModule
from torchgeo_ackd.datasets import Pairing
from torchgeo_ackd.matching import retrieval_top1
from torchgeo_ackd.synthetic import generate_synthetic_benchmark
from torchgeo_ackd.tasks import MatcherTask

CONF = Path(__file__).parents[2] / 'conf'
TINY = [
    '--data.init_args.ms_per_class=5',
    '--data.init_args.rgb_per_class=4',
    '--data.init_args.ms_size=16',
    '--data.init_args.rgb_size=24',
    '--data.init_args.batch_size=8',
    '--trainer.accelerator=cpu',
    '--trainer.enable_progress_bar=false',
    '--trainer.enable_model_summary=false',
    '--trainer.log_every_n_steps=1',
]


def _metrics(log_dir: Path) -> list[dict[str, str]]:
    files = sorted(log_dir.rglob('metrics.csv'))
    assert files, f'no metrics.csv under {log_dir}'
    with open(files[-1], newline='') as f:
        return list(csv.DictReader(f))


def _last(rows: list[dict[str, str]], key: str) -> float:
    values = [float(r[key]) for r in rows if r.get(key)]
    assert values, f'{key} was never logged'
    return values[-1]


def test_fit_validate_and_pairing_through_cli(tmp_path: Path) -> None:
    out = tmp_path / 'matcher'
    root = tmp_path / 'synthetic'
    args = [
        '--config',
        str(CONF / 'matcher.yaml'),
        f'--data.init_args.root={root}',
        f'--trainer.default_root_dir={out}',
        f'--trainer.callbacks.init_args.dirpath={out}',
        '--trainer.max_epochs=1',
        '--trainer.logger=lightning.pytorch.loggers.CSVLogger',
        f'--trainer.logger.init_args.save_dir={out / "logs"}',
        *TINY,
    ]
    main(['fit', *args])

    ckpt = out / 'matcher.ckpt'
    assert ckpt.is_file()
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert state['hyper_parameters']['embed_dim'] == 256
    assert state['hyper_parameters']['temperature'] == 1.0

    rows = _metrics(out / 'logs')
    assert 0 <= _last(rows, 'val_retrieval_top1') <= 1
    assert 0 <= _last(rows, 'val_retrieval_class_top1') <= 1
    assert np.isfinite(_last(rows, 'val_loss'))
    assert np.isfinite(_last(rows, 'train_loss'))
    assert -1 <= _last(rows, 'pairing_mean_cosine') <= 1
    # Zero-shot cross-modal retrieval of the RGB validation images is logged.
    assert 0 <= _last(rows, 'cross_modal_top1') <= 1

    # The pairing files: both formats, same pairing, within class.
    dm = SyntheticMSDataModule(root=root, generate=False, pseudo_rgb=True)
    dm.setup('fit')
    from_pt = Pairing.load(out / 'pairing.pt', dm.rgb_train, dm.ms_train).teacher_index
    from_csv = Pairing.load(out / 'pairing.csv', dm.rgb_train, dm.ms_train)
    assert torch.equal(from_pt, from_csv.teacher_index)
    assert from_pt.shape == (len(dm.rgb_train),)
    assert torch.equal(dm.ms_train.targets[from_pt], dm.rgb_train.targets)
    saved = torch.load(out / 'pairing.pt', weights_only=True)
    with open(out / 'pairing.csv', newline='') as f:
        csv_scores = [float(r['score']) for r in csv.DictReader(f)]
    np.testing.assert_allclose(csv_scores, saved['scores'].numpy(), rtol=1e-6)
    assert float(saved['scores'].mean()) == pytest.approx(
        _last(rows, 'pairing_mean_cosine'), rel=1e-6
    )

    # The checkpoint validates through the CLI and logs the retrieval metric.
    main(['validate', *args, f'--ckpt_path={ckpt}'])
    rows = _metrics(out / 'logs' / 'lightning_logs')
    assert 0 <= _last(rows, 'val_retrieval_top1') <= 1


def _numpy_retrieval(
    query: np.ndarray, gallery: np.ndarray, labels: np.ndarray
) -> tuple[float, float]:
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    best = (q @ g.T).argmax(axis=1)
    return (
        float((best == np.arange(len(q))).mean()),
        float((labels[best] == labels).mean()),
    )


@pytest.mark.parametrize('chunk_size', [1, 7, 4096])
def test_retrieval_top1_matches_numpy(chunk_size: int) -> None:
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(50, 8))
    # Half of the queries are noisy copies of their own view, half random.
    query = gallery + rng.normal(scale=0.3, size=gallery.shape)
    query[25:] = rng.normal(size=(25, 8))
    labels = rng.integers(0, 3, size=50)
    expected = _numpy_retrieval(query, gallery, labels)
    assert 0.3 < expected[0] < 0.9  # a non-trivial case
    instance, same_class = retrieval_top1(
        torch.from_numpy(query),
        torch.from_numpy(gallery),
        torch.from_numpy(labels),
        chunk_size=chunk_size,
    )
    assert same_class is not None
    assert instance.item() == pytest.approx(expected[0])
    assert same_class.item() == pytest.approx(expected[1])


def test_retrieval_top1_edge_cases() -> None:
    x = torch.randn(6, 4)
    instance, same_class = retrieval_top1(x, 3 * x)
    assert instance.item() == 1.0 and same_class is None
    with pytest.raises(ValueError, match='equal shape'):
        retrieval_top1(x, x[:5])
    with pytest.raises(ValueError, match='labels'):
        retrieval_top1(x, x, torch.zeros(5, dtype=torch.long))


def _task(**kwargs: Any) -> MatcherTask:
    torch.manual_seed(0)
    defaults: dict[str, Any] = {
        'ms_model': 'resnet10t',
        'rgb_model': 'resnet10t',
        'in_channels': 4,
        'embed_dim': 8,
    }
    return MatcherTask(**(defaults | kwargs))


def test_epoch_metric_over_all_batches_deduplicated() -> None:
    task = _task().eval()
    g = torch.Generator().manual_seed(1)
    ms = torch.randn(10, 4, 16, 16, generator=g)
    rgb = torch.randn(10, 3, 16, 16, generator=g)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    logged: dict[str, float] = {}

    def log(name: str, value: torch.Tensor, **kwargs: Any) -> None:
        logged[name] = float(value)

    task.log = log  # type: ignore[method-assign]
    task.on_validation_epoch_start()
    # Three batches, with samples 0 and 1 repeated as a DistributedSampler pads.
    for index in ([3, 4, 5, 6], [7, 8, 9, 0], [1, 2, 0, 1]):
        i = torch.tensor(index)
        batch = {'image': ms[i], 'image_pseudo_rgb': rgb[i], 'label': labels[i]}
        with torch.no_grad():
            task.validation_step(batch | {'index': i}, 0)
    task.on_validation_epoch_end()

    with torch.no_grad():
        ms_emb, rgb_emb = task(ms, rgb)
    expected = _numpy_retrieval(
        rgb_emb.double().numpy(), ms_emb.double().numpy(), labels.numpy()
    )
    assert logged['val_retrieval_top1'] == pytest.approx(expected[0])
    assert logged['val_retrieval_class_top1'] == pytest.approx(expected[1])
    assert 'val_loss' in logged
    assert task._eval_outputs == []


def test_training_step_and_errors() -> None:
    task = _task()
    batch = {
        'image': torch.randn(3, 4, 16, 16),
        'image_pseudo_rgb': torch.randn(3, 3, 16, 16),
    }
    task.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    loss = task.training_step(batch, 0)
    assert loss is not None and loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert task.ms_encoder.conv1[0].weight.grad is not None
    # A batch of one sample has no negatives: skipped.
    with pytest.warns(UserWarning, match='one sample'):
        single = {k: v[:1] for k, v in batch.items()}
        assert task.training_step(single, 0) is None
    with pytest.raises(ValueError, match='pseudo_rgb=True'):
        task.training_step({'image': batch['image']}, 0)
    with pytest.raises(ValueError, match=r'in_channels=4'):
        task.embed_ms(torch.randn(2, 13, 16, 16))
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        task.embed_rgb(torch.randn(2, 4, 16, 16))


def test_one_training_step_updates_batchnorm_statistics_once() -> None:
    """The RGB encoder runs once per step (the reference ran it twice)."""
    task = _task().train()
    batch = {
        'image': torch.randn(4, 4, 16, 16),
        'image_pseudo_rgb': 3 + torch.randn(4, 3, 16, 16),
    }
    task.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    norm = task.rgb_encoder.conv1[1]  # the first BatchNorm, fed by conv1[0]
    seen: list[torch.Tensor] = []
    norm.register_forward_hook(lambda m, inputs, output: seen.append(inputs[0]))
    before = norm.running_mean.clone()
    task.training_step(batch, 0)
    (features,) = seen  # one pass
    expected = 0.9 * before + 0.1 * features.mean(dim=(0, 2, 3)).detach()
    torch.testing.assert_close(norm.running_mean, expected)


def test_optimizer() -> None:
    opt = _task(lr=0.01, weight_decay=0.02).configure_optimizers()
    assert isinstance(opt, AdamW)
    assert opt.defaults['lr'] == 0.01 and opt.defaults['weight_decay'] == 0.02
    config = _task(patience=3).configure_optimizers()
    assert isinstance(config['lr_scheduler']['scheduler'], ReduceLROnPlateau)
    assert config['lr_scheduler']['monitor'] == 'val_loss'


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'in_channels': 0}, 'in_channels'),
        ({'embed_dim': 0}, 'embed_dim'),
        ({'dropout': 1.0}, 'dropout'),
        ({'temperature': 0.0}, 'temperature'),
        ({'lr': -1.0}, 'lr'),
        ({'weight_decay': -1.0}, 'weight_decay'),
        ({'patience': -1}, 'patience'),
        ({'retrieval_chunk_size': 0}, 'retrieval_chunk_size'),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _task(**kwargs)


def test_ddp_spawn_fit_equals_single_process(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(
        tmp_path / 'synthetic',
        ms_per_class=5,
        rgb_per_class=4,
        ms_size=16,
        rgb_size=24,
    )

    def datamodule() -> SyntheticMSDataModule:
        return SyntheticMSDataModule(
            root=root, generate=False, pseudo_rgb=True, batch_size=8
        )

    def trainer(**kwargs: Any) -> Trainer:
        return Trainer(
            accelerator='cpu',
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            **kwargs,
        )

    task = _task(in_channels=13)
    ddp = trainer(
        max_epochs=1,
        devices=2,
        strategy='ddp_spawn',
        callbacks=[InitialPairing(output_dir=str(tmp_path / 'out'))],
    )
    ddp.fit(task, datamodule())
    ddp_top1 = float(ddp.callback_metrics['val_retrieval_top1'])
    ddp_class = float(ddp.callback_metrics['val_retrieval_class_top1'])

    # ddp_spawn hands the trained weights back to this process: one process
    # must reproduce the pairing rank 0 wrote and the gathered metrics.
    dm = datamodule()
    dm.setup('fit')
    written = Pairing.load(tmp_path / 'out' / 'pairing.pt', dm.rgb_train, dm.ms_train)
    again = ssm_pairing_of(task, dm)
    assert torch.equal(written.teacher_index, again.teacher_index)
    single = trainer(devices=1)
    single.validate(task, dm)
    assert float(single.callback_metrics['val_retrieval_top1']) == ddp_top1
    assert float(single.callback_metrics['val_retrieval_class_top1']) == ddp_class


def test_matcher_stage_on_a_root_with_ms_images_only(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / 'synthetic'
    generate_synthetic_benchmark(
        root, ms_per_class=4, rgb_per_class=3, ms_size=16, rgb_size=24
    )
    shutil.rmtree(root / 'RGB')
    out = tmp_path / 'matcher'
    args = [
        'fit',
        '--config',
        str(CONF / 'matcher.yaml'),
        f'--data.init_args.root={root}',
        '--data.init_args.generate=false',
        f'--trainer.default_root_dir={out}',
        f'--trainer.callbacks.init_args.dirpath={out}',
        '--trainer.max_epochs=1',
        *TINY,
    ]
    with pytest.warns(UserWarning, match='no initial pairing was written'):
        main(args)
    assert (out / 'matcher.ckpt').is_file()
    assert not (out / 'pairing.pt').exists()
    # The pseudo-RGB views were normalised with their own statistics.
    state = torch.load(out / 'matcher.ckpt', map_location='cpu', weights_only=False)
    stats = state['SyntheticMSDataModule']
    assert 'rgb_mean' not in stats and stats['pseudo_rgb_mean'].shape == (3,)


def test_bands_are_checked_before_the_first_step(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(
        tmp_path / 'data', ms_per_class=4, rgb_per_class=3, ms_size=16, rgb_size=24
    )
    dm = SyntheticMSDataModule(
        root,
        generate=False,
        pseudo_rgb=True,
        bands=['B02', 'B03', 'B04', 'B08'],
    )
    trainer = Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, barebones=True
    )
    with pytest.raises(
        ValueError,
        match=r"SyntheticMSDataModule gives 4 MS bands \['B02', 'B03', 'B04', 'B08'\], "
        r'but MatcherTask takes in_channels=13: set --model.init_args.in_channels=4',
    ):
        trainer.fit(_task(in_channels=13), dm)
