"""Classes named by their full path."""

import pytest

from torchgeo_ackd.datamodules import ACKDDataModule, S2SEUDataModule
from torchgeo_ackd.pipeline.classes import load_class


def test_load_class() -> None:
    path = 'torchgeo_ackd.datamodules.S2SEUDataModule'
    assert load_class(path, ACKDDataModule) is S2SEUDataModule
    with pytest.raises(ValueError, match="'torchgeo_ackd.nope.X' names no class"):
        load_class('torchgeo_ackd.nope.X', ACKDDataModule)
    with pytest.raises(
        ValueError, match="'torchgeo_ackd.datamodules.Nope' names no class"
    ):
        load_class('torchgeo_ackd.datamodules.Nope', ACKDDataModule)
    with pytest.raises(ValueError, match='is not a subclass of ACKDDataModule'):
        load_class('torchgeo.datamodules.EuroSATDataModule', ACKDDataModule)
