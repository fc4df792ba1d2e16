"""TorchGeo's ``BaseTask``, wherever the installed TorchGeo keeps it.

TorchGeo 0.10 renamed ``torchgeo.trainers`` to ``torchgeo.tasks`` (keeping a
deprecated alias); TorchGeo 0.8 only has ``torchgeo.trainers``.
"""

try:  # TorchGeo >= 0.10
    from torchgeo.tasks import BaseTask
except ImportError:  # TorchGeo 0.8
    from torchgeo.trainers import BaseTask

__all__ = ('BaseTask',)
