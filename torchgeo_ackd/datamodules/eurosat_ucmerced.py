"""LightningDataModules of the open EuroSAT -> UC Merced benchmark (TorchGeo downloads it)."""

from pathlib import Path
from typing import Any

from ..datasets import ACKDDataset, EuroSATUCMerced
from .ms import MSDataModule
from .paired import PairedDataModule


class TorchGeoDownload:
    """``download`` and ``checksum`` arguments, and a :meth:`prepare_data` that downloads."""

    root: Path
    dataset_class: type[ACKDDataset]

    def __init__(
        self,
        root: str | Path = 'data/eurosat_ucmerced',
        download: bool = False,
        checksum: bool = True,
        **kwargs: Any,
    ) -> None:
        """Initialize the download arguments.

        Args:
            root: Root directory of the benchmark (TorchGeo's datasets extract
                their archives there).
            download: Download missing archives with TorchGeo's dataset classes
                (:meth:`~torchgeo_ackd.datasets.ACKDDataset.download`).
            checksum: Verify each downloaded archive's checksum.
            **kwargs: Arguments of the stage's DataModule.
        """
        # The next class in the MRO: the stage's DataModule.
        super().__init__(root=root, **kwargs)  # type: ignore[call-arg]
        self.download = download
        self.checksum = checksum

    def prepare_data(self) -> None:
        """Download the benchmark (once, on one process) if asked to."""
        if self.download:
            self.dataset_class.download(self.root, self.checksum)


class EuroSATUCMercedMSDataModule(TorchGeoDownload, MSDataModule):
    """EuroSAT -> UC Merced, teacher and matcher stages (see :class:`TorchGeoDownload`)."""

    dataset_class = EuroSATUCMerced


class EuroSATUCMercedDataModule(TorchGeoDownload, PairedDataModule):
    """EuroSAT -> UC Merced, student stage (see :class:`TorchGeoDownload`)."""

    dataset_class = EuroSATUCMerced
    ms_datamodule = EuroSATUCMercedMSDataModule
