"""The student variants the pipeline can train: baselines, KD methods, ablations."""

from typing import Any

# The authors' headline vanilla KD: KL(teacher || student) at T = 3, no T^2.
_KD = {
    'kd': 'kd',
    'kd_kwargs': {'temperature': 3.0, 'scale_by_temperature_squared': False},
}
# DKD with its authors' defaults (alpha 1, beta 8, T 4); the warm-up is
# shortened to 2 epochs to fit the pipeline's short runs.
_DKD = {'kd': 'dkd', 'kd_kwargs': {'warmup_epochs': 2}}

#: ACKDTask arguments of each method (on top of conf/ackd.yaml).
METHODS: dict[str, dict[str, Any]] = {
    # Distillation-free baseline: the student alone on RGB.
    'baseline': {'kd': 'none', 'kd_kwargs': {}, 'sembridge': False},
    # Vanilla KD with random same-class pairs (the SCKD method under ACKD).
    'kd': _KD | {'sembridge': False},
    'kd_sembridge': _KD | {'sembridge': True},
    'dkd': _DKD | {'sembridge': False},
    'dkd_sembridge': _DKD | {'sembridge': True},
    # Ablations of SemBridge (vanilla KD), one part removed at a time.
    'kd_sembridge_no_ssm': _KD | {'ssm': False},
    'kd_sembridge_no_dynm': _KD | {'dynm': False},
    'kd_sembridge_no_ot1': _KD | {'use_ot1': False},
    'kd_sembridge_no_ot2': _KD | {'use_ot2': False},
}

#: What the README's main job trains.
DEFAULT_METHODS = ('baseline', 'kd', 'kd_sembridge')

#: Human-readable names for tables and figures.
LABELS = {
    'baseline': 'Baseline (no KD)',
    'kd': 'Vanilla KD',
    'kd_sembridge': 'Vanilla KD + SemBridge',
    'dkd': 'DKD',
    'dkd_sembridge': 'DKD + SemBridge',
    'kd_sembridge_no_ssm': 'KD + SemBridge w/o SSM',
    'kd_sembridge_no_dynm': 'KD + SemBridge w/o DynM',
    'kd_sembridge_no_ot1': 'KD + SemBridge w/o L_ot1',
    'kd_sembridge_no_ot2': 'KD + SemBridge w/o L_ot2',
}
