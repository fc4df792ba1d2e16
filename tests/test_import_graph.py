"""The package's import graph: layers depend one way and nothing imports in a circle.

Every import is counted, also those inside functions and ``TYPE_CHECKING``
blocks: a cycle hidden there is still a cycle in the design.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / 'torchgeo_ackd'

#: Layer of each top-level part; a module may import lower layers and its own
#: part only (so parts of one layer never import each other).
LAYERS = {
    # The errors every layer raises (imports nothing of the package).
    'errors': 0,
    'sensors': 0,
    'transforms': 1,
    'synthetic': 1,
    'io': 1,
    'datasets': 2,
    'datamodules': 3,
    'matching': 3,
    'losses': 4,
    'models': 5,
    'tasks': 6,
    'callbacks': 6,
    'pipeline': 7,
    'deploy': 8,
    'check': 8,
    'cli': 9,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imports(path: Path) -> set[str]:
    """Every torchgeo_ackd module a file imports, anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    return _imports_of(path.read_text(), package)


def _imports_of(source: str, package: str) -> set[str]:
    """Every torchgeo_ackd module some source in *package* imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[: len(base) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            found.add(module)
            # ``from . import x`` / ``from .pkg import sub`` may name modules.
            found |= {f'{module}.{a.name}' for a in node.names}
    return {m for m in found if m == 'torchgeo_ackd' or m.startswith('torchgeo_ackd.')}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (only those that exist)."""
    files = {_module_name(p): p for p in PACKAGE.rglob('*.py')}
    return {
        m: {i for i in _imports(p) if i in files and i != m} for m, p in files.items()
    }


def _part(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of *graph*, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_layers_depend_one_way() -> None:
    wrong = []
    for module, targets in import_graph().items():
        part = _part(module)
        if part not in LAYERS:
            continue
        for target in targets:
            other = _part(target)
            if other and other != part and LAYERS[other] >= LAYERS[part]:
                wrong.append(f'{module} -> {target}')
    assert not wrong, 'imports against the layers: ' + ', '.join(sorted(wrong))


def test_matching_imports_no_task_datamodule_or_pipeline() -> None:
    graph = import_graph()
    for module in (m for m in graph if _part(m) == 'matching'):
        bad = {_part(t) for t in graph[module]} & {
            'tasks',
            'callbacks',
            'pipeline',
            'datamodules',
        }
        assert not bad, f'{module} imports {bad}'


def test_every_part_has_a_layer() -> None:
    parts = {_part(m) for m in import_graph()} - {''}
    assert parts <= set(LAYERS), f'parts without a layer: {parts - set(LAYERS)}'


def test_the_checks_can_fail() -> None:
    """The cycle finder and the layer rule see what they are meant to see."""
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) is None
    source = PACKAGE / 'matching' / 'pairings.py'
    imports = _imports(source)
    assert 'torchgeo_ackd.matching.embed' in imports


@pytest.mark.parametrize(
    ('code', 'expected'),
    [
        ('from ..tasks import ACKDTask', 'torchgeo_ackd.tasks'),
        ('def f():\n    from ..tasks.ackd import X', 'torchgeo_ackd.tasks.ackd'),
        (
            'from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n'
            '    from ..datamodules import DM',
            'torchgeo_ackd.datamodules',
        ),
    ],
)
def test_hidden_imports_are_seen(code: str, expected: str) -> None:
    # As if the code were in a module of torchgeo_ackd/matching/.
    assert expected in _imports_of(code, 'torchgeo_ackd.matching')


def test_importing_the_package_leaves_the_matplotlib_backend_alone() -> None:
    """Figures are pyplot-free: a notebook's inline backend stays in place."""
    import subprocess
    import sys

    code = (
        'import matplotlib; matplotlib.use("svg"); '
        'import torchgeo_ackd.pipeline, torchgeo_ackd.deploy, torchgeo_ackd.cli; '
        'print(matplotlib.get_backend())'
    )
    result = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == 'svg'
