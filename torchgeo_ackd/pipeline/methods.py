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
            SSM), ``'random'`` (a seeded random same-class one) or
            ``'label_space'`` (each student with the teacher image of its
            class whose soft label is closest to the prediction of the
            baseline run of the same seed and split, a student trained on
            the RGB labels alone; see
            :func:`~torchgeo_ackd.callbacks.pair_in_label_space`).
        dynm: Re-match during training (the ``DynamicMatching`` epochs).
        capacity: Limit hubs in both matchings: each teacher serves at most
            ``ceil(capacity x`` its class's students per teacher ``)``
            students (None: the nearest teacher, as the paper).
        right_teachers: DynM re-matches only with gallery images the teacher
            classifies right (``DynamicMatching.right_teachers_only``).
        adapt_batchnorm: The SSM pairing embeds the RGB students with the
            matcher's M_G, its BatchNorm statistics re-estimated on them
            (``MatcherTask.adapt_batchnorm``).
    """

    label: str
    model: dict[str, Any] = field(default_factory=dict)
    initial: Literal['ssm', 'random', 'label_space'] = 'ssm'
    dynm: bool = True
    capacity: float | None = None
    right_teachers: bool = False
    adapt_batchnorm: bool = False


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
    # Hub-free matching: every teacher serves at most its even share of its
    # class's students (rounded up), in the initial pairing and in DynM.
    'kd_sembridge_capacity': Method('KD + SemBridge, capacity 1', _KD, capacity=1.0),
    # SemBridge started in label space instead of SSM: the matcher's
    # embeddings must cross the domain gap, class probabilities need not.
    'kd_sembridge_label_space': Method(
        'KD + SemBridge, label-space start', _KD, initial='label_space'
    ),
    # The same start kept for all epochs: DynM would re-pair with a student
    # that KD has already pulled towards its teachers.
    'kd_sembridge_label_space_no_dynm': Method(
        'KD + SemBridge, label-space start, w/o DynM',
        _KD,
        initial='label_space',
        dynm=False,
    ),
    # Vanilla KD with the label-space pairing, kept for all epochs, no SKA.
    'kd_label_space': Method(
        'Vanilla KD, label-space pairs', _KD | _NO_SKA, 'label_space', False
    ),
    # The same, hub-limited: a confident teacher's near one-hot soft labels
    # put many students on the few gallery images whose labels are softest.
    'kd_label_space_capacity': Method(
        'Vanilla KD, label-space pairs, capacity 1',
        _KD | _NO_SKA,
        'label_space',
        False,
        capacity=1.0,
    ),
    # SSM across the sensor gap: M_G's BatchNorm statistics come from the
    # pseudo-RGB views it trained on; re-estimated on the real RGB students,
    # their embeddings stop piling up on a few teachers.
    'kd_sembridge_adabn': Method(
        'KD + SemBridge, SSM with RGB BatchNorm statistics',
        _KD,
        adapt_batchnorm=True,
    ),
    'kd_sembridge_adabn_no_dynm': Method(
        'KD + SemBridge, SSM with RGB BatchNorm statistics, w/o DynM',
        _KD,
        dynm=False,
        adapt_batchnorm=True,
    ),
    # Re-matching never picks a gallery image the teacher gets wrong (the
    # lowest-KL rule otherwise does so for ~30 % of students on real-mini).
    'kd_sembridge_right': Method(
        'KD + SemBridge, right teachers', _KD, right_teachers=True
    ),
    'kd_sembridge_right_capacity': Method(
        'KD + SemBridge, right teachers, capacity 1',
        _KD,
        capacity=1.0,
        right_teachers=True,
    ),
}


def model_args(method: str, kd_temperature_squared: bool = False) -> dict[str, Any]:
    """The ``ACKDTask`` arguments of a method, with the pipeline's KD options.

    Args:
        method: A key of :data:`METHODS`.
        kd_temperature_squared: Scale the vanilla KD loss by ``T^2`` (Hinton
            et al.), which keeps its gradients the size of the task loss's at
            any temperature; the reference does not scale (the default). DKD
            and the baseline are unchanged.

    Returns:
        A new dict (groups copied, so the caller may update it).

    Raises:
        KeyError: If *method* is unknown.
    """
    model = {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in METHODS[method].model.items()
    }
    kd = model.get('kd', {})
    if kd_temperature_squared and kd.get('loss') == 'kd':
        options = dict(kd['options'])
        options['kd'] = dict(options['kd']) | {'scale_by_temperature_squared': True}
        kd['options'] = options
    return model


#: What the README's main job trains.
DEFAULT_METHODS = ('baseline', 'kd', 'kd_sembridge')

#: Human-readable names for tables and figures.
LABELS = {name: method.label for name, method in METHODS.items()}
