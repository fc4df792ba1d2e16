"""Every command written in the docs and the configs runs, or says why it cannot.

Commands are collected from

* ``README.md`` and ``docs/*.md``: fenced code blocks in ``bash``, ``sh``,
  ``shell`` or ``zsh`` (every line), ``console`` (the lines after a ``$``
  prompt) and unmarked blocks whose first line starts with a program (an
  unmarked block of program output, such as an error message, is no command);
  ``python``, ``yaml``, ``text`` and other blocks are not shell;
* ``conf/*.yaml`` and ``conf/pairs/*.yaml``: comment lines that hold a full
  command line (``#   torchgeo fit --config ...``, ``torchgeo-ackd``,
  ``python -m``, optionally after a ``label:``); bare ``--option`` fragments
  are not commands.

A trailing ``\\`` continues a command on the next line; a trailing ``# comment``
is dropped. A command the tests do not run carries a marker with the reason:

* markdown: ``<!-- not run by the tests: REASON -->`` on the line right before
  the opening fence (for the whole block);
* conf: ``#   (not run by the tests: REASON)`` on the comment line right after
  the command's line(s).

:func:`test_every_command_is_run_or_marked` fails listing every command that is
neither runnable by this harness nor marked, and every marker without a reason
or away from a command. :func:`test_documented_commands_run` runs the runnable
ones, each once (identical commands of several files are deduplicated), in a
temporary folder holding a copy of ``conf/`` and a tiny synthetic benchmark at
``data/synthetic`` (the default root of ``conf/teacher.yaml``,
``conf/matcher.yaml`` and ``conf/ackd.yaml``): the stages in their order
(teacher, matcher, student; ``fit`` before ``validate``/``test`` of the same
config), ``torchgeo``/``torchgeo-ackd`` in-process with short-run overrides
appended, ``python -m torchgeo_ackd.<module>`` and ``python -c`` in-process too
(they would spend most of their time importing torch in a subprocess).
Placeholders ``ROOT`` (the tiny benchmark) and ``DIR`` (a new folder) are
replaced, ``[--optional args]`` are passed. ``docs/add-a-sensor.md``'s commands
are run by ``tests/datasets/test_add_sensor.py`` on a fake 5-band benchmark.
"""

import contextlib
import os
import re
import runpy
import shlex
import shutil
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest
from conftest import TINY_TRAINER

REPO = Path(__file__).parents[1]
#: Documented commands of these files are run by another test.
RUN_ELSEWHERE = {'docs/add-a-sensor.md': 'tests/datasets/test_add_sensor.py'}
#: The synthetic pipeline's configs, in stage order, and what their fit writes.
CHAIN = {
    'conf/teacher.yaml': ('output/teacher/teacher.ckpt',),
    'conf/matcher.yaml': ('output/matcher/matcher.ckpt', 'output/matcher/pairing.pt'),
    'conf/ackd.yaml': ('output/ackd/best.ckpt',),
}
#: The tiny benchmark written to data/synthetic (seconds per stage).
TINY = {'ms_per_class': 6, 'rgb_per_class': 5, 'ms_size': 16, 'rgb_size': 24}
#: Appended to every stage command: one short epoch on the CPU, on the tiny data.
SHORT_RUN = [
    '--trainer.max_epochs=1',
    '--trainer.limit_train_batches=2',
    '--trainer.limit_val_batches=2',
    '--trainer.limit_test_batches=2',
    '--trainer.limit_predict_batches=2',
    *TINY_TRAINER,  # CPU, no progress bar, no model summary, no logger
    '--data.init_args.batch_size=8',
    '--data.init_args.num_workers=0',
]
#: Appended to stage commands of the synthetic datamodule: use the tiny data as is.
NO_GENERATE = ['--data.init_args.generate=false']
#: Placeholders of the docs -> what the harness passes.
PLACEHOLDERS = {'ROOT': 'data/synthetic', 'DIR': 'data/dir'}
SHELL_LANGUAGES = {'bash', 'sh', 'shell', 'zsh', 'console'}
CLI_PROGRAMS = {'torchgeo', 'torchgeo-ackd'}
_PROGRAM = r'(?:torchgeo(?:-ackd)?\s+(?:fit|validate|test|predict|-)|python3?\s+-[mc]\s|\.venv/bin/\S+\s|bash\s+\S+\.sh)'
_CONF_COMMAND = re.compile(
    rf'^#\s+(?:[\w ,()/+-]{{0,60}}:\s+)?((?:[A-Za-z_]\w*=\S*\s+)*{_PROGRAM}.*)$'
)
_CONF_MARKER = re.compile(r'^#\s*\(\s*not run by the tests\b:?(.*?)\)\s*$')
_MD_MARKER = re.compile(r'^\s*<!--\s*not run by the tests\b:?(.*?)-->\s*$')
_FENCE = re.compile(r'^\s*(`{3,}|~{3,})\s*([\w+-]*)')


@dataclass
class Command:
    """One documented command line."""

    text: str
    sources: list[str]
    #: None: no marker; '': a marker without a reason; else the reason.
    marker: str | None = None


@dataclass
class Plan:
    """How the harness runs a command."""

    kind: str  # 'cli', 'module' or 'code'
    program: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    stdout: str | None = None
    config: str | None = None
    subcommand: str | None = None


def _strip_comment(line: str) -> str:
    """*line* without a trailing shell ``# comment`` (outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in '\'"':
            quote = char
        elif char == '#' and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """Join ``\\`` continuations, drop comments and blank lines.

    Returns:
        (index of the first line, command text) per command.
    """
    out: list[tuple[int, str]] = []
    current, first = '', 0
    for n, raw in enumerate(lines):
        line = raw.rstrip()
        if not current:
            first = n
        if line.endswith('\\'):
            current += line[:-1].rstrip() + ' '
            continue
        current += line
        text = ' '.join(_strip_comment(current).split())
        if text:
            out.append((first, text))
        current = ''
    if current.strip():
        out.append((first, ' '.join(_strip_comment(current).split())))
    return out


def _looks_like_command(line: str) -> bool:
    """Whether an unmarked block's first line starts with a program."""
    words = line.split()
    while words and re.match(r'^[A-Za-z_]\w*=', words[0]):
        words = words[1:]
    if not words:
        return False
    first = words[0]
    return (
        first in CLI_PROGRAMS
        or first.startswith(('.venv/bin/', './'))
        or (
            re.fullmatch(r'[\w.+-]+', first) is not None
            and shutil.which(first) is not None
        )
    )


def markdown_commands(path: Path) -> tuple[list[Command], list[str]]:
    """The shell commands of *path*'s code blocks, and its marker problems."""
    rel = path.relative_to(REPO).as_posix()
    lines = path.read_text().splitlines()
    commands: list[Command] = []
    problems: list[str] = []
    used_markers: set[int] = set()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, language = match.group(1), match.group(2).lower()
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        marker = None
        if start > 0 and (m := _MD_MARKER.match(lines[start - 1])):
            marker = m.group(1).strip()
            used_markers.add(start - 1)
        if language == 'console':
            # Commands after a '$ ' prompt (and their continuations); the
            # rest is output (blanked, so that line numbers stay).
            kept, continued = [], False
            for line in body:
                if line.lstrip().startswith('$ '):
                    kept.append(line.lstrip()[2:])
                else:
                    kept.append(line if continued else '')
                continued = kept[-1].rstrip().endswith('\\')
            body = kept
        elif language == '':
            logical = _logical_lines(body)
            if not logical or not _looks_like_command(logical[0][1]):
                continue
        elif language not in SHELL_LANGUAGES:
            continue
        for offset, text in _logical_lines(body):
            source = f'{rel}:{start + 2 + offset}'
            commands.append(Command(text, [source], marker))
    for n, line in enumerate(lines):
        if 'not run by the tests' in line and n not in used_markers:
            problems.append(
                f'{rel}:{n + 1}: a marker that is not the line right before a '
                f'code fence (or not of the form <!-- not run by the tests: REASON -->)'
            )
    return commands, problems


def conf_commands(path: Path) -> tuple[list[Command], list[str]]:
    """The commands of *path*'s comment lines, and its marker problems."""
    rel = path.relative_to(REPO).as_posix()
    lines = path.read_text().splitlines()
    commands: list[Command] = []
    problems: list[str] = []
    i = 0
    while i < len(lines):
        match = _CONF_COMMAND.match(lines[i])
        if not match:
            if 'not run by the tests' in lines[i]:
                problems.append(
                    f'{rel}:{i + 1}: a marker that is not right after a command '
                    f'(or not of the form #   (not run by the tests: REASON))'
                )
            i += 1
            continue
        start = i
        parts = [match.group(1)]
        while parts[-1].rstrip().endswith('\\') and i + 1 < len(lines):
            i += 1
            parts.append(lines[i].lstrip('#'))
        i += 1
        marker = None
        if i < len(lines) and (m := _CONF_MARKER.match(lines[i])):
            marker = m.group(1).strip()
            i += 1
        ((_, text),) = _logical_lines(parts)
        commands.append(Command(text, [f'{rel}:{start + 1}'], marker))
    return commands, problems


def documented_commands() -> tuple[list[Command], list[str]]:
    """Every documented command (deduplicated, in first-seen order) and problems."""
    files = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]
    confs = sorted((REPO / 'conf').glob('*.yaml'))
    confs += sorted((REPO / 'conf' / 'pairs').glob('*.yaml'))
    found: dict[str, Command] = {}
    problems: list[str] = []
    for path in files + confs:
        reader = markdown_commands if path.suffix == '.md' else conf_commands
        commands, file_problems = reader(path)
        problems += file_problems
        for command in commands:
            if command.marker == '':
                problems.append(
                    f'{command.sources[0]}: a marker without a reason: {command.text}'
                )
            seen = found.get(command.text)
            if seen is None:
                found[command.text] = command
                continue
            seen.sources += command.sources
            # Marked in one place, run because of another: it runs.
            if seen.marker is not None and command.marker is None:
                seen.marker = None
    return list(found.values()), problems


def _substitute(text: str) -> str:
    """*text* with ``[--optional]`` groups passed and placeholders replaced."""
    text = re.sub(r'\[(--[^\[\]]*)\]', r'\1', text)
    for name, value in PLACEHOLDERS.items():
        text = re.sub(rf'(?<![\w/.-]){name}(?![\w/.-])', value, text)
    return text


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name X`` or ``--name=X`` in *args*."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + '='):
            return arg.split('=', 1)[1]
    return None


def plan(text: str) -> Plan | str:
    """How the harness runs *text*, or why it cannot."""
    text = _substitute(text)
    try:
        words = shlex.split(text, comments=True)
    except ValueError as error:
        return f'not a shell command line the harness can split ({error})'
    operators = {'|', '||', '&&', ';', '<', '&', '2>', '>>'}
    if any(w in operators or w.endswith(';') or '$' in w for w in words):
        return 'a shell construct (pipe, loop, variable)'
    env: dict[str, str] = {}
    while words and re.match(r'^[A-Za-z_]\w*=', words[0]):
        key, value = words.pop(0).split('=', 1)
        env[key] = value
    stdout = None
    if '>' in words:
        at = words.index('>')
        if at + 2 != len(words):
            return 'a redirection the harness does not follow'
        stdout = words[at + 1]
        words = words[:at]
    if not words:
        return 'no command'
    program = words[0].removeprefix('.venv/bin/')
    if program in CLI_PROGRAMS:
        return _cli_plan(program, words[1:], env, stdout)
    if program not in ('python', 'python3'):
        return f'{program}: not a program the harness runs'
    if len(words) >= 3 and words[1] == '-c':
        return Plan('code', 'python', [words[2]], env, stdout)
    if len(words) < 3 or words[1] != '-m':
        return f'a script ({" ".join(words[1:2])}): not a program the harness runs'
    module, args = words[2], words[3:]
    if module == 'torchgeo':
        return _cli_plan('torchgeo', args, env, stdout)
    if not module.startswith('torchgeo_ackd'):
        return f'python -m {module}: not a module of this package'
    if module == 'torchgeo_ackd.pipeline' and not {'-h', '--help'} & set(args):
        return 'the pipeline (minutes of CPU)'
    if module == 'torchgeo_ackd.synthetic' and '--paper-size' in args:
        return 'a benchmark of the paper size'
    return Plan('module', module, args, env, stdout)


def _cli_plan(
    program: str, args: list[str], env: dict[str, str], stdout: str | None
) -> Plan | str:
    subcommand = args[0] if args else None
    config = _option(args, '--config')
    stage = (
        subcommand in ('fit', 'validate', 'test', 'predict') and '--tiles' not in args
    )
    if not stage or '--help' in args:
        return Plan('cli', program, args, env, stdout)
    if config not in CHAIN:
        return f'needs the data of {config} (the harness makes the synthetic one)'
    if '/path/to/' in ' '.join(args):
        return 'names a /path/to/ placeholder'
    if '_Weights.' in ' '.join(args):
        return 'names TorchGeo weights (a download)'
    extra = [*SHORT_RUN]
    if _option(args, '--data') is None and _option(args, '--data.class_path') is None:
        extra += NO_GENERATE
    if config == 'conf/ackd.yaml' and subcommand == 'fit':
        if not any('callbacks.init_args.epochs' in a for a in args):
            # conf/ackd.yaml re-matches at epochs 4 and 8: once, at 0, here.
            extra.append('--trainer.callbacks.init_args.epochs=[0]')
    return Plan('cli', program, args + extra, env, stdout, config, subcommand)


def run_order(commands: list[Command]) -> list[tuple[Command, Plan]]:
    """The runnable commands: the stages in their order, then the others.

    The others come last, so that one that reads a stage's output finds it.
    """
    stages = list(CHAIN)
    runnable = []
    for n, command in enumerate(commands):
        if command.marker is not None or _elsewhere(command):
            continue
        p = plan(command.text)
        if isinstance(p, Plan):
            key = (
                (0, stages.index(p.config), p.subcommand != 'fit', n)
                if p.config
                else (1, 0, False, n)
            )
            runnable.append((key, command, p))
    return [(c, p) for _, c, p in sorted(runnable, key=lambda t: t[0])]


def _elsewhere(command: Command) -> bool:
    return all(s.split(':')[0] in RUN_ELSEWHERE for s in command.sources)


@contextlib.contextmanager
def _process_state(cwd: Path, env: dict[str, str], argv: list[str]) -> Iterator[None]:
    """Run in *cwd* with *env* and ``sys.argv``; restore everything after."""
    old_cwd, old_argv, old_path = Path.cwd(), sys.argv[:], sys.path[:]
    added = [
        str((cwd / p).resolve())
        for p in env.get('PYTHONPATH', '').split(os.pathsep)
        if p
    ]
    modules = set(sys.modules)
    try:
        with mock.patch.dict(os.environ, env):
            os.chdir(cwd)
            sys.argv = argv
            sys.path[:0] = added
            yield
    finally:
        os.chdir(old_cwd)
        sys.argv, sys.path[:] = old_argv, old_path
        for name in set(sys.modules) - modules:
            module = sys.modules[name]
            if any(str(getattr(module, '__file__', '')).startswith(a) for a in added):
                del sys.modules[name]


def execute(p: Plan, cwd: Path) -> None:
    """Run *p* in-process in *cwd*; raise if it fails."""
    argv = [p.program, *p.args]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_process_state(cwd, p.env, argv))
        if p.stdout is not None:
            out = stack.enter_context(open(cwd / p.stdout, 'w'))
            stack.enter_context(contextlib.redirect_stdout(out))
        try:
            if p.kind == 'cli' and p.program == 'torchgeo':
                from torchgeo.main import main as torchgeo_main

                torchgeo_main(p.args)
            elif p.kind == 'cli':
                from torchgeo_ackd.cli import main as ackd_main

                ackd_main(p.args)
            elif p.kind == 'module':
                runpy.run_module(p.program, run_name='__main__', alter_sys=True)
            else:
                exec(compile(p.args[0], '<string>', 'exec'), {'__name__': '__main__'})
        except SystemExit as exit_info:
            if exit_info.code not in (0, None):
                raise RuntimeError(f'exit status {exit_info.code}') from exit_info
    if p.stdout is not None:
        assert (cwd / p.stdout).stat().st_size > 0, f'{p.stdout} is empty'
    if p.subcommand == 'fit' and p.config is not None:
        for output in CHAIN[p.config]:
            assert (cwd / output).exists(), f'{output} was not written'


@pytest.fixture(scope='module')
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with a copy of conf/ and the tiny data/synthetic."""
    from torchgeo_ackd.synthetic import generate_synthetic_benchmark

    base = tmp_path_factory.mktemp('documented')
    shutil.copytree(REPO / 'conf', base / 'conf')
    generate_synthetic_benchmark(base / 'data' / 'synthetic', **TINY)  # type: ignore[arg-type]
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_every_command_is_run_or_marked() -> None:
    commands, problems = documented_commands()
    assert len(commands) > 10
    for command in commands:
        if command.marker is not None or _elsewhere(command):
            continue
        why = plan(command.text)
        if isinstance(why, str):
            problems.append(
                f'{", ".join(command.sources)}: {command.text}\n    ({why})'
            )
    assert not problems, (
        'Documented commands the tests cannot run and no marker excuses: make them '
        'runnable or mark them (markdown: <!-- not run by the tests: REASON --> '
        'on the line before the fence; conf: #   (not run by the tests: REASON) '
        'on the line after the command).\n' + '\n'.join(problems)
    )


def test_parsers(tmp_path: Path) -> None:
    doc = tmp_path / 'doc.md'
    doc.write_text(
        'text\n```bash\ntorchgeo fit --config conf/teacher.yaml \\\n'
        "  --model.init_args.bands='[B01, B02]'   # a comment\n\n"
        'python -m torchgeo_ackd.check ROOT  # exit 0\n```\n'
        '<!-- not run by the tests: downloads -->\n```sh\nbash x.sh\n```\n'
        '```\nValueError: not a command\n```\n```console\n$ ls -l\ntotal 0\n```\n'
        '```python\nimport os\n```\n<!-- not run by the tests -->\n```bash\nls\n```\n'
    )
    with mock.patch(f'{__name__}.REPO', tmp_path):
        commands, problems = markdown_commands(doc)
    assert [(c.text, c.sources[0], c.marker) for c in commands] == [
        (
            "torchgeo fit --config conf/teacher.yaml --model.init_args.bands='[B01, B02]'",
            'doc.md:3',
            None,
        ),
        ('python -m torchgeo_ackd.check ROOT', 'doc.md:6', None),
        ('bash x.sh', 'doc.md:10', 'downloads'),
        ('ls -l', 'doc.md:16', None),
        ('ls', 'doc.md:24', ''),
    ]
    assert not problems
    conf = tmp_path / 'c.yaml'
    conf.write_text(
        '# Stage 1\n#   torchgeo fit --config conf/x.yaml \\\n#     --a=1\n'
        '#   --fragment=1\n# a baseline: torchgeo-ackd test --config conf/x.yaml\n'
        '#   (not run by the tests: needs 4 GPUs)\n# (not run by the tests: stray)\n'
    )
    with mock.patch(f'{__name__}.REPO', tmp_path):
        commands, problems = conf_commands(conf)
    assert [(c.text, c.sources[0], c.marker) for c in commands] == [
        ('torchgeo fit --config conf/x.yaml --a=1', 'c.yaml:2', None),
        ('torchgeo-ackd test --config conf/x.yaml', 'c.yaml:5', 'needs 4 GPUs'),
    ]
    assert len(problems) == 1 and 'c.yaml:7' in problems[0]
    p = plan('OMP_NUM_THREADS=1 python -m torchgeo_ackd.check ROOT [--x y] > out.txt')
    assert isinstance(p, Plan)
    assert (p.program, p.args, p.env, p.stdout) == (
        'torchgeo_ackd.check',
        ['data/synthetic', '--x', 'y'],
        {'OMP_NUM_THREADS': '1'},
        'out.txt',
    )
    assert isinstance(plan('for T in 1 2; do'), str)
    assert isinstance(plan('python benchmarks/x.py'), str)


def test_documented_commands_run(workdir: Path) -> None:
    commands, _ = documented_commands()
    failures = []
    timings = []
    fresh = 0
    for command, p in run_order(commands):
        cwd = workdir
        if p.program == 'torchgeo_ackd.synthetic':
            # It writes a benchmark of its own: in an empty folder.
            fresh += 1
            cwd = workdir / 'fresh' / str(fresh)
            cwd.mkdir(parents=True)
        start = time.perf_counter()
        try:
            execute(p, cwd)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            tail = ''.join(traceback.format_exception(error)[-3:]).strip()
            failures.append(f'{", ".join(command.sources)}: {command.text}\n{tail}')
        timings.append((time.perf_counter() - start, command.text))
        if cwd != workdir:
            shutil.rmtree(cwd, ignore_errors=True)
    print('\n'.join(f'{t:6.1f} s  {text}' for t, text in timings))
    assert timings
    assert not failures, '\n\n'.join(failures)
