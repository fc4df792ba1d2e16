"""Student-Friendly Matching engine: schedules, embedding, search and pairing files."""

from .contrastive import clip_soft_infonce
from .embed import broadcast_buffers, compute_embeddings, eval_mode
from .initial import initial_pairing, load_pairing, save_pairing
from .pairing_csv import PAIRING_COLUMNS, read_pairing_csv, write_pairing_csv
from .schedule import dynm_schedule, validate_epochs
from .search import match_cosine, match_kl

__all__ = (
    'PAIRING_COLUMNS',
    'broadcast_buffers',
    'clip_soft_infonce',
    'compute_embeddings',
    'dynm_schedule',
    'eval_mode',
    'initial_pairing',
    'load_pairing',
    'match_cosine',
    'match_kl',
    'read_pairing_csv',
    'save_pairing',
    'validate_epochs',
    'write_pairing_csv',
)
