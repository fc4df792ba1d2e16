"""File-level checks of a benchmark's images, their summaries and content hashes.

:func:`check_files` reports every problem of a modality's files together, each
with its file: unreadable (e.g. truncated) files, wrong band counts, NaN or inf in
float files, and files whose data type (or, where the dataset does not resize,
size) differs from the one most files have, e.g. a 16-bit TIFF among 8-bit JPEGs.
Summaries are cached by (path, size, mtime) in memory and in a JSON file per root
under ``$TORCHGEO_ACKD_CACHE`` (default ``~/.cache/torchgeo_ackd``).
"""

import dataclasses
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image


@dataclass(frozen=True)
class FileSummary:
    """What the checks need to know about one image file.

    Attributes:
        dtype: Stored data type (e.g. ``'uint16'``), '' when unreadable.
        bands: Band count.
        height: Rows.
        width: Columns.
        low: Smallest finite value.
        high: Largest finite value.
        finite: No NaN or inf anywhere.
        error: Why the file cannot be read ('' when it can).
        sha1: SHA-1 of the file's bytes (its content, for fingerprints).
    """

    dtype: str = ''
    bands: int = 0
    height: int = 0
    width: int = 0
    low: float = 0.0
    high: float = 0.0
    finite: bool = True
    error: str = ''
    sha1: str = ''


_CACHE: dict[str, FileSummary] = {}


def summarise_file(path: Path) -> FileSummary:
    """Read one image whole and summarise it (cached by size and mtime).

    Args:
        path: A GeoTIFF, JPEG or PNG.

    Returns:
        Its summary (``error`` set when it cannot be read).
    """
    stat = path.stat()
    key = f'{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}'
    if key not in _CACHE:
        _CACHE[key] = _summarise(path)
    return _CACHE[key]


def _cache_file(root: Path) -> Path:
    base = (
        os.environ.get('TORCHGEO_ACKD_CACHE')
        or Path.home() / '.cache' / 'torchgeo_ackd'
    )
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    return Path(base) / 'preflight' / f'{digest}.json'


def _load_cache(root: Path) -> None:
    try:
        entries = json.loads(_cache_file(root).read_text())
        # Entries without a content hash come from an earlier version.
        _CACHE.update(
            {k: FileSummary(**v) for k, v in entries.items() if v.get('sha1')}
        )
    except (OSError, ValueError, TypeError):
        pass  # no cache yet, or an unreadable one: files are read again


def _save_cache(root: Path, keys: set[str]) -> None:
    path = _cache_file(root)
    entries = {k: dataclasses.asdict(_CACHE[k]) for k in sorted(keys)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f'.{os.getpid()}.tmp')
        partial.write_text(json.dumps(entries))
        os.replace(partial, path)
    except OSError:
        pass  # a read-only home only costs the next check its speed


@contextmanager
def cached_summaries(root: Path) -> Iterator[None]:
    """Use (and afterwards update) the summary cache file of *root*.

    Inside the block, :func:`summarise_file` re-reads only files under *root* that
    changed since an earlier check (by any process); the cache file is rewritten
    when the block summarised a new file and did not raise.

    Args:
        root: Benchmark root.

    Yields:
        Nothing.
    """
    _load_cache(root)
    before = set(_CACHE)
    yield
    if set(_CACHE) != before:
        prefix = f'{root.resolve()}{os.sep}'
        _save_cache(root, {k for k in _CACHE if k.startswith(prefix)})


def _summarise(path: Path) -> FileSummary:
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    try:
        if path.suffix.lower() in ('.tif', '.tiff'):
            with rasterio.open(path) as src:
                array = src.read()
        else:
            with Image.open(path) as img:
                img.load()
                array = np.asarray(img)
                array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    except (rasterio.errors.RasterioError, OSError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return FileSummary(
            error=f'cannot be read whole (truncated?): {reason}', sha1=sha1
        )
    finite = np.isfinite(array) if array.dtype.kind == 'f' else None
    values = array[finite] if finite is not None else array
    return FileSummary(
        dtype=str(array.dtype),
        bands=int(array.shape[0]),
        height=int(array.shape[1]),
        width=int(array.shape[2]),
        low=float(values.min()) if values.size else 0.0,
        high=float(values.max()) if values.size else 0.0,
        finite=bool(finite.all()) if finite is not None else True,
        sha1=sha1,
    )


def check_files(
    files: Sequence[Path],
    modality: str,
    band_names: Sequence[str],
    size: int | None,
    root: Path,
) -> list[str]:
    """Every problem of one modality's files, one line each.

    Args:
        files: The files.
        modality: ``'ms'`` or ``'rgb'`` (for messages).
        band_names: The bands every file must have.
        size: Side the dataset resizes to (``None``: as stored, so all files
            must share one size).
        root: Benchmark root (messages name files relative to it).

    Returns:
        The problems (empty when all files pass).
    """
    name, num_bands = modality.upper(), len(band_names)
    summaries = {f: summarise_file(f) for f in files}
    readable = {f: s for f, s in summaries.items() if not s.error}

    def where(f: Path) -> str:
        return repr(f.relative_to(root).as_posix() if f.is_relative_to(root) else f)

    problems = [f'{where(f)}: {s.error}' for f, s in summaries.items() if s.error]
    problems += [
        f'{where(f)} has {s.bands} bands; {name} files must have {num_bands} '
        f'({", ".join(band_names)})'
        for f, s in readable.items()
        if s.bands != num_bands
    ]
    problems += [
        f'{where(f)} contains NaN or inf values; {name} files must be finite'
        for f, s in readable.items()
        if not s.finite
    ]
    if readable:
        dtypes = Counter(s.dtype for s in readable.values())
        usual, count = dtypes.most_common(1)[0]
        problems += [
            f'all {name} files must share one data type ({usual}, as {count} of '
            f'{len(readable)} are); {where(f)} is {s.dtype} in '
            f'[{s.low:g}, {s.high:g}]'
            for f, s in readable.items()
            if s.dtype != usual
        ]
        if size is None:
            shapes = Counter((s.height, s.width) for s in readable.values())
            (h, w), count = shapes.most_common(1)[0]
            problems += [
                f'all {name} images must have one size ({h}x{w}, as {count} of '
                f'{len(readable)} have; the dataset does not resize {name}); '
                f'{where(f)} is {s.height}x{s.width}'
                for f, s in readable.items()
                if (s.height, s.width) != (h, w)
            ]
    return problems


def check_sha256sums(files: Iterable[Path], root: Path) -> list[str]:
    """Check files against ``root/SHA256SUMS`` (``sha256sum`` format), if present.

    A listed file whose content differs is a problem, and so is a listed file
    missing from a folder that *files* come from; unlisted files are not.

    Args:
        files: The files to check.
        root: The folder of ``SHA256SUMS``; its paths are relative to it.

    Returns:
        One message per problem (empty without ``SHA256SUMS``).
    """
    sums = root / 'SHA256SUMS'
    if not sums.is_file():
        return []
    expected: dict[str, str] = {}
    for line in sums.read_text().splitlines():
        digest, _, name = line.strip().partition(' ')
        if name:
            expected[name.strip().lstrip('*')] = digest.lower()
    files = list(files)
    folders = {f.parent.relative_to(root).as_posix() for f in files}
    problems = [
        f'{name}: listed in {sums} but missing'
        for name in expected
        if name.rpartition('/')[0] in folders and not (root / name).is_file()
    ]
    for file in files:
        name = file.relative_to(root).as_posix()
        if name in expected:
            actual = hashlib.sha256(file.read_bytes()).hexdigest()
            if actual != expected[name]:
                problems.append(
                    f'{name}: its SHA-256 differs from {sums} (changed or corrupted)'
                )
    return problems


def file_hashes(files: Iterable[Path], root: Path) -> dict[str, str]:
    """Content hash of each file, by path relative to *root* (cached).

    Args:
        files: The files.
        root: What the keys are relative to.

    Returns:
        ``{relative path: SHA-1 of the bytes}``.
    """
    with cached_summaries(root):
        return {f.relative_to(root).as_posix(): summarise_file(f).sha1 for f in files}


def fingerprint(hashes: dict[str, str]) -> str:
    """One digest of a set of files (names and contents).

    Args:
        hashes: ``{relative path: content hash}`` (see :func:`file_hashes`).

    Returns:
        A SHA-256 hex digest, equal exactly when the same names hold the same bytes.
    """
    lines = ''.join(f'{name}\t{hashes[name]}\n' for name in sorted(hashes))
    return hashlib.sha256(lines.encode()).hexdigest()


def describe_changes(old: dict[str, str], new: dict[str, str], limit: int = 3) -> str:
    """What differs between two ``{path: hash}`` maps, for messages.

    Args:
        old: Before.
        new: Now.
        limit: Files named per kind of change.

    Returns:
        E.g. ``"3 added (MS/Forest/x.tif, ...), 1 changed (RGB/a.jpg)"`` (or empty).
    """
    kinds = (
        ('added', sorted(set(new) - set(old))),
        ('removed', sorted(set(old) - set(new))),
        ('changed', sorted(k for k in set(old) & set(new) if old[k] != new[k])),
    )
    parts = []
    for kind, names in kinds:
        if names:
            shown = ', '.join(names[:limit]) + (', ...' if len(names) > limit else '')
            parts.append(f'{len(names)} {kind} ({shown})')
    return ', '.join(parts)


class PreflightError(ValueError):
    """Problems with a benchmark's files, all of them, one per line."""
