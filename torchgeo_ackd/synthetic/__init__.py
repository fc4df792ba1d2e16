"""Seeded synthetic MS -> RGB benchmark in the real benchmark's folder layout.

13-band Sentinel-2-like MS scenes and unpaired 8-bit RGB scenes of ten classes from
another region, written in seconds with no download. Two class pairs look alike in
RGB and separate in the red edge, NIR and SWIR. See ``docs/synthetic.md``.
"""

from .generate import (
    GENERATOR_VERSION,
    benchmark_parameters,
    generate_synthetic_benchmark,
    paper_counts,
)
from .layouts import CONFUSABLE_PAIRS, SYNTHETIC_CLASSES
from .scenes import synthetic_ms_image, synthetic_rgb_image
from .spectra import ENDMEMBERS, endmember_spectra

__all__ = (
    'CONFUSABLE_PAIRS',
    'ENDMEMBERS',
    'GENERATOR_VERSION',
    'SYNTHETIC_CLASSES',
    'benchmark_parameters',
    'endmember_spectra',
    'generate_synthetic_benchmark',
    'paper_counts',
    'synthetic_ms_image',
    'synthetic_rgb_image',
)
