"""Student-Friendly Matching engine: schedules, embedding, search and pairing files."""

from .embed import compute_embeddings, eval_mode
from .pairing_csv import PAIRING_COLUMNS, read_pairing_csv, write_pairing_csv
from .schedule import dynm_schedule, validate_epochs
from .search import match_cosine, match_kl

__all__ = (
    'PAIRING_COLUMNS',
    'compute_embeddings',
    'dynm_schedule',
    'eval_mode',
    'match_cosine',
    'match_kl',
    'read_pairing_csv',
    'validate_epochs',
    'write_pairing_csv',
)
