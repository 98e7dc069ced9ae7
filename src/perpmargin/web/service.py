"""What the API and the pages do, as plain functions of validated requests.

Every name that could select a file (venue, scenario, market file) is checked against
what is bundled before it is used, so a request can never make perpmargin open a path.
Errors are perpmargin's typed errors; the app turns them into 4xx answers.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from perpmargin.engine.account import Account
from perpmargin.errors import InvalidInput, UnknownVenue
from perpmargin.report.jsonout import jsonable, plan_result_dict
from perpmargin.risk.liq_price import liquidation_rows
from perpmargin.risk.pretrade import check_trade
from perpmargin.sim.data import Bars, bundled_market_files, read_bars
from perpmargin.sim.market import MarketData, load_market
from perpmargin.sim.plan import Plan, PlanError, bundled_scenarios, load_plans, plan_from_dict
from perpmargin.sim.replay import replay
from perpmargin.sim.results import PlanResult
from perpmargin.venues.loader import bundled_venues, load_venue
from perpmargin.venues.schema import Venue
from perpmargin.web.jobs import Job, JobManager
from perpmargin.web.schemas import (
    AdviseRequest,
    CheckRequest,
    LiqRequest,
    MonteCarloRequest,
    OtherPositionIn,
    PlanChoice,
    PortfolioRequest,
    ReplayRequest,
    UnifiedAccountIn,
)
from perpmargin.web.store import Store

__all__ = [
    "JobTimeout",
    "LimitExceeded",
    "Limits",
    "PreparedAdvice",
    "PreparedMonteCarlo",
    "RunGate",
    "ServerBusy",
    "advice_dict",
    "advise_settings_bound",
    "bundled_venue",
    "execute_advice",
    "execute_montecarlo",
    "job_chunk_paths",
    "market_files",
    "plan_and_market",
    "prepare_advice",
    "prepare_montecarlo",
    "run_advice",
    "run_check",
    "run_liq",
    "run_montecarlo",
    "run_portfolio",
    "run_replay",
    "scenario_catalogue",
    "sent_bars",
    "start_advice_job",
    "start_montecarlo_job",
    "validate_inputs",
]


class LimitExceeded(InvalidInput):
    """A request asks for more than the server's limits allow (paths, rows, bytes)."""


class JobTimeout(InvalidInput):
    """A run took longer than the server's time limit and was stopped."""


class ServerBusy(LimitExceeded):
    """As many runs as the server allows at once are under way (answered with a 429)."""


@dataclass(frozen=True)
class Limits:
    """Caps on what one request may ask for, and on the work the server does at once.

    Monte Carlo memory grows with paths (about 120 bytes a path), time with paths x
    steps: ``max_paths`` and ``max_path_steps`` bound a run answered at once,
    ``max_job_paths`` and ``max_job_path_steps`` a background job (one runs at a time).
    At most ``max_concurrent_runs`` replays, Monte Carlo and advisor runs are answered at once
    (another is refused with a 429); ``request_timeout_s`` stops one of them,
    ``job_timeout_s`` a job (checked between chunks of paths, or every 256 bars).
    ``header_timeout_s``: a connection that has not sent a request's headers within that
    many seconds is closed; ``body_timeout_s``: a body not all sent within that many
    seconds of the headers is answered 408 (a client dripping bytes holds nothing for
    long). ``max_saved_chars``: the largest inputs or result kept in the
    database, in characters of JSON (a comparison's inputs hold its uploaded CSV).

    The mode advisor holds every *setting* of a plan on the same paths: with ``n``
    positions and a grid of ``G`` margins (1, the plan's own margin, always among them)
    there are at most ``(G + 1) ** n`` of them
    (fewer where ``allowed`` fixes a mode), known before it runs. Its time grows with
    paths x steps x settings, its memory with paths x settings (about 20 bytes each):
    ``max_advise_paths`` and ``max_advise_work`` (paths x steps x settings) bound a run
    answered at once (``/api/v1/advise``), ``max_advise_job_paths`` and
    ``max_advise_job_work`` a background job; ``max_advise_cells`` (paths x settings)
    bounds both. Its exact-engine confirmations (up to 4 settings, each on
    ``confirm_paths`` simulated paths of ``steps + 1`` bars and on the plan's own bars)
    run after the simulation, where no time limit can stop them, so they are bounded up
    front: at most ``max_advise_confirm_bars`` bars replayed in all (the Decimal engine
    replays some 5,000 bars a second).
    """

    max_body_bytes: int = 5_000_000
    max_upload_rows: int = 50_000
    max_paths: int = 1_000_000
    max_path_steps: int = 50_000_000
    max_job_paths: int = 10_000_000
    max_job_path_steps: int = 5_000_000_000
    request_timeout_s: float = 30.0
    job_timeout_s: float = 300.0
    max_jobs: int = 8
    max_concurrent_runs: int = 2
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_saved_chars: int = 20_000_000
    max_advise_paths: int = 100_000
    max_advise_work: int = 1_000_000_000
    max_advise_job_paths: int = 2_000_000
    max_advise_job_work: int = 50_000_000_000
    max_advise_cells: int = 20_000_000
    max_advise_confirm_bars: int = 100_000


class RunGate:
    """Lets at most ``n`` heavy runs (replays, Monte Carlo and advisor runs answered at
    once) go at once."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._slots = threading.BoundedSemaphore(n)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold a slot for the block; :class:`ServerBusy` at once when none is free."""
        if not self._slots.acquire(blocking=False):
            raise ServerBusy(f"{self.n} runs are under way, the most at once; try again shortly")
        try:
            yield
        finally:
            self._slots.release()


def _deadline(timeout_s: float) -> Callable[[int], None]:
    """A progress callback that raises :class:`JobTimeout` once ``timeout_s`` have passed."""
    started = time.monotonic()

    def check(_: int) -> None:
        if time.monotonic() - started > timeout_s:
            raise JobTimeout(f"stopped after {timeout_s:g} s (the server's limit)")

    return check


def bundled_venue(name: str) -> Venue:
    """A bundled venue by name (never a file path)."""
    if name not in bundled_venues():
        raise UnknownVenue(f"no bundled venue {name!r}; known: {', '.join(bundled_venues())}")
    return load_venue(name)


def _others(others: list[OtherPositionIn]) -> list[dict[str, Any]]:
    return [
        {
            "symbol": o.symbol,
            "side": o.side,
            "quantity": o.quantity,
            "entry_price": o.entry_price,
            "mark_price": o.mark_price if o.mark_price is not None else o.entry_price,
        }
        for o in others
    ]


def run_liq(req: LiqRequest) -> list[dict[str, Any]]:
    """Liquidation and bankruptcy price per asked mode (as ``perpmargin liq``)."""
    venue = bundled_venue(req.venue)
    rows = liquidation_rows(
        venue, req.mode, req.side, req.entry, req.qty,
        collateral=req.collateral, leverage=req.leverage, mark_price=req.mark,
        maintenance_margin_rate=req.mmr, max_leverage=req.max_leverage,
        other_positions=_others(req.other_positions),
        position_mode="hedge" if req.hedge else "one-way", symbol=req.symbol,
    )  # fmt: skip
    return [{"venue": venue.id, "symbol": req.symbol, **jsonable(row)} for row in rows]


def _account(venue: Venue, balance: Decimal, others: list[OtherPositionIn]) -> Account:
    """A cross account on ``venue`` holding ``others`` at their marks."""
    account = Account(venue, balance)
    for o in others:
        spec = venue.symbol(o.symbol)
        account.restore_position(
            spec.symbol,
            o.side,
            o.quantity,
            o.entry_price,
            margin_mode="cross",
            leverage=o.leverage,
            mark_price=o.mark_price,
        )
    return account


def run_check(req: CheckRequest) -> dict[str, Any]:
    """The pre-trade check (as ``perpmargin check``); JSON-ready, Decimals as strings.

    With ``other_positions`` the check runs on the first venue only, on an account whose
    wallet is ``balance`` and which already holds them in cross.
    """
    names = bundled_venues() if req.venues == ["all"] else req.venues
    venues = [bundled_venue(n) for n in dict.fromkeys(names)]
    common: dict[str, Any] = {
        "symbol": req.symbol,
        "side": req.side,
        "entry": req.entry,
        "stop": req.stop,
        "leverage": req.leverage,
        "risk": req.risk,
        "take_profit": req.take_profit,
        "buffer": req.buffer,
        "funding_rate": req.funding_rate,
        "hold_hours": req.hold_hours,
    }
    if req.portfolio is not None:
        common["portfolio"] = unified_account(req.portfolio)
    if req.other_positions:
        account = _account(venues[0], req.balance, req.other_positions)
        result = check_trade(account=account, venue=venues[0], **common)
    else:
        chosen = "all" if req.venues == ["all"] else venues
        result = check_trade(balance=req.balance, venues=chosen, **common)
    return result.to_dict()


def market_files() -> list[str]:
    """Bundled bar files a custom plan may use (real Binance crash days)."""
    return [f for f in bundled_market_files() if "-funding-" not in f]


@functools.cache
def scenario_catalogue() -> list[dict[str, Any]]:
    """Bundled scenarios with their plans' names and descriptions (variant = index).

    Cached: the bundled files do not change while the server runs (do not mutate it).
    """
    out = []
    for name in bundled_scenarios():
        plans = load_plans(name)
        out.append(
            {
                "scenario": name,
                "plans": [
                    {"variant": i, "name": p.name, "description": p.description}
                    for i, p in enumerate(plans)
                ],
            }
        )
    return out


def _custom_plan(choice: PlanChoice, upload: Bars | None) -> Plan:
    assert choice.plan is not None
    c = choice.plan
    venue = bundled_venue(c.venue)
    spec = venue.symbol(c.symbol)
    note = ""
    if upload is None:
        files = bundled_market_files()
        if c.data not in files:
            raise InvalidInput(f"no bundled market file {c.data!r}; see GET /api/v1/market")
        pair = f"-{spec.base.lower()}{spec.quote.lower()}"
        # no coin-margined bars are bundled: the USD-stablecoin perpetual of the same coin
        # (BTCUSDT for BTCUSD_PERP) tracks the same index and stands in, said in the plan
        stand_in = spec.inverse_value is not None and f"{pair}t-" in c.data
        if f"{pair}-" not in c.data and not stand_in:
            raise InvalidInput(
                f"{c.data} is not {spec.base}/{spec.quote} data; pick a file for {spec.symbol}"
            )
        data = c.data
        if stand_in:
            note = (
                f"{spec.base}/USDT perpetual bars stand in for {spec.symbol} (the same "
                "index; no coin-margined bars are bundled)."
            )
    else:
        data = "upload.csv"
    raw: dict[str, Any] = {
        "name": f"{c.side} {spec.symbol} {c.leverage}x, margin {c.margin}, on {data}",
        "description": note,
        "venue": venue.id,
        "balance": c.balance,
        "bars": {spec.symbol: data},
        "positions": [
            {
                "symbol": spec.symbol,
                "side": c.side,
                "leverage": c.leverage,
                "size": {"margin": c.margin},
                **({"stop": c.stop} if c.stop is not None else {}),
                **({"take_profit": c.take_profit} if c.take_profit is not None else {}),
            }
        ],
    }
    if upload is None:  # the same day's funding, when it is bundled
        funding = c.data.replace("-15m-", "-funding-").replace("-1m-", "-funding-")
        if funding in bundled_market_files():
            raw["funding"] = {spec.symbol: funding}
    return plan_from_dict(raw, source="custom plan")


def plan_and_market(choice: PlanChoice, upload: Bars | None = None) -> tuple[Plan, MarketData]:
    """The plan a request picks (bundled scenario or custom) and its validated data.

    ``upload``: bars that replace the plan's data for its first position's symbol.
    """
    if (choice.scenario is None) == (choice.plan is None):
        raise PlanError("give exactly one of scenario (a bundled name) or plan (a custom plan)")
    if choice.scenario is not None:
        if choice.scenario not in bundled_scenarios():
            raise PlanError(
                f"no bundled scenario {choice.scenario!r}; known: {', '.join(bundled_scenarios())}"
            )
        plans = load_plans(choice.scenario)
        if choice.variant >= len(plans):
            raise PlanError(
                f"{choice.scenario} has variants 0 to {len(plans) - 1}, not {choice.variant}"
            )
        plan = plans[choice.variant]
    else:
        plan = _custom_plan(choice, upload)
    overrides: dict[str, Bars] = {}
    if upload is not None:
        if choice.plan is None:
            raise PlanError(
                "uploaded bars go with a custom plan (a scenario's stops and prices are for "
                "its own day)"
            )
        overrides[plan.symbols[0]] = upload
    return plan, load_market(plan, bars=overrides)


def run_replay(
    choice: PlanChoice, upload: Bars | None = None, *, timeout_s: float | None = None
) -> PlanResult:
    """Replay the chosen plan once per margin mode (as ``perpmargin replay``).

    ``timeout_s``: stop with :class:`JobTimeout` after that many seconds.
    """
    plan, market = plan_and_market(choice, upload)
    return replay(plan, market, progress=False if timeout_s is None else _deadline(timeout_s))


def replay_summary(result: PlanResult, *, series: bool = False) -> dict[str, Any]:
    """The JSON answer of a replay (Decimals as strings)."""
    return plan_result_dict(result, series=series)


@dataclass(frozen=True)
class PreparedMonteCarlo:
    """A checked Monte Carlo request: the plan's name, its calibrated setup, the steps."""

    name: str
    setup: Any
    steps: int


def prepare_montecarlo(
    req: MonteCarloRequest, limits: Limits, *, job: bool = False, upload: Bars | None = None
) -> PreparedMonteCarlo:
    """Resolve the plan, calibrate it and check the request against the limits.

    ``job``: the larger background caps (``max_job_paths``, ``max_job_path_steps``) apply.
    """
    from perpmargin.sim.montecarlo import setup_from_plan

    where = "a background job" if job else "one request (use /api/v1/montecarlo/jobs)"
    max_paths = limits.max_job_paths if job else limits.max_paths
    if req.paths > max_paths:  # checked first: memory grows with paths
        raise LimitExceeded(f"paths = {req.paths:,} is more than {where} allows ({max_paths:,})")
    plan, market = plan_and_market(req, upload)
    setup = setup_from_plan(plan, market)
    steps = req.steps if req.steps is not None else int(setup.returns.shape[0])
    cap = limits.max_job_path_steps if job else limits.max_path_steps
    if req.paths * steps > cap:
        raise LimitExceeded(
            f"paths x steps = {req.paths * steps:,} is more than {where} allows ({cap:,})"
        )
    if req.model == "bootstrap" and setup.returns.shape[0] < 2:
        raise InvalidInput("the bootstrap needs at least 3 bars of data")
    return PreparedMonteCarlo(plan.name, setup, steps)


_CHUNK_PATH_STEPS = 50_000_000  # about half a second of one chunk on two cores


def job_chunk_paths(paths: int, steps: int) -> int:
    """Paths per chunk of a server run: about 50 progress reports a run, and no chunk
    longer than ``_CHUNK_PATH_STEPS`` path-steps, so a timeout or a server stop is
    noticed within about a second."""
    return max(1, min(max(1_000, paths // 50), _CHUNK_PATH_STEPS // max(1, steps)))


def execute_montecarlo(
    prepared: PreparedMonteCarlo,
    req: MonteCarloRequest,
    limits: Limits,
    progress: Callable[[int], None] | None = None,
    *,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Run a prepared request; stop with :class:`JobTimeout` after ``timeout_s`` seconds
    (by default ``limits.job_timeout_s``).

    ``progress`` is called with the number of paths done after each chunk.
    """
    from perpmargin.sim.montecarlo import montecarlo

    late = _deadline(limits.job_timeout_s if timeout_s is None else timeout_s)

    def tick(done: int) -> None:
        if progress is not None:
            progress(done)
        late(done)

    result = montecarlo(
        prepared.setup,
        paths=req.paths,
        steps=prepared.steps,
        model=req.model,
        seed=req.seed,
        block=min(60, int(prepared.setup.returns.shape[0]) - 1),
        chunk_paths=job_chunk_paths(req.paths, prepared.steps),
        progress=tick,
    )
    return {"name": prepared.name, **jsonable(result.to_dict())}


def start_montecarlo_job(
    req: MonteCarloRequest,
    limits: Limits,
    jobs: JobManager,
    store: Store,
    upload: Bars | None = None,
) -> Job:
    """Check the request now (bad input raises here), then run it as a background job.

    With ``req.save`` the finished result is kept in ``store`` (its id in the job).
    """
    prepared = prepare_montecarlo(req, limits, job=True, upload=upload)
    inputs = req.model_dump(mode="json", exclude={"save"}, exclude_none=True)

    def work(progress: Callable[[int], None]) -> dict[str, Any]:
        return execute_montecarlo(prepared, req, limits, progress)

    def save(result: dict[str, Any]) -> int | None:
        return store.save("odds", result["name"], inputs, result) if req.save else None

    return jobs.submit(req.paths, work, save)


# ------------------------------------------------------------------------ the advisor

_CONFIRMED_SETTINGS = 4  # the best, your setting, all isolated, all cross (at most)


@dataclass(frozen=True)
class PreparedAdvice:
    """A checked advisor request: the plan, its data, the steps and how many settings
    (at most) it searches."""

    name: str
    plan: Plan
    market: MarketData
    steps: int
    settings: int


def advise_settings_bound(
    positions: Sequence[str], grid: Sequence[float], allowed: Mapping[str, Sequence[str]] | None
) -> int:
    """How many settings the advisor searches at most: its own count and checks
    (:func:`perpmargin.sim.advisor.settings_bound`)."""
    from perpmargin.sim.advisor import settings_bound

    return settings_bound(positions, grid, allowed)


def prepare_advice(
    req: AdviseRequest, limits: Limits, *, job: bool = False, upload: Bars | None = None
) -> PreparedAdvice:
    """Resolve the plan, calibrate it and check the request against the limits.

    ``job``: the larger background caps (``max_advise_job_paths``,
    ``max_advise_job_work``) apply. Bad input and work over a limit raise here, before
    anything runs.
    """
    from perpmargin.sim.advisor import MAX_POSITIONS, check_current, settings_bound
    from perpmargin.sim.montecarlo import setup_from_plan

    where = "a background job" if job else "one request (use /api/v1/advise/jobs)"
    suffix = "_job" if job else ""
    max_paths = limits.max_advise_job_paths if job else limits.max_advise_paths
    if req.paths > max_paths:  # checked first: memory grows with paths
        raise LimitExceeded(
            f"paths = {req.paths:,} is more than {where} allows "
            f"(max_advise{suffix}_paths = {max_paths:,})"
        )
    plan, market = plan_and_market(req, upload)
    if len(plan.positions) > MAX_POSITIONS:
        raise InvalidInput(
            f"the advisor takes at most {MAX_POSITIONS} positions, the plan has "
            f"{len(plan.positions)}"
        )
    symbols = [p.symbol for p in plan.positions]
    settings = settings_bound(symbols, req.grid, req.allowed)  # checks grid and allowed
    check_current(plan, req.current)
    setup = setup_from_plan(plan, market)  # NotModelled (a hedge pair) raises here
    bars = int(setup.returns.shape[0])
    steps = req.steps if req.steps is not None else bars
    if req.model == "bootstrap" and bars < 3:
        raise InvalidInput("the bootstrap needs at least 3 bars of data")
    cells = req.paths * settings
    if cells > limits.max_advise_cells:
        raise LimitExceeded(
            f"paths x settings = {req.paths:,} x {settings:,} = {cells:,} is more than "
            f"the server allows (max_advise_cells = {limits.max_advise_cells:,}): fewer "
            "paths, a smaller grid or fixed modes"
        )
    work = cells * steps
    cap = limits.max_advise_job_work if job else limits.max_advise_work
    if work > cap:
        raise LimitExceeded(
            f"paths x steps x settings = {req.paths:,} x {steps:,} x {settings:,} = "
            f"{work:,} is more than {where} allows (max_advise{suffix}_work = {cap:,})"
        )
    replayed = min(settings, _CONFIRMED_SETTINGS) * (req.confirm_paths * (steps + 1) + len(market))
    if replayed > limits.max_advise_confirm_bars:
        raise LimitExceeded(
            f"the exact-engine confirmations would replay {replayed:,} bars (up to "
            f"{min(settings, _CONFIRMED_SETTINGS)} settings x ({req.confirm_paths} paths x "
            f"{steps + 1:,} bars + the plan's {len(market):,})), more than the server allows "
            f"(max_advise_confirm_bars = {limits.max_advise_confirm_bars:,}): fewer "
            "confirm_paths, steps or bars"
        )
    return PreparedAdvice(plan.name, plan, market, steps, settings)


def advise_chunk_paths(paths: int, steps: int, settings: int) -> int:
    """Paths per chunk of an advisor run: about 50 progress reports a run, and no chunk
    longer than ``_CHUNK_PATH_STEPS`` setting-path-steps (a timeout or a server stop is
    noticed within about a second)."""
    return max(1, min(max(1_000, paths // 50), _CHUNK_PATH_STEPS // max(1, steps * settings)))


def _plain(value: Any) -> Any:
    """numpy scalars left by :func:`jsonable` (a numpy bool) as Python values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.generic):
        return jsonable(value.item())
    return value


def advice_dict(advice: Any, name: str) -> dict[str, Any]:
    """An :class:`~perpmargin.sim.advisor.Advice` as the API answers it: ``to_dict()``
    with no NaN, infinity (None) or numpy value, and the plan's ``name``."""
    out: dict[str, Any] = _plain(jsonable(advice.to_dict()))
    return {"name": name, **out}


def execute_advice(
    prepared: PreparedAdvice,
    req: AdviseRequest,
    limits: Limits,
    progress: Callable[[int], None] | None = None,
    *,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Run a prepared request; stop with :class:`JobTimeout` after ``timeout_s`` seconds
    (by default ``limits.job_timeout_s``), checked after each chunk of paths.

    ``progress`` is called with the number of paths done in each chunk.
    """
    from perpmargin.sim.advisor import advise

    late = _deadline(limits.job_timeout_s if timeout_s is None else timeout_s)

    def tick(done: int) -> None:
        if progress is not None:
            progress(done)
        late(done)

    advice = advise(
        prepared.plan,
        objective=req.objective,
        paths=req.paths,
        steps=prepared.steps,
        model=req.model,
        seed=req.seed,
        beta=req.beta,
        ruin_fraction=req.ruin_fraction,
        grid=tuple(req.grid),
        budget=req.budget,
        allowed=req.allowed,
        current=req.current,
        confirm_paths=req.confirm_paths,
        market=prepared.market,
        progress=tick,
        chunk_paths=advise_chunk_paths(req.paths, prepared.steps, prepared.settings),
    )
    return advice_dict(advice, prepared.name)


def run_advice(req: AdviseRequest, limits: Limits, *, upload: Bars | None = None) -> dict[str, Any]:
    """The mode advisor on the chosen plan, answered at once: within
    ``limits.max_advise_paths`` and ``max_advise_work``, stopped after
    ``limits.request_timeout_s``."""
    prepared = prepare_advice(req, limits, upload=upload)
    return execute_advice(prepared, req, limits, timeout_s=limits.request_timeout_s)


def start_advice_job(
    req: AdviseRequest,
    limits: Limits,
    jobs: JobManager,
    store: Store,
    upload: Bars | None = None,
) -> Job:
    """Check the request now (bad input raises here), then run the advisor as a
    background job. With ``req.save`` the finished advice is kept in ``store`` (kind
    ``advise``, its id in the job)."""
    prepared = prepare_advice(req, limits, job=True, upload=upload)
    inputs = req.model_dump(mode="json", exclude={"save"}, exclude_none=True)

    def work(progress: Callable[[int], None]) -> dict[str, Any]:
        return execute_advice(prepared, req, limits, progress)

    def save(result: dict[str, Any]) -> int | None:
        return store.save("advise", result["name"], inputs, result) if req.save else None

    return jobs.submit(req.paths, work, save)


def sent_bars(text: str | None, limits: Limits, label: str = "bars_csv") -> Bars | None:
    """Bars from CSV text sent with a request (validated in memory, row cap), or None."""
    if text is None:
        return None
    return read_bars(text.encode("utf-8"), label=label, max_rows=limits.max_upload_rows)


def run_montecarlo(
    req: MonteCarloRequest, limits: Limits, *, upload: Bars | None = None
) -> dict[str, Any]:
    """Monte Carlo of the chosen plan under both modes (as ``perpmargin montecarlo``),
    within ``limits.max_paths`` and stopped after ``limits.request_timeout_s``."""
    prepared = prepare_montecarlo(req, limits, upload=upload)
    return execute_montecarlo(prepared, req, limits, timeout_s=limits.request_timeout_s)


_KIND_MODELS: dict[str, type[BaseModel]] = {
    "calculator": CheckRequest,
    "compare": ReplayRequest,
    "odds": MonteCarloRequest,
    "advise": AdviseRequest,
}


def validate_inputs(kind: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Check saved inputs against the request model of their kind; return them as JSON.

    Raises :class:`InvalidInput` naming the first bad field.
    """
    model = _KIND_MODELS[kind]
    try:
        return model.model_validate(inputs).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "inputs"
        raise InvalidInput(f"inputs.{where}: {first['msg']}") from None


def unified_account(req: UnifiedAccountIn) -> Any:
    """The unified account a request describes. Only bundled rules: a request never
    names a file."""
    from perpmargin.engine.unified import UnifiedAccount
    from perpmargin.venues.unified import bundled_unified

    if req.rules not in bundled_unified():
        raise InvalidInput(
            f"rules must be one of {', '.join(bundled_unified())}, was {req.rules!r}"
        )
    doc = {
        "rules": req.rules,
        "balances": dict(req.balances),
        "index_prices": dict(req.index_prices),
        "positions": [p.model_dump() for p in req.positions],
        "collateral": {
            a: [(t.floor, "" if t.cap is None else t.cap, t.rate) for t in tiers]
            for a, tiers in req.collateral.items()
        },
        "contingency": dict(req.contingency),
        "price_moves": dict(req.price_moves),
    }
    return UnifiedAccount.from_dict(doc)


def run_portfolio(req: PortfolioRequest) -> dict[str, Any]:
    """A unified account under isolated, cross and portfolio margin (as ``perpmargin
    portfolio --json``)."""
    from perpmargin.risk.modes import compare_modes, comparison_dict

    return comparison_dict(compare_modes(unified_account(req), leverage=req.leverage))
