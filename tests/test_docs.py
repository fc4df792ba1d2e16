"""The generated configuration reference is current and complete."""

import dataclasses
import importlib.util
import inspect
import re
import sys
from pathlib import Path

import pytest

from torchgeo_ackd.callbacks import DynamicMatching
from torchgeo_ackd.datamodules import (
    ACKDDataModule,
    M2SGLDataModule,
    S2SCNDataModule,
    S2SEUDataModule,
    SyntheticACKDDataModule,
)
from torchgeo_ackd.losses import DistillationConfig
from torchgeo_ackd.models import AlignmentConfig
from torchgeo_ackd.models.teacher import TeacherConfig
from torchgeo_ackd.tasks import ACKDTask, MatcherTask

DOCS = Path(__file__).parents[1] / 'docs'
REFERENCE = DOCS / 'config-reference.md'

_spec = importlib.util.spec_from_file_location(
    'gen_config_reference', DOCS / 'gen_config_reference.py'
)
assert _spec is not None and _spec.loader is not None
gen = importlib.util.module_from_spec(_spec)
sys.modules['gen_config_reference'] = gen
_spec.loader.exec_module(gen)


def _section(text: str, name: str) -> str:
    """The text of the '## name' (or '### name') section, up to the next heading."""
    match = re.search(rf'^###? {name}\n(.*?)(?=^##|\Z)', text, flags=re.M | re.S)
    assert match is not None, f'no section for {name}'
    return match.group(1)


def test_committed_reference_is_current(tmp_path: Path) -> None:
    out = tmp_path / 'config-reference.md'
    assert gen.main(['--output', str(out)]) == 0
    assert out.read_text() == REFERENCE.read_text(), (
        'docs/config-reference.md is stale: run python docs/gen_config_reference.py'
    )


def test_check_flag_detects_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / 'stale.md'
    stale.write_text(REFERENCE.read_text().replace('| `lr` |', '| `learning_rate` |'))
    assert gen.main(['--check', '--output', str(stale)]) == 1
    assert gen.main(['--check', '--output', str(REFERENCE)]) == 0


@pytest.mark.parametrize(
    'cls',
    [ACKDTask, DynamicMatching, MatcherTask, ACKDDataModule, SyntheticACKDDataModule],
)
def test_every_argument_has_a_row(cls: type) -> None:
    section = _section(REFERENCE.read_text(), cls.__name__)
    rows = re.findall(r'^\| `(\w+)` \|', section, flags=re.M)
    params = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
        if p.name != 'self' and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    assert rows == params


@pytest.mark.parametrize(
    ('key', 'cls'),
    [('teacher', TeacherConfig), ('kd', DistillationConfig), ('ska', AlignmentConfig)],
)
def test_every_group_field_has_a_row(key: str, cls: type) -> None:
    section = _section(REFERENCE.read_text(), f'{key}: {cls.__name__}')
    rows = re.findall(r'^\| `(\w+)` \|', section, flags=re.M)
    assert rows == [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]


def test_defaults_in_rows() -> None:
    text = REFERENCE.read_text()
    section = _section(text, 'ACKDTask')
    assert '| `teacher` | `TeacherConfig` |' in section
    assert "| `model` | `str` | `'resnet34'` |" in _section(
        text, 'teacher: TeacherConfig'
    )
    ska = _section(text, 'ska: AlignmentConfig')
    assert '| `weight` | `float` | `0.003` |' in ska
    assert '| `use_ot1` | `bool` | `True` |' in ska
    assert '| `batch_size` | `int` | `64` |' in _section(text, 'ACKDDataModule')
    assert '| `ms_augment` | `bool` | `True` |' in _section(text, 'MSDataModule')
    paired = _section(text, 'PairedDataModule')
    assert (
        '| `pairing_file` | <code>str &#124; Path &#124; None</code> | `None` |'
        in paired
    )
    assert '| `ms_augment` | `bool` | `False` |' in paired


def test_benchmark_datamodules_are_listed() -> None:
    text = REFERENCE.read_text()
    for cls in (S2SEUDataModule, S2SCNDataModule, M2SGLDataModule):
        paired = _section(text, 'PairedDataModule')
        assert f'`torchgeo_ackd.datamodules.{cls.__name__}`' in paired
        ms = _section(text, 'MSDataModule')
        assert f'`torchgeo_ackd.datamodules.{cls.ms_datamodule.__name__}`' in ms


def test_parse_args_section() -> None:
    doc = inspect.cleandoc(
        """Summary.

        Args:
            alpha: First line
                continued here.
            beta (int): Typed.
            *args: Extra positionals.
            **kwargs: Extra keywords.

        Returns:
            Nothing.
        """
    )
    assert gen.parse_args_section(doc) == {
        'alpha': 'First line continued here.',
        'beta': 'Typed.',
        'args': 'Extra positionals.',
        'kwargs': 'Extra keywords.',
    }
    assert gen.parse_args_section('No sections.') == {}


def test_markdown_text_escapes_pipes() -> None:
    assert gen.markdown_text('a | b') == r'a \| b'
    assert gen.markdown_text('``x | y``') == '<code>x &#124; y</code>'
    assert gen.markdown_text(':class:`~pkg.mod.Name` here') == '`Name` here'


def test_undocumented_argument_is_an_error() -> None:
    class Undocumented:
        def __init__(self, documented: int = 1, forgotten: str = 'x') -> None:
            """Build.

            Args:
                documented: Documented.
            """

    with pytest.raises(ValueError, match="'forgotten'"):
        gen.argument_rows(Undocumented)


def test_description_of_a_missing_argument_is_an_error() -> None:
    class Renamed:
        def __init__(self, new_name: int = 1) -> None:
            """Build.

            Args:
                new_name: Documented.
                old_name: Left over.
            """

    with pytest.raises(ValueError, match="'old_name'"):
        gen.argument_rows(Renamed)


def test_strict_build_refuses_a_broken_anchor(tmp_path: Path) -> None:
    import shutil
    import subprocess

    site = tmp_path / 'project'
    shutil.copytree(DOCS, site / 'docs')
    shutil.copy(DOCS.parent / 'mkdocs.yml', site / 'mkdocs.yml')
    page = site / 'docs' / 'troubleshooting.md'

    def build() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                '-m',
                'mkdocs',
                'build',
                '--strict',
                '--site-dir',
                str(tmp_path / 'site'),
            ],
            cwd=site,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert build().returncode == 0
    page.write_text(
        page.read_text() + '\nSee [the stages](pipeline.md#no-such-heading).\n'
    )
    result = build()
    assert result.returncode != 0
    assert "does not contain an anchor '#no-such-heading'" in result.stderr


def test_every_difference_names_a_test_that_exists() -> None:
    text = (DOCS / 'differences.md').read_text()
    rows = [line for line in text.splitlines() if re.match(r'^\| \d+ \|', line)]
    assert len(rows) >= 27
    for row in rows:
        checked_by = row.rstrip(' |').rsplit('|', 1)[1]
        cited = re.findall(r'`(tests/[\w/]+\.py)::([\w:]+)`', checked_by)
        assert cited, f'no test named in: {row[:60]}'
        for path, name in cited:
            source = (DOCS.parent / path).read_text()
            assert re.search(rf'def {name.split("::")[-1]}\b', source), (
                f'{path}::{name}'
            )
