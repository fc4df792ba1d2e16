"""torchgeo-ackd: Asymmetric Cross-modal Knowledge Distillation for TorchGeo.

An MS (multispectral) teacher teaches an RGB student with no paired images,
with SemBridge (Wei et al., AAAI 2026): student-friendly matching and
semantic-aware knowledge alignment on top of any KD loss.
"""

__version__ = '0.1.0'
