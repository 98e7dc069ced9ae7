"""``perpmargin advise``: the mode advisor on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import perpmargin as pm
from perpmargin.cli import app
from perpmargin.report.jsonout import jsonable
from perpmargin.sim.plan import _bundled_dir

runner = CliRunner()
PLAN = "pair-2022-11-08"
SMALL = ["--paths", "600", "--steps", "48"]


def _api_json(advice: pm.Advice) -> Any:
    """The API's advice as the JSON the CLI prints should read."""

    def scalar(v: Any) -> Any:
        assert isinstance(v, np.generic), type(v)
        return v.item()

    return json.loads(json.dumps(jsonable(advice.to_dict()), default=scalar))


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_json_equals_the_api_for_the_same_seed() -> None:
    result = runner.invoke(app, ["advise", PLAN, *SMALL, "--seed", "7", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    doc = json.loads(result.stdout)
    api = pm.advise(pm.load_plans(PLAN)[0], paths=600, steps=48, seed=7)
    assert doc == _api_json(api)
    assert doc["best"]["name"] == api.best.name
    assert doc["best"]["ruin_probability"] == api.best.ruin_probability
    assert doc["seed"] == 7
    assert doc["paths"] == 600
    assert doc["steps"] == 48
    assert doc["frontier"]  # every setting
    assert len(doc["frontier"]) == api.settings_count


def test_every_option_reaches_the_advisor() -> None:
    args = [
        "advise", PLAN, *SMALL, "--variant", "1", "--objective", "growth", "--beta", "0.2",
        "--ruin-fraction", "0.5", "--grid", "1,2", "--budget", "6000", "--model", "gbm",
        "--seed", "11", "--confirm-paths", "1", "--allow", "ETHUSDT=isolated",
        "--current", "cross,isolated", "--json",
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    doc = json.loads(result.stdout)
    api = pm.advise(
        pm.load_plans(PLAN)[1],
        paths=600,
        steps=48,
        objective="growth",
        beta=0.2,
        ruin_fraction=0.5,
        grid=(1, 2),
        budget=6000,
        model="gbm",
        seed=11,
        confirm_paths=1,
        allowed={"ETHUSDT": ["isolated"]},
        current=["cross", "isolated"],
    )
    assert doc == _api_json(api)
    assert doc["plan"] == pm.load_plans(PLAN)[1].name
    assert doc["current"]["modes"] == ["cross", "isolated"]
    assert doc["all_cross"] is None  # ETHUSDT may only be isolated
    assert doc["grid"] == [1.0, 2.0]


def test_out_writes_the_page_and_the_png(tmp_path: Path) -> None:
    out = tmp_path / "new" / "advice.html"
    result = runner.invoke(app, ["advise", PLAN, *SMALL, "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert (tmp_path / "new" / "advice.png").read_bytes()[:4] == b"\x89PNG"
    assert f"Report: {out.resolve()} and advice.png" in " ".join(result.stdout.split())
    assert "recommended" in result.stdout
    assert "simulated-path checks agree" in result.stdout


def test_out_with_json_names_the_files(tmp_path: Path) -> None:
    out = tmp_path / "a.html"
    result = runner.invoke(app, ["advise", PLAN, *SMALL, "--json", "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    doc = json.loads(result.stdout)
    assert doc["report"] == {"html": str(out), "png": str(tmp_path / "a.png")}
    assert out.is_file()


CASES: dict[str, tuple[list[str], str]] = {
    "objective": (["--objective", "kelly"], "objective must be one of"),
    "grid-below-1": (["--grid", "0.5"], "grid multiples must be from 1 to 100"),
    "grid-not-numbers": (["--grid", "1,two"], "--grid 1,two"),
    "allow-unknown-symbol": (["--allow", "XRPUSDT=isolated"], "no symbol 'XRPUSDT'"),
    "allow-no-mode": (["--allow", "BTCUSDT"], "--allow BTCUSDT: expected SYMBOL=MODES"),
    "allow-bad-mode": (["--allow", "BTCUSDT=hedge"], "'hedge'"),
    "current-too-few": (["--current", "isolated"], "give one mode per position, 2"),
    "current-too-many": (["--current", "cross,cross,cross"], "was 3"),
    "current-bad-mode": (["--current", "cross,x"], "'x'"),
    "paths": (["--paths", "5"], "paths must be from"),
    "variant": (["--variant", "7"], "--variant must be from 0 to 1"),
    "budget": (["--budget", "-1"], "budget must be"),
    "beta": (["--beta", "1.5"], "beta must be from 0 to 1"),
    "out-not-html": (["--out", "advice.png"], "give an .html file name"),
    "paths-not-a-number": (["--paths", "many"], "Invalid value for '--paths'"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2(name: str) -> None:
    extra, shown = CASES[name]
    result = runner.invoke(app, ["advise", PLAN, "--steps", "48", *extra])
    assert result.exit_code == 2, (result.output, result.exception)
    line = _one_line(result.output)
    assert line.startswith("error: ")
    assert shown in line


def test_out_is_checked_before_the_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the search ran before --out was checked")

    monkeypatch.setattr("perpmargin.sim.advisor.advise", refuse)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["advise", PLAN, "--out", str(blocker / "advice.html")])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "is not a folder" in _one_line(result.output)


def test_markup_in_the_plan_path_and_name_is_printed_as_typed(tmp_path: Path) -> None:
    text = (_bundled_dir() / f"{PLAN}.toml").read_text(encoding="utf-8")
    name = "[bold]my[/bold] pair [/foo]"
    text = text.replace(
        'name = "Pair: BTC long 20x $4,000 + ETH short 20x $1,000, 2022-11-08"',
        f'name = "{name}"',
        1,
    )
    assert name in text
    folder = tmp_path / "[red]plans[" / "red]"  # the path reads ".../[red]plans[/red]/..."
    folder.mkdir(parents=True)
    path = folder / "[bold]pair.toml"
    path.write_text(text, encoding="utf-8")
    assert "[red]plans[/red]/[bold]pair.toml" in str(path)
    result = runner.invoke(app, ["advise", str(path), *SMALL, "--confirm-paths", "1"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert name in result.stdout
    missing = f"{folder}/[/nope].toml"
    refused = runner.invoke(app, ["advise", missing])
    assert refused.exit_code == 2
    assert missing in _one_line(refused.output)


def test_help_shows_the_example() -> None:
    result = runner.invoke(app, ["advise", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "perpmargin advise pair-2022-11-08 --paths 20000" in result.output
    for option in ("--objective", "--grid", "--allow", "--current", "--confirm-paths"):
        assert option in result.output
