"""File I/O: atomic writes, checked ``torch.load``, file checks and content hashes."""

from .atomic import CRASH_ENV, atomic_open, crash_point
from .files import (
    FileSummary,
    PreflightError,
    cached_summaries,
    check_files,
    check_sha256sums,
    describe_changes,
    file_hashes,
    fingerprint,
    summarise_file,
)
from .torch_files import check_torch_file, read_torch_file

__all__ = (
    'CRASH_ENV',
    'FileSummary',
    'PreflightError',
    'atomic_open',
    'cached_summaries',
    'check_files',
    'check_sha256sums',
    'check_torch_file',
    'crash_point',
    'describe_changes',
    'file_hashes',
    'fingerprint',
    'read_torch_file',
    'summarise_file',
)
