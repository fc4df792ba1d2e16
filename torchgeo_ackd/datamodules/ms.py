"""DataModule of the teacher and matcher stages: MS images."""

from pathlib import Path
from typing import Any, ClassVar

from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import Dataset

from ..datasets.ackd import Sample
from .ackd import ACKDDataModule


class MSDataModule(ACKDDataModule):
    """MS batches (``image``, ``label``, ``index``): the teacher and matcher stages.

    The matcher stage sets ``pseudo_rgb=True``, adding the pseudo-RGB view of
    each MS image. A root without RGB images is enough for both stages.
    """

    image_modality: ClassVar[str] = 'ms'

    def __init__(
        self,
        root: str | Path = 'data',
        *,
        ms_augment: bool = True,
        pseudo_rgb: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new MSDataModule instance.

        Args:
            root: Root directory of the benchmark.
            ms_augment: Augment MS training images.
            pseudo_rgb: Add ``image_pseudo_rgb`` to every batch, normalised with the
                real RGB images' statistics so the matcher's encoders see one scale
                (without RGB images or ``rgb_mean``/``rgb_std``: the views' own).
            **kwargs: Arguments of :class:`ACKDDataModule`.
        """
        super().__init__(root, ms_augment=ms_augment, **kwargs)
        self.pseudo_rgb = pseudo_rgb

    def checked_modalities(self) -> tuple[str, ...]:
        """MS images; RGB ones too where they normalise the pseudo-RGB views."""
        return ('ms', 'rgb') if self.pseudo_rgb and self.has_rgb else ('ms',)

    def training_set(self) -> Dataset[Sample]:
        """The MS training split."""
        return self.ms_train

    def normalised_like(self, modality: str) -> str:
        """Pseudo-RGB views are normalised like the RGB images, when there are any."""
        if modality != 'pseudo_rgb':
            return modality
        given = self.stats['rgb_mean'] is not None and self.stats['rgb_std'] is not None
        if given or self.has_rgb:
            return 'rgb'
        rank_zero_warn(
            f'{type(self).__name__}: {str(self.rgb_folder)!r} does not exist '
            'and rgb_mean/rgb_std are not given: the pseudo-RGB views are '
            'normalised with their own statistics'
        )
        return 'pseudo_rgb'

    def preprocess(self, batch: Sample, train: bool = False) -> Sample:
        """Normalise (and augment) a batch; first cut ``image_pseudo_rgb`` if asked.

        Args:
            batch: A batch on its target device.
            train: Apply the training augmentations.

        Returns:
            The batch with transformed images.
        """
        if self.pseudo_rgb and 'image' in batch:
            to_rgb = self.pseudo_rgb_transform.to(batch['image'].device)
            batch = dict(batch, image_pseudo_rgb=to_rgb(batch['image'].float()))
        return super().preprocess(batch, train)
