import pytest

from torchgeo_ackd.matching import dynm_schedule, validate_epochs


@pytest.mark.parametrize(
    ('e0', 'delta_e', 'e_mu', 'num_matchings', 'expected'),
    [
        # The reference lists of the three paper subsets (max_epochs=200).
        (5, 25, 5, 4, [30, 60, 95, 135]),
        (35, 10, 5, 5, [45, 60, 80, 105, 135]),
        (-10, 25, 5, 5, [15, 45, 80, 120, 165]),
        # No T: the series runs while e_t < max_epochs.
        (5, 25, 5, None, [30, 60, 95, 135, 180]),
        (35, 10, 5, None, [45, 60, 80, 105, 135, 170]),
        (-10, 25, 5, None, [15, 45, 80, 120, 165]),
        # Constant interval.
        (0, 50, 0, None, [50, 100, 150]),
        (0, 50, 0, 0, []),
    ],
)
def test_reference_schedules(
    e0: int, delta_e: int, e_mu: int, num_matchings: int | None, expected: list[int]
) -> None:
    assert dynm_schedule(e0, delta_e, e_mu, 200, num_matchings) == expected


def test_num_matchings_beyond_max_epochs() -> None:
    # T larger than what fits: truncated by max_epochs, not an error.
    assert dynm_schedule(5, 25, 5, 100, num_matchings=10) == [30, 60, 95]


def test_max_epochs_is_exclusive() -> None:
    assert dynm_schedule(0, 10, 0, 30) == [10, 20]
    assert dynm_schedule(0, 10, 0, 31) == [10, 20, 30]


def test_against_formula() -> None:
    e0, delta_e, e_mu = 3, 7, 2
    expected = []
    for t in range(1, 100):
        e_t = e0 + sum(delta_e + e_mu * (i - 1) for i in range(1, t + 1))
        if e_t >= 500:
            break
        expected.append(e_t)
    assert dynm_schedule(e0, delta_e, e_mu, 500) == expected


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'delta_e': 0}, 'delta_e must be >= 1'),
        ({'delta_e': -5}, 'delta_e must be >= 1'),
        ({'e_mu': -1}, 'e_mu must be >= 0'),
        ({'max_epochs': 0}, 'max_epochs must be >= 1'),
        ({'num_matchings': -1}, 'num_matchings must be >= 0'),
        ({'e0': -40}, 'epoch -15 < 0'),
    ],
)
def test_bad_arguments(kwargs: dict[str, int], match: str) -> None:
    args = {'e0': 5, 'delta_e': 25, 'e_mu': 5, 'max_epochs': 200} | kwargs
    with pytest.raises(ValueError, match=match):
        dynm_schedule(**args)


def test_non_int_argument() -> None:
    with pytest.raises(TypeError, match='delta_e must be an int'):
        dynm_schedule(5, 2.5, 5, 200)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='e_mu must be an int'):
        dynm_schedule(5, 25, True, 200)


def test_validate_epochs() -> None:
    assert validate_epochs([0, 30, 199], 200) == [0, 30, 199]
    assert validate_epochs((), 200) == []
    result = validate_epochs((1, 2), 10)
    assert isinstance(result, list)


@pytest.mark.parametrize(
    ('epochs', 'match'),
    [
        ([10, 10], 'strictly increasing'),
        ([30, 20], 'strictly increasing'),
        ([-1, 5], r'epochs\[0\] = -1 is outside'),
        ([5, 200], r'epochs\[1\] = 200 is outside'),
    ],
)
def test_validate_epochs_errors(epochs: list[int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        validate_epochs(epochs, 200)


def test_validate_epochs_types() -> None:
    with pytest.raises(TypeError, match='sequence of ints'):
        validate_epochs(30, 200)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r'epochs\[1\] must be an int'):
        validate_epochs([1, 2.0], 200)  # type: ignore[list-item]
