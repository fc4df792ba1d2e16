"""Models of the ACKD pipeline: the SKA Planner."""

from .planner import (
    Planner,
    cross_modal_weights,
    energy_preserving_refinement,
    patch_transport_weights,
    pool_patches_to_grid,
)

__all__ = (
    'Planner',
    'cross_modal_weights',
    'energy_preserving_refinement',
    'patch_transport_weights',
    'pool_patches_to_grid',
)
