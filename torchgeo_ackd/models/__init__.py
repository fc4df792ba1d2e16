"""Models of the ACKD pipeline: the SKA Planner and the frozen teacher's options."""

from .planner import (
    AlignmentConfig,
    Planner,
    cross_modal_weights,
    energy_preserving_refinement,
    patch_transport_weights,
    pool_patches_to_grid,
)

__all__ = (
    'AlignmentConfig',
    'Planner',
    'cross_modal_weights',
    'energy_preserving_refinement',
    'patch_transport_weights',
    'pool_patches_to_grid',
)
