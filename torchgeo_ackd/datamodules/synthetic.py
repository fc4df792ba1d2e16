"""LightningDataModules of the synthetic default benchmark (generated on demand)."""

from pathlib import Path
from typing import Any

from ..datasets import SyntheticACKD
from ..synthetic import generate_synthetic_benchmark
from .ms import MSDataModule
from .paired import PairedDataModule


class SyntheticBenchmark:
    """The generator's arguments and :meth:`prepare_data`, for both synthetic DataModules."""

    root: Path

    def __init__(
        self,
        root: str | Path = 'data/synthetic',
        generate: bool = True,
        ms_per_class: int = 100,
        rgb_per_class: int = 60,
        ms_size: int = 32,
        rgb_size: int = 64,
        generator_seed: int = 0,
        mixed: bool = True,
        **kwargs: Any,
    ) -> None:
        """Initialize the generator's arguments.

        Args:
            root: Where the benchmark is (or will be) written.
            generate: Generate the benchmark in :meth:`prepare_data` if absent.
            ms_per_class: MS images per class to generate.
            rgb_per_class: RGB images per class to generate.
            ms_size: MS image side length (pixels).
            rgb_size: RGB image side length (pixels).
            generator_seed: Seed of the generator.
            mixed: Scenes mix their class with a second land cover (what
                distillation can pass on; see :mod:`~torchgeo_ackd.synthetic.mixtures`);
                False: pure scenes, the control where no method should gain.
            **kwargs: Arguments of the stage's DataModule.
        """
        # The next class in the MRO: the stage's DataModule.
        super().__init__(root=root, **kwargs)  # type: ignore[call-arg]
        self.generate = generate
        self.generator_kwargs: dict[str, Any] = {
            'ms_per_class': ms_per_class,
            'rgb_per_class': rgb_per_class,
            'ms_size': ms_size,
            'rgb_size': rgb_size,
            'seed': generator_seed,
            'mixed': mixed,
        }

    def prepare_data(self) -> None:
        """Generate the benchmark (once, on one process) if asked to."""
        if self.generate:
            generate_synthetic_benchmark(self.root, **self.generator_kwargs)


class SyntheticMSDataModule(SyntheticBenchmark, MSDataModule):
    """The synthetic benchmark, teacher and matcher stages (see :class:`SyntheticBenchmark`)."""

    dataset_class = SyntheticACKD


class SyntheticACKDDataModule(SyntheticBenchmark, PairedDataModule):
    """The synthetic benchmark, student stage.

    :meth:`prepare_data` writes the benchmark if it is absent (never over a
    different one), so every stage can name the same root.
    """

    dataset_class = SyntheticACKD
    ms_datamodule = SyntheticMSDataModule
