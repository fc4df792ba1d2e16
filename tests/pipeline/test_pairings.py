"""The pipeline's SSM pairings: one file per split, each as the matcher computes it."""

from pathlib import Path

import torch
from conftest import TINY_DATA, ssm_pairing_of

from torchgeo_ackd.datamodules import SyntheticMSDataModule
from torchgeo_ackd.datasets import Pairing, SyntheticACKD
from torchgeo_ackd.pipeline.folds import write_fold_split
from torchgeo_ackd.pipeline.pairings import SSMPairings
from torchgeo_ackd.tasks import MatcherTask

DATAMODULE = 'torchgeo_ackd.datamodules.SyntheticMSDataModule'


def test_a_fold_gets_the_matchers_pairing_of_its_students(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / 'out'
    (out / 'matcher').mkdir(parents=True)
    (out / 'matcher' / 'best.ckpt').symlink_to(bench['matcher'])
    (out / 'matcher' / 'pairing.pt').symlink_to(bench['pairing'])
    init = {'root': str(bench['root']), 'generate': False} | TINY_DATA
    pairings = SSMPairings(DATAMODULE, init, out)

    # The default split: the matcher stage's own pairing, not computed again.
    assert pairings.path(None) == out / 'matcher' / 'pairing.pt'
    split = tmp_path / 'fold1' / 'split.csv'
    write_fold_split(split, SyntheticACKD, {'root': init['root']}, None, 1, 3, seed=0)
    path = pairings.path(split)
    assert path == tmp_path / 'fold1' / 'pairings' / 'nearest' / 'pairing.pt'

    # Read back: what SSM computes for that fold's students, with
    # the matcher's weights and the statistics it was trained with.
    matcher = MatcherTask.load_from_checkpoint(
        bench['matcher'], map_location='cpu', weights_only=True
    )
    state = torch.load(bench['matcher'], map_location='cpu', weights_only=True)
    stats = {
        k: v.tolist()
        for k, v in state['SyntheticMSDataModule'].items()
        if k.endswith(('_mean', '_std'))
    }
    dm = SyntheticMSDataModule(**init | stats, split_file=str(split))
    dm.setup('fit')
    expected = ssm_pairing_of(matcher, dm)
    written = Pairing.load(path, dm.rgb_train, dm.gallery)
    assert torch.equal(written.teacher_index, expected.teacher_index)
    assert torch.equal(dm.gallery.targets[written.teacher_index], dm.rgb_train.targets)
    # Computed once: asked again, the file is reused.
    stamp = path.stat().st_mtime_ns
    assert pairings.path(split) == path and path.stat().st_mtime_ns == stamp
