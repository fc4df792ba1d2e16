"""A trained student in use: export it alone, predict on unlabelled tiles."""

from .export import StudentCard, export_student, model_card, read_student
from .predict import StudentPredictor, predict_tiles

__all__ = (
    'StudentCard',
    'StudentPredictor',
    'export_student',
    'model_card',
    'predict_tiles',
    'read_student',
)
