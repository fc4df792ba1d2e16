"""DataModule of the student stage: RGB students paired with MS teacher samples."""

from pathlib import Path
from typing import Any, ClassVar

from torch.utils.data import Dataset

from ..datasets import PairedDataset, Pairing
from ..datasets.ackd import Sample
from .ackd import ACKDDataModule
from .ms import MSDataModule


class PairedDataModule(ACKDDataModule):
    """The student stage: each RGB training sample with its paired MS teacher sample.

    Training batches hold ``image``, ``label`` and ``index`` of the RGB student
    and ``image_ms`` and ``teacher_index`` of its teacher in the :attr:`gallery`;
    validation and test batches are RGB. The current :attr:`pairing` is stored
    in checkpoints. Subclasses also set :attr:`ms_datamodule`, the benchmark's
    :class:`MSDataModule` (teacher and matcher stages).
    """

    image_modality: ClassVar[str] = 'rgb'
    ms_datamodule: ClassVar[type[MSDataModule]]

    def __init__(
        self,
        root: str | Path = 'data',
        *,
        pairing_file: str | Path | None = None,
        ms_augment: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new PairedDataModule instance.

        Args:
            root: Root directory of the benchmark.
            pairing_file: The initial pairing, ``pairing.pt`` or ``pairing.csv``
                written by the matcher stage (default: seeded random same-class).
            ms_augment: Augment the teachers' MS images (off, as in the
                reference: a task then computes each teacher output once).
            **kwargs: Arguments of :class:`ACKDDataModule`.
        """
        super().__init__(root, ms_augment=ms_augment, **kwargs)
        self.pairing_file = pairing_file
        self._pairing: Pairing | None = None

    def setup(self, stage: str) -> None:
        """Check that every student class has its MS folder, then build the datasets.

        Args:
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.

        Raises:
            ValueError: If a student class has no MS class folder.
        """
        if self.check_images or stage == 'fit':
            self._check_teacher_folders()
        super().setup(stage)

    def checked_modalities(self) -> tuple[str, ...]:
        """Both modalities."""
        return ('ms', 'rgb')

    def training_set(self) -> Dataset[Sample]:
        """The student training set joined with the teacher gallery."""
        student, teacher = self.rgb_train, self.gallery
        teacher_classes = set(teacher.targets.tolist())
        for c in sorted(set(student.targets.tolist()) - teacher_classes):
            raise ValueError(
                f'RGB class {student.classes[c]!r} has no teacher samples: '
                f'no MS training images in {teacher.folder / student.classes[c]}'
            )
        if self._pairing is None:
            if self.pairing_file is not None:
                self._pairing = Pairing.load(self.pairing_file, student, teacher)
            else:
                self._pairing = Pairing.random(student, teacher, self.seed)
        return PairedDataset(student, teacher, self._pairing.teacher_index)

    def _check_teacher_folders(self) -> None:
        """Every student class needs an MS class folder: say which one is missing."""
        cls = self.dataset_class
        rgb = cls.present_classes(self.root, 'rgb')
        ms, folders = cls.present_classes(self.root, 'ms'), cls.class_folders('ms')
        for name in self.student_classes or cls.classes:
            if name in rgb and name not in ms:
                ms_folder = self.root / cls.ms_dir / folders.get(name, (name,))[0]
                raise ValueError(
                    f'RGB class {name!r} has no teacher samples: the MS class folder '
                    f'{str(ms_folder)!r} is missing'
                )

    @property
    def pairing(self) -> Pairing:
        """The pairing in use (set up for ``'fit'`` first)."""
        if self._pairing is None:
            raise RuntimeError("no pairing yet: call setup('fit') first")
        return self._pairing

    def set_pairing(self, pairing: Pairing) -> None:
        """Replace the pairing (in place, so loader workers see it).

        Args:
            pairing: The new pairing; mapped onto the training sets by file
                name if it was made in another order.
        """
        pairing = pairing.remap(self.rgb_train, self.gallery)
        self._pairing = pairing
        train = getattr(self, 'train_dataset', None)
        if isinstance(train, PairedDataset):
            train.set_pairing(pairing.teacher_index)

    @property
    def teacher_images(self) -> bool:
        """Whether training batches carry ``image_ms`` (else ``teacher_index`` only).

        A task caching the teacher's gallery outputs turns this off.
        """
        train = getattr(self, 'train_dataset', None)
        return not isinstance(train, PairedDataset) or train.load_teacher

    @teacher_images.setter
    def teacher_images(self, load: bool) -> None:
        train = getattr(self, 'train_dataset', None)
        if isinstance(train, PairedDataset):
            train.load_teacher = load

    def state_dict(self) -> dict[str, Any]:
        """State saved in checkpoints: the statistics and the pairing in use.

        Returns:
            The state.
        """
        state = super().state_dict()
        if self._pairing is not None:
            state['pairing'] = self._pairing.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the statistics and the pairing from a checkpoint.

        Args:
            state_dict: A state returned by :meth:`state_dict`.
        """
        super().load_state_dict(state_dict)
        if 'pairing' in state_dict:
            self.set_pairing(Pairing.from_state_dict(state_dict['pairing']))
