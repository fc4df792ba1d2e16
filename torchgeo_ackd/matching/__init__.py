"""Student-Friendly Matching engine: schedules, embedding and search.

Imports torch and the data layer only: it receives models, loaders and
tensors, never a task or a datamodule.
"""

from .contrastive import clip_soft_infonce
from .embed import (
    ViewEmbeddings,
    all_gather_rows,
    broadcast_buffers,
    check_rgb_images,
    compute_embeddings,
    compute_outputs,
    eval_mode,
)
from .initial import initial_pairing
from .retrieval import nearest_class_accuracy, retrieval_top1
from .schedule import dynm_schedule, validate_epochs
from .search import match_cosine, match_kl
from .statistics import MatchedTeachers, matched_teachers

__all__ = (
    'MatchedTeachers',
    'ViewEmbeddings',
    'all_gather_rows',
    'broadcast_buffers',
    'check_rgb_images',
    'clip_soft_infonce',
    'compute_embeddings',
    'compute_outputs',
    'dynm_schedule',
    'eval_mode',
    'initial_pairing',
    'match_cosine',
    'match_kl',
    'matched_teachers',
    'nearest_class_accuracy',
    'retrieval_top1',
    'validate_epochs',
)
