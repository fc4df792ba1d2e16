"""The pipeline's SSM pairings: one file per variant, each as the matcher computes it."""

from pathlib import Path

import torch
from conftest import TINY_DATA

from torchgeo_ackd.callbacks import InitialPairing
from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.datasets import Pairing
from torchgeo_ackd.pipeline.methods import METHODS
from torchgeo_ackd.pipeline.pairings import SSMPairings
from torchgeo_ackd.tasks import MatcherTask

DATAMODULE = 'torchgeo_ackd.datamodules.SyntheticACKDDataModule'


def test_adapted_batchnorm_pairing_is_its_own_variant(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / 'out'
    (out / 'matcher').mkdir(parents=True)
    (out / 'matcher' / 'best.ckpt').symlink_to(bench['matcher'])
    (out / 'matcher' / 'pairing.pt').symlink_to(bench['pairing'])
    init = {'root': str(bench['root']), 'generate': False} | TINY_DATA
    pairings = SSMPairings(DATAMODULE, init, out)

    # The matcher's own pairing stays the plain one; the adapted one is new.
    assert pairings.path(None, None) == out / 'matcher' / 'pairing.pt'
    adapted = pairings.path(None, None, adapt_batchnorm=True)
    assert adapted == out / 'matcher' / 'pairings' / 'nearest_adabn' / 'pairing.pt'
    capped = pairings.path(None, 1.0, adapt_batchnorm=True)
    assert capped.parent.name == 'capacity1.0_adabn'

    # Read back: what InitialPairing computes with the option, for every student.
    matcher = MatcherTask.load_from_checkpoint(
        bench['matcher'], map_location='cpu', weights_only=True
    )
    dm = SyntheticACKDDataModule(**init, modality='ms')
    dm.setup('fit')
    expected = InitialPairing(adapt_batchnorm=True).pairing(matcher, dm)
    written = Pairing.load(adapted, dm.rgb_train, dm.gallery)
    assert torch.equal(written.teacher_index, expected.teacher_index)
    assert torch.equal(dm.gallery.targets[written.teacher_index], dm.rgb_train.targets)
    plain = Pairing.load(bench['pairing'], dm.rgb_train, dm.gallery)
    assert not torch.allclose(plain.scores, written.scores)


def test_adabn_methods_set_the_option() -> None:
    assert METHODS['kd_sembridge_adabn'].adapt_batchnorm
    assert METHODS['kd_sembridge_adabn'].dynm
    assert METHODS['kd_sembridge_adabn_no_dynm'].adapt_batchnorm
    assert not METHODS['kd_sembridge_adabn_no_dynm'].dynm
    # Every other method keeps the reference's embedding.
    others = [m for name, m in METHODS.items() if 'adabn' not in name]
    assert not any(m.adapt_batchnorm for m in others)
