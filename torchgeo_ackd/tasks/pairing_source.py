"""Where the ACKD task's initial pairing comes from, and where pairings are written."""

from pathlib import Path

import torch
from torch import Tensor

from ..datamodules import ACKDDataModule
from ..matching.initial import initial_pairing, load_pairing, save_pairing


def initial_pairing_from(
    dm: ACKDDataModule,
    pairing_file: str | None,
    matcher_checkpoint: str | None,
    chunk_size: int = 4096,
    device: torch.device | str = 'cpu',
) -> Tensor:
    """The SSM pairing: read from the matcher stage's file, or computed from its checkpoint.

    Args:
        dm: A set-up paired datamodule.
        pairing_file: ``pairing.pt`` or ``pairing.csv`` written by the matcher stage.
        matcher_checkpoint: Matcher checkpoint (used when no *pairing_file*).
        chunk_size: Students per chunk of the cosine search.
        device: Device to embed on (the student's: under DDP with NCCL the
            gathered embeddings must live on the GPU).

    Returns:
        Teacher gallery index per student (N_s,).

    Raises:
        ValueError: If neither source is given, or the checkpoint does not fit
            the data.
    """
    if pairing_file is not None:
        return load_pairing(pairing_file, dm)
    if matcher_checkpoint is None:
        raise ValueError(
            'ssm=True needs the matcher stage: pass pairing_file (pairing.pt or '
            'pairing.csv) or matcher_checkpoint; or set ssm=false for a seeded random '
            'same-class pairing'
        )
    from .matcher import MatcherTask

    path = Path(matcher_checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f'matcher checkpoint {str(path)!r} does not exist')
    check_matcher_checkpoint(path, dm)
    matcher = MatcherTask.load_from_checkpoint(
        path, map_location='cpu', weights_only=True
    )
    pairing, _ = initial_pairing(matcher, dm, chunk_size=chunk_size)
    return pairing


def check_matcher_checkpoint(path: Path, dm: ACKDDataModule) -> None:
    """Refuse a matcher checkpoint trained on another dataset or band set.

    Args:
        path: Matcher checkpoint.
        dm: The student's datamodule.

    Raises:
        ValueError: If its band count, datamodule class or MS statistics differ.
    """
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    assert dm.ms_train is not None
    bands = len(dm.ms_train.bands)
    in_channels = ckpt.get('hyper_parameters', {}).get('in_channels')
    if in_channels is not None and in_channels != bands:
        raise ValueError(
            f'matcher checkpoint {str(path)!r} takes {in_channels} MS bands, the data '
            f'have {bands}'
        )
    name = type(dm).__qualname__
    states = {k: v for k, v in ckpt.items() if k.endswith('DataModule')}
    if states and name not in states:
        raise ValueError(
            f'matcher checkpoint {str(path)!r} was trained with {sorted(states)}, not {name}'
        )
    state = states.get(name, {})
    mean = dm.stats['ms_mean']
    if (
        'ms_mean' in state
        and mean is not None
        and not torch.allclose(state['ms_mean'], mean, rtol=1e-3)
    ):
        raise ValueError(
            f'matcher checkpoint {str(path)!r} was trained on MS data with other '
            'statistics (another dataset, split or band set)'
        )


def write_pairing_files(
    directory: Path, dm: ACKDDataModule, scores: Tensor | None = None
) -> None:
    """Write the datamodule's current pairing as ``pairing.pt`` and ``pairing.csv``.

    Args:
        directory: Output folder.
        dm: A set-up paired datamodule.
        scores: Score per student (cosine or KL); NaN when unknown.
    """
    pairing = dm.pairing.clone()
    if scores is None:
        scores = torch.full((len(pairing),), float('nan'))
    save_pairing(directory, pairing, scores.cpu(), dm)
