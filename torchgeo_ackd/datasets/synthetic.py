"""The synthetic ACKD benchmark written by :mod:`torchgeo_ackd.synthetic`."""

from typing import ClassVar

from ..sensors import SENTINEL2_EUROSAT, Sensor
from ..synthetic import SYNTHETIC_CLASSES
from .ackd import ACKDDataset


class SyntheticACKD(ACKDDataset):
    """A generated benchmark with a real asymmetric cross-modal problem.

    MS side: 13-band Sentinel-2-like scenes (EuroSAT band order) from endmember
    spectra; RGB side: unpaired scenes of another "region". Some classes are
    nearly identical in RGB and separable only in near-infrared / short-wave
    infrared. Generate it with ``python -m torchgeo_ackd.synthetic --root DIR``
    or let :class:`~torchgeo_ackd.datamodules.SyntheticACKDDataModule` do it.
    See ``docs/synthetic.md``.
    """

    classes: ClassVar[tuple[str, ...]] = SYNTHETIC_CLASSES
    ms_sensor: ClassVar[Sensor] = SENTINEL2_EUROSAT
