"""The pages: Calculator, Compare, Odds, Advisor, Venues and Saved (server-rendered,
Jinja2).

Forms post to the pages themselves; the numbers come from the same service functions
as the API. Only the Odds and Advisor pages use script of their own, to poll their
background job (and the Saved page asks before it deletes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from perpmargin._version import __version__
from perpmargin.errors import InvalidInput, PerpMarginError
from perpmargin.report.common import (
    liquidation_status,
    money,
    places_for,
    result_places,
    verdict,
)
from perpmargin.report.html import plan_section, render_html
from perpmargin.report.jsonout import plan_result_dict
from perpmargin.sim.data import utc_text
from perpmargin.venues.loader import bundled_venues, load_venue, venue_summary
from perpmargin.web import service
from perpmargin.web.jsonbody import json_problem
from perpmargin.web.schemas import (
    AdviseRequest,
    CheckRequest,
    MonteCarloRequest,
    PortfolioRequest,
    ReplayRequest,
)
from perpmargin.web.store import Store

__all__ = ["error_page", "router", "wants_html"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["version"] = __version__
templates.env.filters["utc"] = utc_text

_OTHER_ROWS = 3

SavedId = Annotated[int, PathParam(ge=1, le=2**62)]


def wants_html(request: Request) -> bool:
    """Whether an error should be a page (anything outside ``/api/``)."""
    return not request.url.path.startswith("/api/")


def error_page(request: Request, status: int, detail: Any) -> HTMLResponse:
    """The error page: what was wrong, and a way back."""
    if isinstance(detail, list):
        lines = [f"{'.'.join(d['loc'][1:]) or 'input'}: {d['msg']}" for d in detail]
    else:
        lines = [str(detail)]
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "lines": lines}, status_code=status
    )


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _limits(request: Request) -> service.Limits:
    limits: service.Limits = request.app.state.limits
    return limits


def _status(exc: PerpMarginError) -> int:
    """A refused form's status: 429 when the server is busy, else 422."""
    return 429 if isinstance(exc, service.ServerBusy) else 422


def _replay(request: Request, req: ReplayRequest, text: str | None, label: str) -> Any:
    """Parse sent bars and replay, holding one of the server's run slots, time-limited."""
    limits = _limits(request)
    with request.app.state.gate.hold():
        upload = service.sent_bars(text, limits, label)
        return service.run_replay(req, upload, timeout_s=limits.request_timeout_s)


def _validation_lines(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(x) for x in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()]


def _form_page(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    base = {"page": name, "venues": bundled_venues()}
    return templates.TemplateResponse(
        request, f"{name}.html", {**base, **context}, status_code=status
    )


# ------------------------------------------------------------------------ calculator

_CALC_DEFAULTS = {
    "venue": "binance-usdm",
    "symbol": "BTCUSDT",
    "side": "long",
    "entry": "50000",
    "stop": "48000",
    "risk": "1%",
    "leverage": "20",
    "balance": "10000",
    "take_profit": "",
    "portfolio": "",
}


def _calc_request(form: dict[str, str], others: list[dict[str, str]]) -> CheckRequest:
    data: dict[str, Any] = {
        k: v
        for k, v in form.items()
        if k not in ("venue", "portfolio") and v != "" and k in _CALC_DEFAULTS
    }
    data["venues"] = [form.get("venue", "binance-usdm")]
    text = form.get("portfolio", "").strip()
    if text:
        if len(text) > _MAX_CALC_PORTFOLIO_TEXT:  # it travels in the page's URL
            raise InvalidInput(
                f"the unified account is {len(text):,} characters; the calculator takes "
                f"{_MAX_CALC_PORTFOLIO_TEXT:,} (use the Portfolio page or the API for more)"
            )
        problem = json_problem(text.encode())
        if problem is not None:
            raise InvalidInput(problem)
        try:
            data["portfolio"] = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"the unified account is not JSON: {exc}") from None
    data["other_positions"] = [
        {
            "symbol": o["symbol"],
            "side": o.get("side", "long"),
            "quantity": o.get("qty", ""),
            "entry_price": o.get("entry", ""),
            **({"mark_price": o["mark"]} if o.get("mark") else {}),
        }
        for o in others
        if o.get("symbol")
    ]
    return CheckRequest.model_validate(data)


_MAX_CALC_PORTFOLIO_TEXT = 6_000
"""The calculator is a GET form: its unified account stays well inside a URL the server
reads (h11: 16 KiB of request line and headers)."""

_CHECK_MONEY = ("notional", "risk_amount", "open_fee", "close_fee_at_stop")
_MODE_MONEY = ("initial_margin", "loss_at_stop", "worst_case_loss", "funding_cost")


def _shown_check(result: dict[str, Any]) -> dict[str, Any]:
    """The check's result as the page shows it: money at the settle asset's decimals
    (the API keeps the ledger's unit: 122.3520000 USDT is shown 122.35)."""

    for v in result["venues"]:
        if v.get("error"):
            continue
        settle = load_venue(v["venue"]).symbol(v["symbol"]).settle
        places = places_for(settle)

        def shown(value: Any, places: int = places) -> Any:
            return None if value is None else money(Decimal(value), places)

        v["settle"] = settle
        v.update({k: shown(v.get(k)) for k in _CHECK_MONEY})
        for m in v["modes"]:
            m.update({k: shown(m.get(k)) for k in _MODE_MONEY})
    return result


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/calculator", status_code=303)


@router.get("/calculator", response_class=HTMLResponse)
def calculator(request: Request) -> HTMLResponse:
    """Venue, symbol, side, entry, stop, risk, leverage → both modes side by side."""
    q = request.query_params
    form = {k: q.get(k, v) for k, v in _CALC_DEFAULTS.items()}
    others = [
        {
            f: q.getlist(f"o_{f}")[i] if i < len(q.getlist(f"o_{f}")) else ""
            for f in ("symbol", "side", "qty", "entry", "mark")
        }
        for i in range(_OTHER_ROWS)
    ]
    context: dict[str, Any] = {"form": form, "others": others, "result": None, "errors": []}
    if "entry" in q:
        try:
            req = _calc_request(form, others)
            context["result"] = _shown_check(service.run_check(req))
            context["inputs_json"] = json.dumps(req.model_dump(mode="json", exclude_none=True))
            context["save_name"] = (
                f"{form['side']} {form['symbol']} {form['leverage']}x @ {form['entry']}"
            )
        except ValidationError as exc:
            context["errors"] = _validation_lines(exc)
        except InvalidInput as exc:
            context["errors"] = [str(exc)]
        except PerpMarginError as exc:
            context["errors"] = [f"{type(exc).__name__}: {exc}"]
    status = 422 if context["errors"] else 200
    return _form_page(request, "calculator", context, status)


# ------------------------------------------------------------------------- portfolio

_PORTFOLIO_EXAMPLE = "unified-btc-collateral.json"


def _portfolio_example() -> str:
    from importlib import resources

    return (resources.files("perpmargin") / "examples" / _PORTFOLIO_EXAMPLE).read_text()


def _move_words(value: str | None) -> str:
    return "none in -99 %..+1000 %" if value is None else f"{float(value) * 100:+.2f} %"


def _shown_portfolio(result: dict[str, Any]) -> dict[str, Any]:
    """Money at two decimals beside the exact strings, moves in percent."""
    shown = dict(result)
    shown["assets"] = [
        {**a, "value_shown": money(Decimal(a["value"])),
         "collateral_shown": money(Decimal(a["collateral"]))}
        for a in result["assets"]
    ]  # fmt: skip
    shown["positions"] = [
        {**p, "move_shown": _move_words(p["portfolio_move"])} for p in result["positions"]
    ]
    shown["units_shown"] = [
        {"base": u["base"], "max_loss": money(Decimal(u["max_loss"])),
         "worst_move": _move_words(u["worst_move"]),
         "contingency": money(Decimal(u["contingency"])),
         "maintenance": money(Decimal(u["maintenance"])),
         "initial_margin": "not published" if u["initial_margin"] is None
         else money(Decimal(u["initial_margin"]))}
        for u in result.get("risk_units", [])
    ]  # fmt: skip
    shown["surface_shown"] = [
        (b, (_move_words(m[0]), _move_words(m[1]))) for b, m in result["surface"].items()
    ]
    return shown


@router.get("/portfolio", response_class=HTMLResponse)
def portfolio_form(request: Request) -> HTMLResponse:
    """A unified account (the bundled example to start from)."""
    form = {"account": _portfolio_example(), "leverage": "10"}
    return _form_page(request, "portfolio", {"form": form, "result": None, "errors": []})


@router.post("/portfolio", response_class=HTMLResponse)
async def portfolio_page(request: Request) -> HTMLResponse:
    """The account's ratio and each position under the three modes."""
    async with request.form() as form:
        values = {k: str(form.get(k) or "")[:_MAX_PORTFOLIO_TEXT] for k in ("account", "leverage")}
    context: dict[str, Any] = {"form": values, "result": None, "errors": []}
    problem = json_problem(values["account"].encode())
    try:
        if problem is not None:
            raise InvalidInput(problem)
        try:
            doc = json.loads(values["account"])
        except ValueError as exc:
            raise InvalidInput(f"the account is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise InvalidInput("the account is a JSON object")
        req = PortfolioRequest.model_validate({**doc, "leverage": values["leverage"] or "10"})
        result = await run_in_threadpool(service.run_portfolio, req)
        context["result"] = _shown_portfolio(result)
    except ValidationError as exc:
        context["errors"] = _validation_lines(exc)
    except PerpMarginError as exc:
        context["errors"] = [str(exc)]
    return _form_page(request, "portfolio", context, 422 if context["errors"] else 200)


_MAX_PORTFOLIO_TEXT = 20_000
"""Characters of the account text a form keeps (the body limit refuses far larger)."""


# --------------------------------------------------------------------------- compare


def _choice_fields(form: FormData) -> dict[str, Any]:
    """A PlanChoice's fields from the Compare / Odds form."""
    source = str(form.get("source", "scenario"))
    if source == "scenario":
        picked = str(form.get("scenario", ""))
        name, _, variant = picked.partition(":")
        return {"scenario": name, "variant": variant or "0"}
    plan = {
        k: str(form.get(k))
        for k in (
            "venue",
            "symbol",
            "data",
            "side",
            "leverage",
            "margin",
            "balance",
            "stop",
            "take_profit",
        )
        if form.get(k) not in (None, "")
    }
    return {"plan": plan}


async def _upload_text(form: FormData, limits: service.Limits) -> str | None:
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return None
    content = await file.read(limits.max_body_bytes + 1)
    if len(content) > limits.max_body_bytes:
        raise service.LimitExceeded(f"uploads are limited to {limits.max_body_bytes:,} bytes")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{file.filename}: not a UTF-8 text (CSV) file") from None


# What the Compare and Odds forms hold, so a page shown after a run or an error keeps
# what the user entered (a file input cannot be refilled: the page says so).
_PLAN_KEYS = (
    "source",
    "scenario",
    "venue",
    "symbol",
    "data",
    "side",
    "leverage",
    "margin",
    "balance",
    "stop",
    "take_profit",
)
_ODDS_KEYS = ("paths", "steps", "model", "seed")
_ADVISE_KEYS = (
    "objective",
    "paths",
    "steps",
    "model",
    "seed",
    "beta",
    "ruin_fraction",
    "grid",
    "budget",
    "confirm_paths",
    "allowed",
    "current",
)
_MAX_KEPT = 200  # characters of one kept value


def _kept(source: Any, keys: tuple[str, ...]) -> dict[str, str]:
    """The form's text values for ``keys`` (``source``: form data or query parameters)."""
    values = {}
    for key in keys:
        value = source.get(key)
        if isinstance(value, str) and value != "":
            values[key] = value[:_MAX_KEPT]
    return values


def _kept_from_inputs(inputs: dict[str, Any], keys: tuple[str, ...] = _ODDS_KEYS) -> dict[str, str]:
    """The form's values that reproduce saved ``inputs`` (a ReplayRequest, MonteCarloRequest
    or AdviseRequest; ``keys``: the page's own fields besides the plan's)."""
    if inputs.get("scenario"):
        picked = f"{inputs['scenario']}:{inputs.get('variant', 0)}"
        values = {"source": "scenario", "scenario": picked}
    else:
        plan = inputs.get("plan") or {}
        given = {k: str(plan[k]) for k in _PLAN_KEYS if plan.get(k) is not None}
        values = {"source": "custom", **given}
    for k in keys:
        value = inputs.get(k)
        if isinstance(value, list):  # the advisor's grid
            values[k] = ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in value)
        elif value is not None:
            values[k] = str(value)
    return values


def _plan_context(form: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """What the plan picker of Compare and Odds offers, the values entered (``form``),
    plus the page's own values."""
    return {
        "scenarios": service.scenario_catalogue(),
        "data_files": service.market_files(),
        "form": form or {},
        **extra,
    }


@router.get("/compare", response_class=HTMLResponse)
def compare_form(request: Request) -> HTMLResponse:
    """Pick a bundled crash or upload bars, pick a plan."""
    return _form_page(request, "compare", _plan_context(run=None, errors=[]))


@router.post("/compare", response_class=HTMLResponse)
async def compare(request: Request) -> HTMLResponse:
    """Replay under both modes; keep it in the database; show chart and outcome."""
    limits = _limits(request)
    values: dict[str, str] = {}
    try:
        async with request.form() as form:  # closes the upload's temporary file
            values = _kept(form, _PLAN_KEYS)
            fields = _choice_fields(form)
            text = await _upload_text(form, limits)
            filename = str(getattr(form.get("file"), "filename", "upload") or "upload")
        if text is not None:
            fields["bars_csv"] = text
            values["uploaded"] = filename[:_MAX_KEPT]
        req = ReplayRequest.model_validate(fields)
        result = await run_in_threadpool(_replay, request, req, text, filename)
    except ValidationError as exc:
        ctx = _plan_context(values, run=None, errors=_validation_lines(exc))
        return _form_page(request, "compare", ctx, 422)
    except PerpMarginError as exc:
        ctx = _plan_context(values, run=None, errors=[str(exc)])
        return _form_page(request, "compare", ctx, _status(exc))
    store = _store(request)
    saved = store.save(
        "compare",
        result.plan.name,
        req.model_dump(mode="json", exclude={"series", "save"}, exclude_none=True),
        plan_result_dict(result),
        render_html([result], title=result.plan.name),
    )
    return _compare_result(request, result, store.get(saved), values)


def _compare_result(
    request: Request, result: Any, saved: Any, values: dict[str, str]
) -> HTMLResponse:
    judged = verdict(result)
    places = result_places(result)
    run = {
        "name": result.plan.name,
        "section": plan_section(result, include_js=False),
        "saved_id": saved.id,
        "report_url": f"/api/v1/results/{saved.results[-1].id}/report.html",
        "outcomes": {
            m: {
                "status": liquidation_status(r.outcome),
                "hit": r.outcome.hit_by_liquidation,
                "final_equity": money(r.outcome.final_equity, places),
                "max_drawdown": money(r.outcome.max_drawdown, places),
                "better_by": money(judged.by, places) if judged.better == m else None,
            }
            for m, r in result.runs.items()
        },
    }
    return _form_page(request, "compare", _plan_context(values, run=run, errors=[]))


# ------------------------------------------------------------------------------ odds


@router.get("/odds", response_class=HTMLResponse)
def odds_form(request: Request) -> HTMLResponse:
    """Monte Carlo of a plan: liquidation probability and loss quantiles per mode."""
    return _form_page(request, "odds", _plan_context(job=None, errors=[]))


@router.post("/odds", response_model=None)
async def odds(request: Request) -> Response:
    """Start a background run and go to its page."""
    return await _start_job(
        request, "odds", _ODDS_KEYS, _odds_fields, MonteCarloRequest, service.start_montecarlo_job
    )


def _odds_fields(form: FormData) -> dict[str, Any]:
    return {k: str(form.get(k)) for k in _ODDS_KEYS if form.get(k) not in (None, "")}


async def _start_job(
    request: Request,
    page: str,
    keys: tuple[str, ...],
    own_fields: Callable[[FormData], dict[str, Any]],
    model: Any,
    start_job: Callable[..., Any],
) -> Response:
    """A job page's form (Odds, Advisor) -> its checked request, started as a saved
    background job; the job's page gets the values sent (in its query). Bad input shows
    the form again with what was entered."""
    limits = _limits(request)
    values: dict[str, str] = {}
    try:
        async with request.form() as form:
            values = _kept(form, _PLAN_KEYS + keys)
            fields = {**_choice_fields(form), **own_fields(form)}
            text = await _upload_text(form, limits)
            filename = str(getattr(form.get("file"), "filename", "upload") or "upload")
        if text is not None:
            fields["bars_csv"] = text
            values["uploaded"] = filename[:_MAX_KEPT]
        req = model.model_validate({**fields, "save": True})

        def start() -> Any:  # parsing and calibrating take a while: off the event loop
            upload = service.sent_bars(text, limits, "upload")
            return start_job(req, limits, request.app.state.jobs, _store(request), upload)

        job = await run_in_threadpool(start)
    except ValidationError as exc:
        ctx = _plan_context(values, job=None, errors=_validation_lines(exc))
        return _form_page(request, page, ctx, 422)
    except PerpMarginError as exc:
        ctx = _plan_context(values, job=None, errors=[str(exc)])
        return _form_page(request, page, ctx, _status(exc))
    return RedirectResponse(f"/{page}/jobs/{job.id}?{urlencode(values)}", status_code=303)


def _job_page(request: Request, page: str, keys: tuple[str, ...], job_id: str) -> HTMLResponse:
    """A running or finished job on its page, under the form as it was sent."""
    try:
        status = request.app.state.jobs.get(job_id).status()
    except KeyError:
        return error_page(request, 404, f"no job {job_id!r} (jobs end with the server)")
    values = _kept(request.query_params, _PLAN_KEYS + keys + ("uploaded",))
    return _form_page(request, page, _plan_context(values, job=status, errors=[]))


@router.get("/odds/jobs/{job_id}", response_class=HTMLResponse)
def odds_job(request: Request, job_id: Annotated[str, PathParam(max_length=64)]) -> HTMLResponse:
    """The job's page: a progress bar, then the odds (polled from the API)."""
    return _job_page(request, "odds", _ODDS_KEYS, job_id)


# --------------------------------------------------------------------------- advisor


def _advise_fields(form: FormData) -> dict[str, Any]:
    """The advisor's own fields from its form (the grid: numbers split at commas or
    spaces)."""
    fields: dict[str, Any] = {}
    for key in _ADVISE_KEYS:
        value = form.get(key)
        if not isinstance(value, str) or value.strip() == "":
            continue
        if key == "grid":
            fields[key] = [g for g in value.replace(",", " ").split() if g][:50]
        elif key == "current":  # "isolated, cross": one mode per position
            fields[key] = [m for m in value.replace(",", " ").split() if m][:50]
        elif key == "allowed":  # "BTCUSDT=isolated; ETHUSDT=isolated cross"
            allowed: dict[str, Any] = {}
            for part in value.split(";")[:50]:
                symbol, sep, modes = part.partition("=")
                if part.strip():
                    # a part without "=" reaches the schema as is and is refused there
                    allowed[symbol.strip()] = (
                        [m for m in modes.replace(",", " ").split() if m] if sep else modes
                    )
            fields[key] = allowed
        else:
            fields[key] = value.strip()
    return fields


@router.get("/advise", response_class=HTMLResponse)
def advise_form(request: Request) -> HTMLResponse:
    """The mode advisor: which positions to isolate, with how much margin."""
    return _form_page(request, "advise", _plan_context(job=None, errors=[]))


@router.post("/advise", response_model=None)
async def advise(request: Request) -> Response:
    """Start a background advisor run and go to its page."""
    return await _start_job(
        request, "advise", _ADVISE_KEYS, _advise_fields, AdviseRequest, service.start_advice_job
    )


@router.get("/advise/jobs/{job_id}", response_class=HTMLResponse)
def advise_job(request: Request, job_id: Annotated[str, PathParam(max_length=64)]) -> HTMLResponse:
    """The job's page: a progress bar, then the recommendation (polled from the API)."""
    return _job_page(request, "advise", _ADVISE_KEYS, job_id)


# ---------------------------------------------------------------------------- venues


@router.get("/venues", response_class=HTMLResponse)
def venues_page(request: Request) -> HTMLResponse:
    """Every bundled venue's tier tables, with their source and date."""
    picked = request.query_params.get("venue") or None
    symbol = (request.query_params.get("symbol") or "").strip()[:80] or None
    names = bundled_venues()
    if picked is not None and picked not in names:
        return error_page(request, 404, f"no bundled venue {picked!r}")
    try:
        shown = [
            venue_summary(load_venue(n), [symbol] if symbol and picked else None)
            for n in ([picked] if picked else names)
        ]
    except PerpMarginError as exc:  # an unknown symbol: say so, with the nearest names
        return error_page(request, 404, str(exc))
    ctx = {"shown": shown, "picked": picked, "symbol": symbol}
    return _form_page(request, "venues", ctx)


# ----------------------------------------------------------------------------- saved


@router.get("/saved", response_class=HTMLResponse)
def saved_page(request: Request) -> HTMLResponse:
    """Saved scenarios and results, newest first."""
    return _form_page(request, "saved", {"items": _store(request).list(limit=500)})


@router.post("/saved", response_model=None)
async def save_scenario(request: Request) -> Response:
    """Save a calculator scenario from its result page."""
    async with request.form() as form:
        raw = {k: str(form.get(k, "")) for k in ("kind", "inputs", "name")}
    try:
        kind = raw["kind"]
        if kind not in ("calculator", "compare", "odds", "advise"):
            raise InvalidInput(f"kind must be calculator, compare, odds or advise, was {kind!r}")
        inputs = service.validate_inputs(kind, json.loads(raw["inputs"] or "{}"))
        name = (raw["name"] or kind)[:80]
    except (ValueError, PerpMarginError) as exc:
        return error_page(request, 422, f"cannot save: {exc}")
    _store(request).save(kind, name, inputs)
    return RedirectResponse("/saved", status_code=303)


@router.post("/saved/{scenario_id}/delete", response_model=None)
def delete_scenario(request: Request, scenario_id: SavedId) -> Response:
    try:
        _store(request).delete(scenario_id)
    except KeyError:
        return error_page(request, 404, f"no saved scenario {scenario_id}")
    return RedirectResponse("/saved", status_code=303)


def calculator_query(inputs: dict[str, Any]) -> str:
    """The calculator URL's query for saved inputs (a CheckRequest as JSON)."""
    pairs: list[tuple[str, str]] = []
    for key in ("symbol", "side", "entry", "stop", "risk", "leverage", "balance", "take_profit"):
        if inputs.get(key) is not None:
            pairs.append((key, str(inputs[key])))
    pairs.append(("venue", str(inputs.get("venues", ["binance-usdm"])[0])))
    for o in inputs.get("other_positions", []):
        pairs += [
            ("o_symbol", o["symbol"]),
            ("o_side", o["side"]),
            ("o_qty", str(o["quantity"])),
            ("o_entry", str(o["entry_price"])),
            ("o_mark", str(o.get("mark_price") or "")),
        ]
    return urlencode(pairs)


@router.get("/saved/{scenario_id}", response_model=None)
def reopen(request: Request, scenario_id: SavedId) -> Response:
    """Open a saved scenario on its page, with its result."""
    try:
        saved = _store(request).get(scenario_id)
    except KeyError:
        return error_page(request, 404, f"no saved scenario {scenario_id}")
    if saved.kind == "calculator":
        return RedirectResponse(f"/calculator?{calculator_query(saved.inputs)}", status_code=303)
    if saved.kind == "compare":
        req = ReplayRequest.model_validate(saved.inputs)
        try:
            result = _replay(request, req, req.bars_csv, "bars_csv")
        except PerpMarginError as exc:
            return error_page(request, _status(exc), str(exc))
        return _compare_result(request, result, saved, _kept_from_inputs(saved.inputs))
    last = saved.results[-1].summary if saved.results else None
    page, keys = ("advise", _ADVISE_KEYS) if saved.kind == "advise" else ("odds", _ODDS_KEYS)
    ctx = _plan_context(
        _kept_from_inputs(saved.inputs, keys), job=None, errors=[], saved_result=last, saved=saved
    )
    return _form_page(request, page, ctx)
