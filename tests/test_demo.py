"""``make demo``: every bundled scenario replayed, a table printed, the report written."""

from perpmargin import demo
from perpmargin.sim.plan import bundled_scenarios, load_plans


def test_demo_writes_the_report(tmp_path, capsys, monkeypatch):
    # the slow part is the replay itself; one scenario is enough to check the wiring
    monkeypatch.setattr(demo, "bundled_scenarios", lambda: ["seed-2020-03-12"])
    report = tmp_path / "[/x]" / "report"  # a folder name that is Rich markup (issue 22)
    demo.main(report, advise_paths=400)
    out = capsys.readouterr().out
    assert "index.html" in out
    assert "[/x]" in out.replace("\n", "")
    assert (report / "index.html").stat().st_size > 100_000
    plan_pngs = [p for p in report.glob("*.png") if p.name not in ("stress.png", "advice.png")]
    assert len(plan_pngs) == len(load_plans("seed-2020-03-12"))
    assert (report / "stress.html").stat().st_size > 100_000
    assert (report / "advice.html").stat().st_size > 100_000  # the advisor's page
    assert (report / "advice.png").stat().st_size > 10_000
    assert "recommended" in out
    assert "all isolated" in out
    assert "03-12 10:25" in out


def test_run_bundled_covers_every_scenario_name():
    assert len(bundled_scenarios()) >= 5
