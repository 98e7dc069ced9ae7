import perpmargin as pm


def test_all_is_sorted_and_exported():
    assert pm.__all__ == sorted(pm.__all__)
    for name in pm.__all__:
        assert hasattr(pm, name), name


def test_error_tree():
    for cls in (
        pm.InvalidInput,
        pm.UnknownSymbol,
        pm.LeverageTooHigh,
        pm.ModeSwitchError,
        pm.InsufficientMargin,
        pm.MarginRemovalNotAllowed,
        pm.VenueDataError,
    ):
        assert issubclass(cls, pm.PerpMarginError)
    assert issubclass(pm.InvalidInput, ValueError)
    assert issubclass(pm.UnknownSymbol, KeyError)
