"""Hard-link Python-independent NVIDIA wheels from one virtual environment to another.

PyPI's torch for Linux x86_64 pulls in about 3 GiB of ``nvidia-*`` wheels
(CUDA runtime, cuDNN, cuBLAS, ...). They are tagged ``py3-none-<platform>``:
the same files serve every Python version. The test command builds two
virtual environments (Python 3.11 and 3.12); linking these files from the
first into the second, before pip runs, saves the download and 3 GiB of disk,
which is what made CI run out of space. pip then sees them as installed
(their ``.dist-info`` comes along) and skips them when the versions match;
if they don't, pip replaces them as usual (unlinking never touches the source).

usage: python scripts/link_shared_wheels.py SOURCE_SITE_PACKAGES TARGET_SITE_PACKAGES
"""

import os
import sys
from pathlib import Path


def _is_shareable(dist_info: Path) -> bool:
    """An ``nvidia-*`` distribution whose wheel tags are all ``py3-none-*``."""
    if not dist_info.name.lower().startswith('nvidia_'):
        return False
    wheel = dist_info / 'WHEEL'
    if not wheel.is_file():
        return False
    tags = [
        line.split(':', 1)[1].strip()
        for line in wheel.read_text().splitlines()
        if line.startswith('Tag:')
    ]
    return bool(tags) and all(tag.startswith('py3-none-') for tag in tags)


def _recorded_files(dist_info: Path) -> list[str]:
    """Relative paths listed in the distribution's RECORD (inside site-packages)."""
    paths = []
    for line in (dist_info / 'RECORD').read_text().splitlines():
        path = line.rsplit(',', 2)[0]
        if path and not path.startswith(('/', '..')) and '__pycache__' not in path:
            paths.append(path)
    return paths


def link_shared_wheels(source: Path, target: Path) -> int:
    """Hard-link every shareable distribution of ``source`` missing from ``target``.

    Args:
        source: site-packages of the existing environment.
        target: site-packages of the environment being built.

    Returns:
        Number of distributions linked (0 when nothing could be shared, e.g.
        across file systems; pip then installs them normally).
    """
    linked = 0
    for dist_info in sorted(source.glob('*.dist-info')):
        if not _is_shareable(dist_info):
            continue
        name = dist_info.name.split('-', 1)[0].lower()
        if any(
            p.name.lower().startswith(name + '-') for p in target.glob('*.dist-info')
        ):
            continue
        files = _recorded_files(dist_info)
        done: list[Path] = []
        try:
            for rel in files:
                dst = target / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists():
                    os.link(source / rel, dst)
                    done.append(dst)
        except OSError as err:  # e.g. another file system: let pip install it
            for dst in done:
                dst.unlink()
            print(f'link_shared_wheels: not sharing {dist_info.name}: {err}')
            continue
        linked += 1
    return linked


def main() -> None:
    """Command-line entry point (see the module docstring)."""
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    if not source.is_dir():
        print(f'link_shared_wheels: {source} does not exist; nothing shared')
        return
    count = link_shared_wheels(source, target)
    print(f'link_shared_wheels: {count} NVIDIA distributions linked from {source}')


if __name__ == '__main__':
    main()
