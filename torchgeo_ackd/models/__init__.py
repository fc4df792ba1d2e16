"""Models of the ACKD pipeline: the SKA Planner, the teacher, the paper's backbones.

Importing the package registers the paper's MobileNetV2 and ShuffleNetV2
x0.5 with timm by name (``mobilenetv2_512``, ``shufflenetv2_x0_5_512``).
"""

from .planner import (
    AlignmentConfig,
    Planner,
    cross_modal_weights,
    energy_preserving_refinement,
    patch_transport_weights,
    pool_patches_to_grid,
)
from .pretrained import load_pretrained
from .reference_backbones import MobileNetV2Embedding512, ShuffleNetV2x05Embedding512

__all__ = (
    'AlignmentConfig',
    'MobileNetV2Embedding512',
    'Planner',
    'ShuffleNetV2x05Embedding512',
    'cross_modal_weights',
    'energy_preserving_refinement',
    'load_pretrained',
    'patch_transport_weights',
    'pool_patches_to_grid',
)
