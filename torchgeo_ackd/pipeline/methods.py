"""The student variants the pipeline can train: baselines, KD methods, ablations."""

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Method:
    """One student variant.

    Attributes:
        label: Human-readable name for tables and figures.
        model: ``ACKDTask`` arguments on top of ``conf/ackd.yaml``; a group
            (``kd``, ``ska``) is updated key by key.
        initial: The initial pairing: ``'ssm'`` (the matcher's, SemBridge's
            SSM) or ``'random'`` (a seeded random same-class one).
        dynm: Re-match during training (the ``DynamicMatching`` epochs).
    """

    label: str
    model: dict[str, Any] = field(default_factory=dict)
    initial: Literal['ssm', 'random'] = 'ssm'
    dynm: bool = True


# The authors' headline vanilla KD: KL(teacher || student) at T = 3, no T^2.
_KD = {
    'kd': {
        'loss': 'kd',
        'options': {'kd': {'temperature': 3.0, 'scale_by_temperature_squared': False}},
    }
}
# DKD with its authors' defaults (alpha 1, beta 8, T 4); the warm-up is
# shortened to 2 epochs to fit the pipeline's short runs.
_DKD = {'kd': {'loss': 'dkd', 'options': {'dkd': {'warmup_epochs': 2}}}}
# Without SemBridge: random same-class pairs, no re-matching, no SKA.
_NO_SKA = {'ska': {'use_ot1': False, 'use_ot2': False}}

#: Every method the pipeline knows.
METHODS: dict[str, Method] = {
    # Distillation-free baseline: the student alone on RGB.
    'baseline': Method(
        'Baseline (no KD)',
        {'kd': {'loss': 'none', 'options': {}}} | _NO_SKA,
        'random',
        False,
    ),
    # Vanilla KD with random same-class pairs (the SCKD method under ACKD).
    'kd': Method('Vanilla KD', _KD | _NO_SKA, 'random', False),
    'kd_sembridge': Method('Vanilla KD + SemBridge', _KD),
    'dkd': Method('DKD', _DKD | _NO_SKA, 'random', False),
    'dkd_sembridge': Method('DKD + SemBridge', _DKD),
    # Ablations of SemBridge (vanilla KD), one part removed at a time.
    'kd_sembridge_no_ssm': Method('KD + SemBridge w/o SSM', _KD, initial='random'),
    'kd_sembridge_no_dynm': Method('KD + SemBridge w/o DynM', _KD, dynm=False),
    'kd_sembridge_no_ot1': Method(
        'KD + SemBridge w/o L_ot1', _KD | {'ska': {'use_ot1': False}}
    ),
    'kd_sembridge_no_ot2': Method(
        'KD + SemBridge w/o L_ot2', _KD | {'ska': {'use_ot2': False}}
    ),
}


def model_args(method: str) -> dict[str, Any]:
    """The ``ACKDTask`` arguments of a method.

    Args:
        method: A key of :data:`METHODS`.

    Returns:
        A new dict (groups copied, so the caller may update it).

    Raises:
        KeyError: If *method* is unknown.
    """
    return {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in METHODS[method].model.items()
    }


#: What the README's main job trains.
DEFAULT_METHODS = ('baseline', 'kd', 'kd_sembridge')

#: Human-readable names for tables and figures.
LABELS = {name: method.label for name, method in METHODS.items()}
