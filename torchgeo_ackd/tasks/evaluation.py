"""What every RGB student task shares: metrics, evaluation steps and figures."""

from typing import Any

import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor, nn
from torchmetrics import ClasswiseWrapper, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from .base import BaseTask
from .figures import confusion_figure


class StudentEvaluationTask(BaseTask):
    """Validation, test and prediction of an RGB classifier held as ``self.student``.

    Logs OA and macro precision/recall/F1 per split, per-class accuracy named
    after the datamodule's classes, and (TensorBoard) the validation confusion
    matrix. Subclasses build ``self.student`` in ``configure_models`` and
    define the training step; ``hparams['num_classes']`` is the class count.
    """

    student: nn.Module
    monitor = 'val_OverallAccuracy'
    mode = 'max'

    def configure_losses(self) -> None:
        """The supervised loss on RGB labels: cross-entropy."""
        self.criterion = nn.CrossEntropyLoss()

    def configure_metrics(self) -> None:
        """OA, macro precision/recall/F1 and per-class accuracy, per split."""
        k = self.hparams['num_classes']
        metrics = MetricCollection(
            {
                'OverallAccuracy': MulticlassAccuracy(k, average='micro'),
                'Precision': MulticlassPrecision(k, average='macro'),
                'Recall': MulticlassRecall(k, average='macro'),
                'F1Score': MulticlassF1Score(k, average='macro'),
            }
        )
        self.train_metrics = metrics.clone(prefix='train_')
        self.val_metrics = metrics.clone(prefix='val_')
        self.test_metrics = metrics.clone(prefix='test_')
        self._per_class_metrics(None)
        self.val_confusion = MulticlassConfusionMatrix(k)

    def _per_class_metrics(self, labels: list[str] | None) -> None:
        per_class = MulticlassAccuracy(self.hparams['num_classes'], average=None)
        for stage in ('val', 'test'):
            wrapper = ClasswiseWrapper(
                per_class.clone(), labels, prefix=f'{stage}_accuracy_'
            )
            setattr(self, f'{stage}_class_accuracy', wrapper)

    def setup(self, stage: str) -> None:
        """Name the per-class metrics after the datamodule's classes.

        Args:
            stage: Lightning stage.
        """
        dm = getattr(self.trainer, 'datamodule', None)
        classes = getattr(getattr(dm, 'dataset_class', None), 'classes', None)
        if classes is not None and len(classes) == self.hparams['num_classes']:
            self._per_class_metrics(list(classes))

    def _evaluate(self, batch: Any, stage: str) -> None:
        """Log the loss and update the metrics of ``stage`` on an RGB batch.

        Args:
            batch: RGB batch with ``image`` (B, 3, H, W) and ``label`` (B,).
            stage: ``'val'`` (also the confusion matrix) or ``'test'``.
        """
        logits = self.student(batch['image'])
        y = batch['label']
        b = y.shape[0]
        loss = self.criterion(logits, y)
        self.log(f'{stage}_loss', loss, batch_size=b, sync_dist=True)
        metrics = getattr(self, f'{stage}_metrics')
        metrics(logits, y)
        getattr(self, f'{stage}_class_accuracy')(logits, y)
        self.log_dict(metrics, batch_size=b)
        if stage == 'val':
            self.val_confusion(logits, y)

    def validation_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Evaluate the student on RGB.

        Args:
            batch: RGB batch.
            batch_idx: Batch index.
            dataloader_idx: Loader index.
        """
        self._evaluate(batch, 'val')

    def on_validation_epoch_end(self) -> None:
        """Log per-class accuracy and, with TensorBoard, the confusion matrix."""
        self.log_dict(self.val_class_accuracy.compute())
        self.val_class_accuracy.reset()
        matrix = self.val_confusion.compute()
        self.val_confusion.reset()
        logger = self.logger
        if isinstance(logger, TensorBoardLogger) and not self.trainer.sanity_checking:
            dm = getattr(self.trainer, 'datamodule', None)
            classes = getattr(getattr(dm, 'dataset_class', None), 'classes', None)
            names = list(classes or map(str, range(self.hparams['num_classes'])))
            figure = confusion_figure(matrix, names)
            logger.experiment.add_figure(
                'val_confusion_matrix', figure, self.global_step
            )

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Test the student on RGB.

        Args:
            batch: RGB batch.
            batch_idx: Batch index.
            dataloader_idx: Loader index.
        """
        self._evaluate(batch, 'test')

    def on_test_epoch_end(self) -> None:
        """Log the per-class test accuracy."""
        self.log_dict(self.test_class_accuracy.compute())
        self.test_class_accuracy.reset()

    def predict_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Class probabilities of an RGB batch.

        Args:
            batch: RGB batch.
            batch_idx: Batch index.
            dataloader_idx: Loader index.

        Returns:
            Softmax probabilities (B, K).
        """
        return F.softmax(self.student(batch['image']), dim=1)

    def forward(self, image: Tensor) -> Tensor:
        """Student logits.

        Args:
            image: RGB batch (B, 3, H, W), normalised.

        Returns:
            Logits (B, K).
        """
        return self.student(image)  # type: ignore[no-any-return]
