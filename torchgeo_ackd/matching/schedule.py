"""Dynamic Matching (DynM) schedule: the epochs at which pairs are recomputed.

Re-matchings grow further apart (a curriculum): ``delta_e``, ``delta_e + e_mu``,
``delta_e + 2 e_mu``, ... epochs.
"""

from collections.abc import Sequence


def _require_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int (not a bool), else raise TypeError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{name} must be an int, got {type(value).__name__}')
    return value


def dynm_schedule(
    e0: int,
    delta_e: int,
    e_mu: int,
    max_epochs: int,
    num_matchings: int | None = None,
) -> list[int]:
    """Epochs at which Dynamic Matching recomputes the pairing.

    The terms ``e_t = e0 + sum_{i=1..t} (delta_e + e_mu * (i - 1))``, t >= 1, kept
    while ``e_t < max_epochs``, at most ``num_matchings`` of them; 0-based like
    Lightning's ``current_epoch``. With ``max_epochs=200`` (the paper's subsets):

    * S2S-EU ``(5, 25, 5)``, T=4: ``[30, 60, 95, 135]`` (T=None adds 180)
    * S2S-CN ``(35, 10, 5)``, T=5: ``[45, 60, 80, 105, 135]``
    * M2S-GL ``(-10, 25, 5)``, T=5: ``[15, 45, 80, 120, 165]``

    Args:
        e0: Offset of the series in epochs; may be negative.
        delta_e: First interval between re-matchings in epochs (>= 1).
        e_mu: Growth of the interval per re-matching in epochs (>= 0).
        max_epochs: Number of training epochs (>= 1); only epochs below it are kept.
        num_matchings: Maximum number of re-matchings (T, >= 0), or None for all.

    Returns:
        Strictly increasing epoch indices, each in ``[0, max_epochs)``.

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If ``delta_e < 1``, ``e_mu < 0``, ``max_epochs < 1``,
            ``num_matchings < 0``, or a kept term is a negative epoch.
    """
    _require_int('e0', e0)
    _require_int('delta_e', delta_e)
    _require_int('e_mu', e_mu)
    _require_int('max_epochs', max_epochs)
    if delta_e < 1:
        raise ValueError(
            f'delta_e must be >= 1 so that re-matching epochs increase, got {delta_e}'
        )
    if e_mu < 0:
        raise ValueError(
            f'e_mu must be >= 0 so that re-matching intervals do not shrink, got {e_mu}'
        )
    if max_epochs < 1:
        raise ValueError(f'max_epochs must be >= 1, got {max_epochs}')
    if num_matchings is not None:
        _require_int('num_matchings', num_matchings)
        if num_matchings < 0:
            raise ValueError(f'num_matchings must be >= 0 or None, got {num_matchings}')

    epochs: list[int] = []
    epoch = e0
    t = 1
    # Intervals are >= delta_e >= 1, so the loop ends once it passes max_epochs.
    while num_matchings is None or len(epochs) < num_matchings:
        epoch += delta_e + e_mu * (t - 1)
        if epoch >= max_epochs:
            break
        if epoch < 0:
            raise ValueError(
                f'dynm_schedule(e0={e0}, delta_e={delta_e}, e_mu={e_mu}): term '
                f't={t} is epoch {epoch} < 0; raise e0 so that every scheduled '
                'epoch is >= 0'
            )
        epochs.append(epoch)
        t += 1
    return epochs


def validate_epochs(epochs: Sequence[int], max_epochs: int) -> list[int]:
    """Check an explicit list of re-matching epochs.

    Args:
        epochs: Strictly increasing 0-based epochs in ``[0, max_epochs)``, or empty.
        max_epochs: Number of training epochs (>= 1).

    Returns:
        The epochs as a new list of ints.

    Raises:
        TypeError: If ``epochs`` is not a sequence of ints.
        ValueError: If an epoch is out of range or the list is not strictly increasing.
    """
    _require_int('max_epochs', max_epochs)
    if max_epochs < 1:
        raise ValueError(f'max_epochs must be >= 1, got {max_epochs}')
    if isinstance(epochs, str | bytes) or not isinstance(epochs, Sequence):
        raise TypeError(
            f'epochs must be a sequence of ints, got {type(epochs).__name__}'
        )
    result = [_require_int(f'epochs[{i}]', e) for i, e in enumerate(epochs)]
    for i, epoch in enumerate(result):
        if not 0 <= epoch < max_epochs:
            raise ValueError(
                f'epochs[{i}] = {epoch} is outside [0, max_epochs={max_epochs})'
            )
        if i > 0 and epoch <= result[i - 1]:
            raise ValueError(
                f'epochs must be strictly increasing, but epochs[{i - 1}] = '
                f'{result[i - 1]} and epochs[{i}] = {epoch}'
            )
    return result
