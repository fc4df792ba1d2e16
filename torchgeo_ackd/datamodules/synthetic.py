"""LightningDataModule of the synthetic default benchmark (generated on demand)."""

from pathlib import Path
from typing import Any

from ..datasets import SyntheticACKD
from ..synthetic import generate_synthetic_benchmark
from .ackd import ACKDDataModule


class SyntheticACKDDataModule(ACKDDataModule):
    """The synthetic benchmark; :meth:`prepare_data` writes it if it is absent.

    Generation is seeded and reuses an existing benchmark written with the same
    parameters (it never overwrites a different one), so every stage of the
    pipeline can name the same root and the first one creates it.
    """

    dataset_class = SyntheticACKD

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
        """Initialize a new SyntheticACKDDataModule instance.

        Args:
            root: Where the benchmark is (or will be) written.
            generate: Generate the benchmark in :meth:`prepare_data` if absent.
            ms_per_class: MS images per class to generate.
            rgb_per_class: RGB images per class to generate.
            ms_size: MS image side length (pixels).
            rgb_size: RGB image side length (pixels).
            generator_seed: Seed of the generator.
            mixed: Scenes mix their class with a second land cover (the
                mechanism that knowledge distillation can pass on; see
                :mod:`~torchgeo_ackd.synthetic.mixtures`); False: pure scenes,
                the control under which no method should gain.
            **kwargs: Arguments of :class:`ACKDDataModule`.
        """
        super().__init__(root=root, **kwargs)
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
