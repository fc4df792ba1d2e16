"""TorchGeo's pretrained Sentinel-2 weights for the pipeline's teacher."""

import socket
from typing import Any

from ..models.teacher_weights import weight_band_sources
from ..sensors import SENTINEL2_SSL4EO
from .benchmark import Benchmark

PRETRAINED = 'ResNet18_Weights.SENTINEL2_ALL_MOCO'
#: The architecture of :data:`PRETRAINED` (timm's name).
PRETRAINED_MODEL = 'resnet18'


def check_teacher_model(model: str, use_pretrained: bool) -> None:
    """Refuse a teacher architecture that the pretrained weights do not fit.

    Args:
        model: The teacher's timm name.
        use_pretrained: Whether the run starts the teacher from the weights.

    Raises:
        ValueError: Naming both ways out.
    """
    if use_pretrained and model != PRETRAINED_MODEL:
        raise ValueError(
            f"--teacher-model {model}: TorchGeo's pretrained Sentinel-2 "
            f'weights here ({PRETRAINED}) are a {PRETRAINED_MODEL}; use '
            f'--teacher-model {PRETRAINED_MODEL} or add --no-pretrained'
        )


def pretrained_teacher_available(timeout: float = 15.0) -> tuple[bool, str]:
    """Whether TorchGeo's Sentinel-2 ResNet-18 weights load (hub cache or download).

    Returns:
        (available, reason) for the log.
    """
    from torchgeo.models import get_weight

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        get_weight(PRETRAINED).get_state_dict(progress=False)
    except Exception as err:  # any failure means: train from scratch
        return False, f'{type(err).__name__}: {str(err)[:120]}'
    finally:
        socket.setdefaulttimeout(previous)
    return True, 'loaded with TorchGeo (torch hub cache or download)'


def teacher_weights(
    bench: Benchmark, use_pretrained: bool
) -> tuple[str | None, dict[str, Any]]:
    """TorchGeo's Sentinel-2 weights for the teacher, when they can be loaded.

    Args:
        bench: The benchmark; with all 13 Sentinel-2 bands its ``bands`` are set to
            the weights' order, which every later stage then reads.
        use_pretrained: False: from scratch, nothing is tried.

    Returns:
        The weight name (None: from scratch) and, for other bands than Sentinel-2's 13,
        the ``TeacherTask`` arguments that build the teacher's first convolution from
        the weights' channels of those bands (by name, else nearest wavelength).
    """
    if not use_pretrained:
        return None, {}
    ok, reason = pretrained_teacher_available()
    print(f'[teacher] pretrained {PRETRAINED}: {"yes" if ok else "no"} ({reason})')
    if not ok:
        return None, {}
    if set(bench.bands) == set(SENTINEL2_SSL4EO.bands):
        bench.init_args['bands'] = list(SENTINEL2_SSL4EO.bands)
        return PRETRAINED, {}
    sensor = bench.dataset.ms_sensor
    bands = list(bench.bands)
    wavelengths = [sensor.wavelengths[sensor.bands.index(b)] for b in bands]
    sources = weight_band_sources(
        PRETRAINED, SENTINEL2_SSL4EO.bands, bands, wavelengths
    )
    print(
        f"[teacher] {sensor.name} bands from the weights' Sentinel-2 bands: "
        + ', '.join(
            f'{s.band}<-{s.source}' + ('' if s.by == 'name' else ' (nearest)')
            for s in sources
        )
    )
    return PRETRAINED, {'bands': bands, 'wavelengths': wavelengths}
