"""The JSON API under ``/api/v1``: the CLI's commands over HTTP, plus saved scenarios.

``liq``, ``check``, ``replay``, ``montecarlo`` and ``venues`` answer as the CLI's
``--json`` does (Decimal values as strings); Monte Carlo runs too large for one request
go to ``/montecarlo/jobs`` and are polled at ``/jobs/{id}``. ``advise`` is the mode
advisor (``perpmargin.advise``: which positions to isolate, with how much margin), at
once or as a job at ``/advise/jobs``. Every bad input is a 4xx with
``{"error": type, "detail": message}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from perpmargin.errors import InvalidInput
from perpmargin.report.html import render_html
from perpmargin.report.jsonout import plan_result_dict
from perpmargin.venues.loader import bundled_venues, load_venue, venue_summary
from perpmargin.web import service
from perpmargin.web.jobs import JobManager
from perpmargin.web.schemas import (
    AdviseRequest,
    CheckRequest,
    ErrorBody,
    JobStatus,
    LiqRequest,
    LiqRow,
    MonteCarloRequest,
    PortfolioRequest,
    ReplayRequest,
    SaveRequest,
)
from perpmargin.web.store import Store

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "The body cannot be parsed (not JSON or UTF-8), or the Host header "
        "names another server.",
    },
    404: {"model": ErrorBody, "description": "No such venue, scenario, job or saved item."},
    413: {"model": ErrorBody, "description": "The request body is larger than allowed."},
    422: {"model": ErrorBody, "description": "Bad input: the message names the field."},
    429: {"model": ErrorBody, "description": "As many runs as allowed are under way."},
}

router = APIRouter(prefix="/api/v1", responses=_ERRORS)

SavedId = Annotated[int, Path(ge=1, le=2**62)]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _limits(request: Request) -> service.Limits:
    limits: service.Limits = request.app.state.limits
    return limits


def _gate(request: Request) -> service.RunGate:
    gate: service.RunGate = request.app.state.gate
    return gate


def _jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


def not_found(what: str) -> JSONResponse:
    """A 404 in the API's error shape."""
    return JSONResponse({"error": "NotFound", "detail": what}, status_code=404)


@router.get("/venues", summary="Bundled venues")
def venues() -> list[dict[str, Any]]:
    """Every bundled venue: id, name, rules version and date."""
    out = []
    for name in bundled_venues():
        v = load_venue(name)
        out.append(
            {
                "id": v.id,
                "name": v.name,
                "version": v.version,
                "as_of": v.as_of,
                "symbols": list(v.symbols),
                "default_margin_mode": v.rules.default_margin_mode,
            }
        )
    return out


@router.get("/venues/{venue}", summary="One venue's symbols and tier tables")
def venue(
    venue: Annotated[str, Path(max_length=80)],
    symbol: Annotated[list[str] | None, Query(max_length=80)] = None,
) -> Any:
    """Tier tables with their source and date (``perpmargin venues NAME --json``): those
    of ``symbol`` (repeatable), by default the venue file's own; ``all_symbols`` names
    every symbol the venue has a table for."""
    if venue not in bundled_venues():
        return not_found(f"no bundled venue {venue!r}; known: {', '.join(bundled_venues())}")
    if symbol is not None and len(symbol) > 50:
        raise InvalidInput("at most 50 symbols at once")
    return venue_summary(load_venue(venue), symbol)


@router.get("/market", summary="Bundled market data files")
def market() -> list[str]:
    """Names usable as a custom plan's ``data`` (real Binance bars of crash days)."""
    return service.market_files()


@router.get("/scenarios", summary="Bundled replay scenarios")
def scenarios() -> list[dict[str, Any]]:
    """Bundled scenarios and their plans (``variant`` = index in ``plans``)."""
    return service.scenario_catalogue()


@router.post("/liq", summary="Liquidation and bankruptcy price")
def liq(req: LiqRequest) -> list[LiqRow]:
    """``perpmargin liq``: one position, isolated and/or cross."""
    return [LiqRow(**row) for row in service.run_liq(req)]


@router.post("/check", summary="Pre-trade check")
def check(req: CheckRequest) -> dict[str, Any]:
    """``perpmargin check``: size from risk, liquidation vs stop, PASS / WARN / FAIL."""
    return service.run_check(req)


@router.post("/portfolio", summary="A unified account under the three margin modes")
def portfolio(req: PortfolioRequest) -> dict[str, Any]:
    """``perpmargin portfolio``: the unified account's ratio, and each position's
    liquidation price under isolated, cross and portfolio margin, with the liquidation
    surface (the move of each underlying that liquidates the account)."""
    return service.run_portfolio(req)


@router.post("/replay", summary="Replay a plan under isolated and cross")
def replay(req: ReplayRequest, request: Request) -> dict[str, Any]:
    """``perpmargin replay``: a bundled scenario, or a custom plan on bundled or sent bars.

    With ``save`` the inputs, the summary and the HTML report are kept; the answer then
    has ``saved_id`` and ``report_url``.
    """
    limits = _limits(request)
    with _gate(request).hold():
        upload = service.sent_bars(req.bars_csv, limits)
        result = service.run_replay(req, upload, timeout_s=limits.request_timeout_s)
    out = plan_result_dict(result, series=req.series)
    if req.save:
        store = _store(request)
        summary = plan_result_dict(result) if req.series else out
        saved = store.save(
            "compare",
            result.plan.name,
            req.model_dump(mode="json", exclude={"series", "save"}),
            summary,
            render_html([result], title=result.plan.name),
        )
        rid = store.get(saved).results[-1].id
        out["saved_id"] = saved
        out["report_url"] = f"/api/v1/results/{rid}/report.html"
    return out


@router.post("/montecarlo", summary="Monte Carlo, answered at once")
def montecarlo(req: MonteCarloRequest, request: Request) -> dict[str, Any]:
    """``perpmargin montecarlo`` for runs within ``max_paths`` paths and ``max_path_steps``
    paths x steps."""
    limits = _limits(request)
    with _gate(request).hold():
        out = service.run_montecarlo(req, limits, upload=service.sent_bars(req.bars_csv, limits))
    if req.save:
        out["saved_id"] = _store(request).save(
            "odds", out["name"], req.model_dump(mode="json", exclude={"save"}), out
        )
    return out


@router.post(
    "/montecarlo/jobs",
    summary="Monte Carlo as a background job",
    status_code=status.HTTP_202_ACCEPTED,
)
def montecarlo_job(req: MonteCarloRequest, request: Request, response: Response) -> JobStatus:
    """Start a run (up to ``max_job_paths``, ``max_job_path_steps``); poll ``/api/v1/jobs/{id}``."""
    limits = _limits(request)
    upload = service.sent_bars(req.bars_csv, limits)
    job = service.start_montecarlo_job(req, limits, _jobs(request), _store(request), upload)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobStatus(**job.status())


@router.post("/advise", summary="The mode advisor, answered at once")
def advise(req: AdviseRequest, request: Request) -> dict[str, Any]:
    """Which positions to isolate (with how much margin) and which to pool in cross, for
    runs within ``max_advise_paths`` paths and ``max_advise_work`` paths x steps x
    settings: every setting's odds on the same paths, the best by the objective compared
    with your setting, all isolated and all cross, and checked against the exact engine.
    The answer is ``Advice.to_dict()`` (the ten best settings in ``ranked``, every one in
    ``frontier``) with the plan's ``name``."""
    limits = _limits(request)
    with _gate(request).hold():
        out = service.run_advice(req, limits, upload=service.sent_bars(req.bars_csv, limits))
    if req.save:
        out["saved_id"] = _store(request).save(
            "advise",
            out["name"],
            req.model_dump(mode="json", exclude={"save"}, exclude_none=True),
            out,
        )
    return out


@router.post(
    "/advise/jobs",
    summary="The mode advisor as a background job",
    status_code=status.HTTP_202_ACCEPTED,
)
def advise_job(req: AdviseRequest, request: Request, response: Response) -> JobStatus:
    """Start a run (up to ``max_advise_job_paths``, ``max_advise_job_work``); poll
    ``/api/v1/jobs/{id}``. With ``save`` the advice is kept (kind ``advise``)."""
    limits = _limits(request)
    upload = service.sent_bars(req.bars_csv, limits)
    job = service.start_advice_job(req, limits, _jobs(request), _store(request), upload)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobStatus(**job.status())


@router.get("/jobs/{job_id}", summary="A background job's progress and result")
def job(job_id: Annotated[str, Path(max_length=64)], request: Request) -> Any:
    """``state``: queued, running, done (with ``result``) or failed (with ``error``)."""
    try:
        return JobStatus(**_jobs(request).get(job_id).status())
    except KeyError:
        return not_found(f"no job {job_id!r} (jobs are forgotten when the server restarts)")


@router.get("/saved", summary="Saved scenarios, newest first")
def saved_list(
    request: Request,
    kind: Annotated[str | None, Query(pattern="^(calculator|compare|odds|advise)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Scenarios kept in the database (without their results)."""
    return [s.__dict__ for s in _store(request).list(kind, limit)]


@router.post("/saved", summary="Save a scenario", status_code=status.HTTP_201_CREATED)
def saved_create(req: SaveRequest, request: Request) -> dict[str, Any]:
    """Keep a request under a name (its inputs are checked against its kind first)."""
    inputs = service.validate_inputs(req.kind, req.inputs)
    scenario_id = _store(request).save(req.kind, req.name, inputs, req.summary)
    return {"id": scenario_id}


@router.get("/saved/{scenario_id}", summary="One saved scenario with its results")
def saved_get(scenario_id: SavedId, request: Request) -> Any:
    """The inputs and every stored result (``report_url`` where an HTML report is kept)."""
    try:
        s = _store(request).get(scenario_id)
    except KeyError:
        return not_found(f"no saved scenario {scenario_id}")
    out = dict(s.__dict__)
    out["results"] = [
        {
            **r.__dict__,
            "report_url": f"/api/v1/results/{r.id}/report.html" if r.has_report else None,
        }
        for r in s.results
    ]
    return out


@router.delete("/saved/{scenario_id}", summary="Delete a saved scenario", status_code=204)
def saved_delete(scenario_id: SavedId, request: Request) -> Response:
    """Delete it and its results."""
    try:
        _store(request).delete(scenario_id)
    except KeyError:
        return not_found(f"no saved scenario {scenario_id}")
    return Response(status_code=204)


@router.get(
    "/results/{result_id}/report.html",
    summary="A saved comparison's HTML report",
    response_class=JSONResponse,  # the errors; the page itself is documented below
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def report(result_id: SavedId, request: Request) -> Response:
    """The self-contained page (plotly inlined), as a download."""
    try:
        page = _store(request).report(result_id)
    except KeyError:
        return not_found(f"no report for result {result_id}")
    return HTMLResponse(
        page,
        headers={"Content-Disposition": f'attachment; filename="perpmargin-{result_id}.html"'},
    )
