"""Scenario TOML files: parsing, variants, paths, and typed errors naming the field."""

from decimal import Decimal as D

import pytest

from perpmargin.sim.plan import PlanError, bundled_scenarios, load_plans

BASE = """
name = "t"
venue = "binance-usdm"
balance = 1000.5
start = "2020-03-12T01:00:00Z"
[bars]
BTCUSDT = "btc.csv"
[[positions]]
symbol = "BTCUSDT"
side = "long"
leverage = 10
size = { risk = "1.5%" }
stop = 7000.5
add_margin = [{ at_price = 7500, amount = 20 }, { at_margin_ratio = 0.8, amount = 5 }]
[[variants]]
name = "t at 5x"
positions = [{ leverage = 5 }]
"""


def test_toml_plan_and_variant(tmp_path):
    (tmp_path / "btc.csv").write_text("x")
    f = tmp_path / "plan.toml"
    f.write_text(BASE)
    base, variant = load_plans(f)
    assert base.balance == D("1000.5")  # TOML floats are read as exact Decimals
    assert base.start == 1583974800000
    assert base.bars["BTCUSDT"] == tmp_path / "btc.csv"  # relative to the file
    (pos,) = base.positions
    assert (pos.size.kind, pos.size.value, pos.size.percent) == ("risk", D("1.5"), True)
    assert pos.size.risk_text == "1.5%"
    assert pos.stop == D("7000.5")
    assert [t.at_price for t in pos.add_margin] == [D(7500), None]
    assert pos.add_margin[1].at_margin_ratio == D("0.8")
    assert base.modes == ("isolated", "cross")
    assert variant.name == "t at 5x"
    assert variant.positions[0].leverage == 5
    assert variant.positions[0].stop == D("7000.5")  # the rest is the base's


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("balance = 1000.5", "balanse = 1"), "unknown key"),
        (('side = "long"', 'side = "sideways"'), "side"),
        (("leverage = 10", "leverage = -1"), "leverage"),
        (('size = { risk = "1.5%" }', "size = { lots = 3 }"), "unknown size rule"),
        (('start = "2020-03-12T01:00:00Z"', 'start = "yesterday"'), "ISO-8601"),
        (("stop = 7000.5", "stop = 7000.5\nfoo = 1"), "positions\\[0\\]: unknown key"),
        (('venue = "binance-usdm"', ""), "missing venue"),
        (("[[positions]]", "[[positionz]]"), "unknown key"),
        (('name = "t at 5x"', 'nam = "x"'), "variants\\[0\\]"),
        (("balance = 1000.5", "balance = 1000.5\nmodes = []"), "modes"),
        (("balance = 1000.5", "balance = [1"), "not valid TOML"),
    ],
)
def test_bad_scenarios_name_the_field(tmp_path, edit, message):
    f = tmp_path / "plan.toml"
    f.write_text(BASE.replace(*edit, 1))
    with pytest.raises(PlanError, match=message) as err:
        load_plans(f)
    assert str(f) in str(err.value)


def test_missing_file_lists_the_bundled_scenarios():
    with pytest.raises(PlanError, match="seed-2020-03-12"):
        load_plans("no-such-scenario")


def test_bundled_scenarios_load():
    names = bundled_scenarios()
    assert {
        "seed-2020-03-12",
        "pair-2022-11-08",
        "pair-2025-10-10",
        "stop-before-liquidation-2024-08-05",
        "funding-2021-05-19",
    } <= set(names)
    for name in names:
        for plan in load_plans(name):
            assert plan.description
            assert plan.modes == ("isolated", "cross")
