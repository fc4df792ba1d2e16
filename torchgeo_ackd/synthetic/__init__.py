"""Seeded synthetic MS -> RGB benchmark in the real benchmark's folder layout.

The generator writes a small, unpaired ACKD problem in seconds, so the package's
main job runs on a fresh machine without any download: 13-band Sentinel-2-like
MS scenes (region A) mixed from endmember spectra with class-specific spatial
layouts, and 8-bit RGB scenes of the same classes from another region (other
scale, materials, illumination, colour balance and texture). Two class pairs
(AnnualCrop / StressedCrop, HerbaceousVegetation / Wetland) look nearly alike
in RGB and separate in the red edge, NIR and SWIR, so the MS teacher knows more
than the RGB student can learn alone. See ``docs/synthetic.md``.
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
