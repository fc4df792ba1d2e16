"""Knowledge-distillation losses and CORAL.

Losses are pure functions in :mod:`.functional`, wrapped as
:class:`DistillationLoss` modules registered by name: ``build_kd_loss('dkd')``.
"""

from .base import DistillationLoss
from .functional import (
    coral,
    cosine_decay,
    dkd_loss,
    gradient_reversal,
    kd_loss,
    linear_warmup,
    logits_mse_loss,
    lskd_loss,
    multilabel_teacher_logits,
    rkd_loss,
    standardize_logits,
)
from .modules import (
    CTKDLoss,
    DKDLoss,
    KDLoss,
    LogitsMSELoss,
    LSKDLoss,
    NoKDLoss,
    RKDLoss,
)
from .registry import (
    DistillationConfig,
    available_kd_losses,
    build_kd_loss,
    register_kd_loss,
)

__all__ = (
    'CTKDLoss',
    'DKDLoss',
    'DistillationConfig',
    'DistillationLoss',
    'KDLoss',
    'LSKDLoss',
    'LogitsMSELoss',
    'NoKDLoss',
    'RKDLoss',
    'available_kd_losses',
    'build_kd_loss',
    'coral',
    'cosine_decay',
    'dkd_loss',
    'gradient_reversal',
    'kd_loss',
    'linear_warmup',
    'logits_mse_loss',
    'lskd_loss',
    'multilabel_teacher_logits',
    'register_kd_loss',
    'rkd_loss',
    'standardize_logits',
)
