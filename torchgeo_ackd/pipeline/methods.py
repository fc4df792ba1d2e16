"""The student variants the pipeline can train: the paper's rows.

Built from the KD registry: ``baseline`` (no KD), the two rows of every KD loss but
``none`` (:func:`kd_methods`) and the four SemBridge ablations of vanilla KD. More
methods (e.g. from ``experiments/``) are added with :func:`register_method`.
"""

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ..losses import available_kd_losses


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

    def __post_init__(self) -> None:
        """Refuse an unknown initial pairing."""
        if self.initial not in ('ssm', 'random'):
            raise ValueError(
                f"Method.initial must be 'ssm' or 'random', got {self.initial!r}"
            )


#: The options the pipeline gives a KD loss (others run with their defaults).
KD_OPTIONS: dict[str, dict[str, Any]] = {
    # The authors' headline vanilla KD: KL(teacher || student) at T = 3, no T^2.
    'kd': {'temperature': 3.0, 'scale_by_temperature_squared': False},
    # DKD's defaults, but a 2-epoch warm-up (not 20) for the pipeline's short runs.
    'dkd': {'warmup_epochs': 2},
}
#: Table labels of KD losses whose name in capitals is not theirs.
KD_LABELS = {'kd': 'Vanilla KD', 'logits': 'Logits (MSE)'}

# Without SemBridge: random same-class pairs, no re-matching, no SKA.
_NO_SKA = {'ska': {'use_ot1': False, 'use_ot2': False}}


def _kd(loss: str) -> dict[str, Any]:
    options = KD_OPTIONS.get(loss)
    return {'kd': {'loss': loss, 'options': {loss: dict(options)} if options else {}}}


def kd_methods(loss: str) -> dict[str, Method]:
    """The two rows of a KD loss: without SemBridge and with it.

    Args:
        loss: A registered KD loss name (options: :data:`KD_OPTIONS`, else defaults).

    Returns:
        ``{loss: ..., f'{loss}_sembridge': ...}``: random same-class pairs, no
        DynM, no SKA; and SSM + DynM + SKA.
    """
    label = KD_LABELS.get(loss, loss.upper())
    return {
        loss: Method(label, _kd(loss) | _NO_SKA, 'random', False),
        f'{loss}_sembridge': Method(f'{label} + SemBridge', _kd(loss)),
    }


def _paper_methods() -> dict[str, Method]:
    # Vanilla KD first (the main job's rows), then the others by name.
    losses = sorted(set(available_kd_losses()) - {'none'}, key=lambda n: (n != 'kd', n))
    kd = _kd('kd')
    return (
        {'baseline': Method('Baseline (no KD)', _kd('none') | _NO_SKA, 'random', False)}
        | {name: m for loss in losses for name, m in kd_methods(loss).items()}
        # Ablations of SemBridge (vanilla KD), one part removed at a time.
        | {
            'kd_sembridge_no_ssm': Method('KD + SemBridge w/o SSM', kd, 'random'),
            'kd_sembridge_no_dynm': Method('KD + SemBridge w/o DynM', kd, dynm=False),
            'kd_sembridge_no_ot1': Method(
                'KD + SemBridge w/o L_ot1', kd | {'ska': {'use_ot1': False}}
            ),
            'kd_sembridge_no_ot2': Method(
                'KD + SemBridge w/o L_ot2', kd | {'ska': {'use_ot2': False}}
            ),
        }
    )


#: Every method the pipeline knows (extend it with :func:`register_method`).
METHODS: dict[str, Method] = _paper_methods()

#: Human-readable names for tables and figures.
LABELS = {name: method.label for name, method in METHODS.items()}

#: What the README's main job trains.
DEFAULT_METHODS = ('baseline', 'kd', 'kd_sembridge')


def register_method(name: str, method: Method, replace: bool = False) -> None:
    """Make a student variant known to the pipeline (``--methods name``).

    For example, vanilla KD + SemBridge at another temperature::

        from torchgeo_ackd.pipeline import Method, register_method

        register_method(
            'kd_sembridge_t4',
            Method('KD (T = 4) + SemBridge', {'kd': {'options': {'kd': {'temperature': 4.0}}}}),
        )

    and both rows of a KD loss registered later: each item of ``kd_methods(loss)``.

    Args:
        name: The method's name: lower-case letters, digits and ``_`` (it
            names the students' folders, ``<name>_seed<s>``).
        method: What it trains.
        replace: Replace a method of that name (default: refuse).

    Raises:
        TypeError: If *method* is not a :class:`Method`.
        ValueError: If *name* is not a valid name or already taken.
    """
    if not isinstance(method, Method):
        raise TypeError(f'method must be a Method, got {type(method).__name__}')
    if not (isinstance(name, str) and re.fullmatch(r'[a-z0-9_]+', name)):
        raise ValueError(
            f'a method name is lower-case letters, digits and _, got {name!r}'
        )
    if name in METHODS and not replace:
        raise ValueError(
            f'method {name!r} is already registered ({METHODS[name].label}); '
            'pass replace=True to replace it'
        )
    METHODS[name] = method
    LABELS[name] = method.label


def model_args(method: str) -> dict[str, Any]:
    """The ``ACKDTask`` arguments of a method.

    Args:
        method: A key of :data:`METHODS`.

    Returns:
        A new dict (a deep copy, so the caller may update it).

    Raises:
        KeyError: If *method* is unknown.
    """
    return copy.deepcopy(METHODS[method].model)
