"""The intrabar path: adverse extreme first (conservative) or favourable first."""

import pytest

from perpmargin.sim.intrabar import waypoints

BAR = (100, 110, 90, 105)


@pytest.mark.parametrize(
    ("exposure", "order", "hint", "expected"),
    [
        (1, "conservative", 0, (100, 90, 110, 105)),  # long: low first
        (-1, "conservative", 0, (100, 110, 90, 105)),  # short: high first
        (1, "optimistic", 0, (100, 110, 90, 105)),
        (-1, "optimistic", 0, (100, 90, 110, 105)),
        (0, "conservative", -1, (100, 110, 90, 105)),  # flat: the pending entry's side
        (0, "conservative", 0, (100, 90, 110, 105)),  # flat, nothing pending: low first
        (1, "conservative", -1, (100, 90, 110, 105)),  # exposure wins over the hint
    ],
)
def test_waypoints(exposure, order, hint, expected):
    assert waypoints(*BAR, exposure=exposure, order=order, side_hint=hint) == expected


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="intrabar order"):
        waypoints(*BAR, exposure=1, order="random")
