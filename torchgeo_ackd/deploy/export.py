"""The RGB student alone, for use without this plugin: timm, TorchGeo, a model card.

A student checkpoint holds the frozen teacher, SemBridge's planner and the
optimiser state next to the student, and only this plugin reads it.
:func:`export_student` writes a folder with the student only:

- ``model.safetensors`` and ``config.json``: timm's own layout (as on the
  Hugging Face hub), so ``timm.create_model('local-dir:OUT')`` rebuilds the
  student with its weights, class names (``pretrained_cfg['label_names']``) and
  normalisation;
- ``torchgeo.ckpt``: a Lightning-style checkpoint that TorchGeo's
  ``ClassificationTask(model=..., weights='OUT/torchgeo.ckpt', in_channels=3,
  num_classes=K)`` loads through its ``weights=`` path (``weights_only=True``);
- ``README.md``: a model card (classes, normalisation, data, teacher, method,
  metrics where known).
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from timm.models import save_for_hf
from torch import nn

from ..datamodules import ACKDDataModule
from ..io import atomic_open, read_torch_file
from ..models.factory import create_model
from ..pipeline.classes import class_path, load_class

#: timm's mean/std are for 8-bit images scaled to [0, 1]; ours are in stored units.
_TIMM_SCALE = 255.0


@dataclass(frozen=True)
class StudentCard:
    """What running an exported student needs, and where it came from.

    Attributes:
        model: timm model name.
        classes: Class names, in the order of the logits.
        mean: Per-channel mean (3,) the student's inputs are normalised with,
            in the images' stored units (0-255 for 8-bit images).
        std: Per-channel standard deviation (3,), likewise.
        datamodule: Class path of the benchmark's DataModule it was trained on.
        teacher: timm name and input bands of the MS teacher.
        method: The distillation loss and whether SKA (L_ot1, L_ot2) was on.
        rgb_size: Side length the benchmark resizes RGB images to (None: as
            stored); prediction resizes tiles likewise.
        epoch: Epoch of the checkpoint.
        val_oa: Validation OA the checkpoint was chosen by, if recorded.
        test_metrics: Test metrics of the pipeline run (its ``done.json``), if any.
    """

    model: str
    classes: list[str]
    mean: list[float]
    std: list[float]
    datamodule: str
    teacher: str
    method: str
    rgb_size: int | None
    epoch: int
    val_oa: float | None = None
    test_metrics: dict[str, float] = field(default_factory=dict)


def read_student(checkpoint: str | Path) -> tuple[nn.Module, StudentCard]:
    """The student network of a student-stage checkpoint, and its card.

    Args:
        checkpoint: A checkpoint written by the student stage (``ACKDTask``).

    Returns:
        The student (eval mode, on CPU) and its :class:`StudentCard`.

    Raises:
        ValueError: If the file is not a student checkpoint, or lacks the
            DataModule's class names or RGB statistics.
    """
    path = Path(checkpoint)
    ckpt = read_torch_file(path, 'student checkpoint')
    hp = ckpt.get('hyper_parameters', {}) if isinstance(ckpt, dict) else {}
    if 'student' not in hp or 'num_classes' not in hp:
        raise ValueError(
            f'{path}: not a student checkpoint (its hyper_parameters name no '
            "'student' model); export the best.ckpt of the student stage (ACKDTask)"
        )
    dm_class = _datamodule_class(ckpt, path)
    classes = list(dm_class.dataset_class.classes)
    stats = ckpt.get(dm_class.__qualname__, {})
    if len(classes) != hp['num_classes'] or 'rgb_mean' not in stats:
        raise ValueError(
            f'{path}: expected {hp["num_classes"]} class names and the RGB '
            f'statistics from {dm_class.__name__}; found {len(classes)} classes and '
            f'statistics {sorted(stats)}'
        )
    student = create_model(hp['student'], 3, hp['num_classes'])
    state = {
        k.removeprefix('student.'): v
        for k, v in ckpt['state_dict'].items()
        if k.startswith('student.')
    }
    student.load_state_dict(state)
    student.eval()
    ska = hp.get('ska', {})
    parts = [n for n in ('use_ot1', 'use_ot2') if ska.get(n)]
    teacher = hp.get('teacher', {})
    card = StudentCard(
        model=hp['student'],
        classes=classes,
        mean=[float(v) for v in stats['rgb_mean']],
        std=[float(v) for v in stats['rgb_std']],
        datamodule=class_path(dm_class),
        teacher=f'{teacher.get("model")} ({teacher.get("in_channels")} bands)',
        method=f'KD loss {hp.get("kd", {}).get("loss")}; SKA '
        + (' + '.join(p.removeprefix('use_') for p in parts) if parts else 'off'),
        rgb_size=dm_class.dataset_class.rgb_size,
        epoch=int(ckpt.get('epoch', -1)),
        val_oa=_best_score(ckpt),
        test_metrics=_test_metrics(path.parent / 'done.json'),
    )
    return student, card


def _datamodule_class(ckpt: dict[str, Any], path: Path) -> type[ACKDDataModule]:
    """The DataModule class a checkpoint was trained with."""
    named = ckpt.get('datamodule_hyper_parameters', {}).get('_class_path')
    if named:  # written by a config (LightningCLI)
        return load_class(named, ACKDDataModule)
    # Trained from Python: Lightning keys the DataModule's state by its class name.
    known: dict[str, type[ACKDDataModule]] = {}
    pending: list[type[ACKDDataModule]] = [ACKDDataModule]
    while pending:
        cls = pending.pop()
        known[cls.__qualname__] = cls
        pending += cls.__subclasses__()
    found = {known[k] for k in ckpt if k in known}
    if len(found) != 1:
        raise ValueError(
            f'{path}: cannot tell which ACKD DataModule trained this checkpoint '
            f'(found {sorted(c.__name__ for c in found)}); export a checkpoint of '
            'the student stage'
        )
    return found.pop()


def _best_score(ckpt: dict[str, Any]) -> float | None:
    """The ModelCheckpoint's best monitored score, if one was recorded."""
    for name, state in ckpt.get('callbacks', {}).items():
        if name.startswith('ModelCheckpoint') and state.get('best_model_score'):
            return float(state['best_model_score'])
    return None


def _test_metrics(done_file: Path) -> dict[str, float]:
    """The test metrics a pipeline stage recorded beside its checkpoint."""
    if not done_file.is_file():
        return {}
    metrics = json.loads(done_file.read_text()).get('metrics', {})
    return {k: float(v) for k, v in metrics.items() if k.startswith('test_')}


def export_student(checkpoint: str | Path, out: str | Path) -> StudentCard:
    """Write the student of a checkpoint alone into folder *out*.

    Args:
        checkpoint: A student-stage checkpoint (``best.ckpt``).
        out: Output folder (created; files of an earlier export are replaced).

    Returns:
        The student's card (also written as ``out/README.md``).

    Raises:
        ValueError: See :func:`read_student`.
    """
    student, card = read_student(checkpoint)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # The student's timm config, not that of timm's ImageNet weights for the
    # architecture: our normalisation, whole tiles (no centre crop).
    source_cfg: dict[str, Any] = getattr(student, 'pretrained_cfg', {})
    timm_cfg = {
        k: v
        for k, v in source_cfg.items()
        if not k.startswith(('test_', 'hf_hub', 'url', 'license', 'paper', 'origin'))
        and k not in ('tag', 'notes')
    }
    timm_cfg |= {
        'mean': tuple(m / _TIMM_SCALE for m in card.mean),
        'std': tuple(s / _TIMM_SCALE for s in card.std),
        'crop_pct': 1.0,
    }
    if card.rgb_size is not None:
        timm_cfg['input_size'] = (3, card.rgb_size, card.rgb_size)
    student.pretrained_cfg = timm_cfg  # type: ignore[assignment]
    save_for_hf(
        student,
        str(out),
        model_config={'label_names': card.classes},
        safe_serialization=True,
    )
    # TorchGeo's extract_backbone keeps the keys with 'model.' and strips it.
    torchgeo_ckpt = {
        'hyper_parameters': {
            'model': card.model,
            'in_channels': 3,
            'num_classes': len(card.classes),
        },
        'state_dict': {f'model.{k}': v for k, v in student.state_dict().items()},
        'student_card': asdict(card),
    }
    with atomic_open(out / 'torchgeo.ckpt') as f:
        torch.save(torchgeo_ckpt, f)
    with atomic_open(out / 'README.md', 'w') as f:
        f.write(model_card(card))
    return card


def model_card(card: StudentCard) -> str:
    """A short Markdown model card.

    Args:
        card: The student's card.

    Returns:
        The card's text.
    """

    def numbers(values: list[float]) -> str:
        return ', '.join(f'{v:.4g}' for v in values)

    metrics = ', '.join(f'{k} {v:.4f}' for k, v in sorted(card.test_metrics.items()))
    rows = [
        ('architecture', f'timm `{card.model}`, 3 input bands (RGB)'),
        ('classes', ', '.join(card.classes)),
        (
            'normalisation',
            f'(x - mean) / std, mean [{numbers(card.mean)}], '
            f"std [{numbers(card.std)}], in the images' stored units (0-255 for "
            "8-bit images; timm's config.json holds them divided by 255)",
        ),
        (
            'input',
            f'{card.rgb_size} x {card.rgb_size} pixels (tiles are resized to it)'
            if card.rgb_size
            else 'tiles of any size (as stored)',
        ),
        ('trained on', f'`{card.datamodule}`'),
        ('teacher', f'MS `{card.teacher}`, frozen, unpaired'),
        ('method', card.method),
        (
            'checkpoint',
            f'epoch {card.epoch}'
            + (f', validation OA {card.val_oa:.4f}' if card.val_oa is not None else ''),
        ),
        ('test', metrics or 'not recorded (run the test stage or the pipeline)'),
    ]
    table = '\n'.join(f'| {k} | {v} |' for k, v in rows)
    return f"""# RGB student distilled with ACKD (SemBridge)

Exported by torchgeo-ackd. An RGB classifier taught by an unpaired
multispectral teacher (Asymmetric Cross-modal Knowledge Distillation).

| | |
|---|---|
{table}

## Use

```python
import timm

model = timm.create_model('local-dir:PATH/TO/THIS/FOLDER', pretrained=True).eval()
names = model.pretrained_cfg['label_names']
```

or in TorchGeo: `ClassificationTask(model='{card.model}', in_channels=3,
num_classes={len(card.classes)}, weights='PATH/TO/THIS/FOLDER/torchgeo.ckpt')`.
Inputs: RGB (B, 3, H, W), normalised as above; any tile size the network
accepts.
"""
