"""Every shipped config parses with TorchGeo's CLI and encodes the reference schedule."""

from pathlib import Path

import pytest
import yaml

from torchgeo_ackd.cli import main
from torchgeo_ackd.matching import dynm_schedule

CONF = Path(__file__).parents[1] / 'conf'


@pytest.mark.parametrize('config', sorted(p.name for p in CONF.glob('*.yaml')))
def test_config_parses(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', f'--config={CONF / config}', '--print_config'])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed['model']['class_path'] and printed['data']['class_path']


@pytest.mark.parametrize(
    'config,epochs',
    [
        ('s2s_eu.yaml', [30, 60, 95, 135]),
        ('s2s_cn.yaml', [45, 60, 80, 105, 135]),
        ('m2s_gl.yaml', [15, 45, 80, 120, 165]),
    ],
)
def test_reference_dynm_schedules(config: str, epochs: list[int]) -> None:
    conf = yaml.safe_load((CONF / config).read_text())
    args = conf['model']['init_args']
    got = dynm_schedule(
        args['dynm_e0'],
        args['dynm_delta_e'],
        args['dynm_e_mu'],
        conf['trainer']['max_epochs'],
        args['dynm_num_matchings'],
    )
    assert got == epochs


def _documented_overrides() -> list[str]:
    import re

    text = (Path(__file__).parents[1] / 'docs' / 'pipeline.md').read_text()
    section = text.split('### Command-line overrides for each method')[1].split(
        '\n\n', 2
    )[2]
    return re.findall(r'^\| [^|]+ \| `([^`]+)`', section, flags=re.M)


@pytest.mark.parametrize('overrides', _documented_overrides())
def test_documented_overrides(
    overrides: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex

    from torchgeo_ackd.losses import build_kd_loss

    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                'fit',
                f'--config={CONF / "ackd.yaml"}',
                *shlex.split(overrides),
                '--print_config',
            ]
        )
    assert exit_info.value.code in (0, None)
    args = yaml.safe_load(capsys.readouterr().out)['model']['init_args']
    build_kd_loss(args['kd'], **(args['kd_kwargs'] or {}))  # the kwargs fit the loss


def test_overrides_table_found() -> None:
    assert len(_documented_overrides()) >= 12
