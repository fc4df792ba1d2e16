"""Student-Friendly Matching engine: schedules, embedding, search and pairings.

Imports torch and the data layer only: never a task or a datamodule.
"""

from .contrastive import clip_soft_infonce
from .embed import (
    ViewEmbeddings,
    all_gather_rows,
    broadcast_buffers,
    check_rgb_images,
    compute_embeddings,
    eval_mode,
    loader_embeddings,
    loader_outputs,
    shard_loader,
)
from .pairings import (
    SSMEncoders,
    cross_modal_accuracy,
    gallery_embedding,
    gallery_logits,
    initial_pairing,
    rematch,
    ssm_pairing,
    student_logits,
)
from .retrieval import nearest_class_accuracy, retrieval_top1
from .schedule import dynm_schedule, validate_epochs
from .search import match_cosine, match_kl
from .statistics import MatchedTeachers, matched_teachers

__all__ = (
    'MatchedTeachers',
    'SSMEncoders',
    'ViewEmbeddings',
    'all_gather_rows',
    'broadcast_buffers',
    'check_rgb_images',
    'clip_soft_infonce',
    'compute_embeddings',
    'cross_modal_accuracy',
    'dynm_schedule',
    'eval_mode',
    'gallery_embedding',
    'gallery_logits',
    'initial_pairing',
    'loader_embeddings',
    'loader_outputs',
    'match_cosine',
    'match_kl',
    'matched_teachers',
    'nearest_class_accuracy',
    'rematch',
    'retrieval_top1',
    'shard_loader',
    'ssm_pairing',
    'student_logits',
    'validate_epochs',
)
