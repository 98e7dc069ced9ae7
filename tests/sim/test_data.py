"""Market data: bundled files load; each malformed file is refused with its row."""

import pandas as pd
import pytest

from perpmargin.sim import DataError, align, bundled_market_files, load_bars, load_funding
from perpmargin.sim.data import read_bars

GOOD = """timestamp,open,high,low,close,volume
1700000001000,100,110,90,105,1.5
1700000002000,105,106,100,101,2.0
1700000003000,101,104,99,103,0.5
1700000004000,103,103,95,96,3.0
"""


def _write(tmp_path, text, name="bars.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_bundled_file_loads_and_pairs_align():
    names = bundled_market_files()
    assert len(names) == 22
    by_event: dict[str, dict] = {}
    for name in names:
        if "funding" in name:
            assert len(load_funding(name).frame) == 45
            continue
        bars = load_bars(name)
        if "-15m-" in name:
            assert bars.step_ms == 15 * 60 * 1000
            event = name.rsplit("-15m-", 1)[1]
            by_event.setdefault(event, {})[name.split("-")[1]] = bars
    for pair in by_event.values():
        align(pair)  # BTC and ETH bars of each crash share their timestamps


def test_good_file(tmp_path):
    bars = load_bars(_write(tmp_path, GOOD))
    assert bars.step_ms == 1000
    assert list(bars.frame["close"]) == [105.0, 101.0, 103.0, 96.0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("3000,101", "3500,101"), r"row 4: gap: timestamp 1700000003500"),
        (lambda t: t.replace("3000,101", "2000,101"), r"row 4: duplicate timestamp 1700000002000"),
        (lambda t: t.replace("4000,103", "1500,103"), r"row 5: timestamp 1700000001500 is before"),
        (lambda t: t.replace("105,106,100,101", "105,106,100,NaN"), r"row 3: close is not a"),
        (lambda t: t.replace("105,106,100,101", "105,106,100,"), r"row 3: close is not a"),
        (lambda t: t.replace("101,104,99,103", "101,104,-99,103"), r"row 4: low must be > 0"),
        (lambda t: t.replace("103,103,95,96", "103,94,95,96"), r"row 5: high 94.0 is below low"),
        (lambda t: t.replace("100,110,90,105", "100,104,90,105"), r"row 2: high 104.0 is below"),
        (lambda t: t.replace("timestamp,", "time,"), r"missing column\(s\) timestamp"),
        (lambda t: t.replace("1000,100", "1000.5,100"), r"row 2: timestamp must be whole"),
        (lambda t: t.replace(",1.5", ",-1.5"), r"row 2: volume must be >= 0"),
    ],
)
def test_malformed_bars_name_the_row(tmp_path, edit, message):
    path = _write(tmp_path, edit(GOOD))
    with pytest.raises(DataError, match=message) as info:
        load_bars(path)
    assert "bars.csv" in str(info.value)


def test_parquet_round_trip_and_rows(tmp_path):
    frame = pd.read_csv(_write(tmp_path, GOOD))
    frame.to_parquet(tmp_path / "bars.parquet")
    assert load_bars(tmp_path / "bars.parquet").frame.equals(load_bars(tmp_path / "bars.csv").frame)
    frame.loc[2, "high"] = float("nan")
    frame.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"row 2: high is not a finite number"):
        load_bars(tmp_path / "bad.parquet")


def test_mismatched_symbols_are_refused(tmp_path):
    a = load_bars(_write(tmp_path, GOOD, "a.csv"))
    shifted = GOOD.replace("1700000001000,100", "1700000000000,100")
    with pytest.raises(DataError):
        load_bars(_write(tmp_path, shifted, "b.csv"))  # a gap (..0000 -> ..2000)
    b = load_bars(_write(tmp_path, GOOD.rsplit("\n", 2)[0] + "\n", "c.csv"))
    with pytest.raises(DataError, match="differ from bar 3"):
        align({"A": a, "B": b})


def test_funding_rows(tmp_path):
    text = "funding_time,funding_rate\n1700000000001,0.0001\n1700000000002,8.4E-7\n"
    path = _write(tmp_path, text, "f.csv")
    assert list(load_funding(path).frame["funding_rate"]) == [0.0001, 8.4e-7]
    text = "funding_time,funding_rate\n1700000000002,0.0001\n1700000000001,0.0002\n"
    bad = _write(tmp_path, text, "g.csv")
    with pytest.raises(DataError, match="row 3: funding_time 1700000000001 is before"):
        load_funding(bad)
    with pytest.raises(DataError, match="no bundled market file"):
        load_funding("nope.csv")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (",".join(["timestamp", "open", "high", "low", "close"] + ["open"] * 40_000), "'open'"),
        ("\n \t\n" + ",".join(["open"] * 40_000), "'open' appears 40,000 times"),  # after blanks
        ('"a\nb",' + ",".join(["x"] * 40_000), "'x' appears 40,000 times"),  # a quoted newline
        (",".join(f"c{i}" for i in range(100_000)), "100,000 columns, more than the 64"),
        ("x" * 200_000, "the header cannot be read"),  # one name longer than csv allows
    ],
)
def test_a_hostile_header_is_refused_before_parsing(tmp_path, header, message):
    """Issue: pandas renames repeated column names in quadratic time (an 80 KB header
    pinned a core for 36 s); the header is now checked first, in linear time."""
    text = header + "\n0,1,1,1,1\n60000,1,1,1,1\n"
    with pytest.raises(DataError, match=f"upload: line 1: .*{message}"):
        read_bars(text.encode())
    with pytest.raises(DataError, match=f"bars.csv: line 1: .*{message}"):
        load_bars(_write(tmp_path, text))


def test_a_header_with_blank_lines_before_it_still_loads():
    bars = read_bars(("\n  \n" + GOOD).encode())
    assert list(bars.frame["close"]) == [105.0, 101.0, 103.0, 96.0]


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ("1583971200", r"row 2: timestamp 1583971200 is 1970-01-19 .* \(seconds\? multiply"),
        ("1583971200000000", r"row 2: timestamp 1583971200000000 is after 2100 .*microseconds"),
    ],
)
def test_timestamps_in_another_unit_are_refused(tmp_path, first, message):
    """Issue 22: bars in seconds were replayed as January 1970."""
    second = int(first) + 60 * int(first) // 1583971200  # a minute on, in the same unit
    text = f"timestamp,open,high,low,close\n{first},1,1,1,1\n{second},1,1,1,1\n"
    with pytest.raises(DataError, match=message):
        load_bars(_write(tmp_path, text))
