"""The mode advisor's report: which setting to run, beside the user's, all isolated and
all cross.

- :func:`print_advice`: a rich table of the best settings and the baselines, then the
  advisor's explanation, the exact engine's confirmation and the notes;
- :func:`frontier_figure`: every setting as a point, P(ruin) against expected return
  (plotly), the recommendation and the baselines marked;
- :func:`write_advice_html`: one self-contained page (plotly inlined, opens offline) with
  the table, the words and the figure; :func:`write_advice_png`: the frontier as a PNG
  (matplotlib).

Every piece of text from the user (the plan's name, its symbols) goes out literally: as
:class:`rich.text.Text` in the terminal (never read as markup, whichever console prints
it), HTML-escaped on the page, with ``$`` escaped for matplotlib.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from rich.console import Console
from rich.table import Table
from rich.text import Text

from perpmargin.report.common import money, places_for
from perpmargin.report.html import _CSS

if TYPE_CHECKING:
    from perpmargin.sim.advisor import Advice, Confirmation, SettingStats

__all__ = [
    "advice_table",
    "confirmation_lines",
    "frontier_figure",
    "print_advice",
    "render_advice_html",
    "write_advice_html",
    "write_advice_png",
]

TOP = 8
"""Settings shown from the top of the ranking (the baselines are added below them)."""

ROLES = ("recommended", "your setting", "all isolated", "all cross")
_MARKERS: dict[str, tuple[str, str, str, int]] = {
    # role: plotly symbol, matplotlib marker, colour, size
    "recommended": ("star", "*", "#0a7d32", 20),
    "your setting": ("diamond-open", "D", "#1d1d1f", 19),  # open: a baseline shows through
    "all isolated": ("square", "s", "#1f6fb4", 12),
    "all cross": ("triangle-up", "^", "#e8710a", 13),
}
_POINT = "#9a9a9a"
_TINY = 1e-12  # a Wilson bound this close to 0 is 0 (floating-point residue)


# ------------------------------------------------------------------------ rows


@dataclass(frozen=True)
class _Row:
    rank: int
    """1 = the best."""
    stats: SettingStats
    roles: tuple[str, ...]


def _roles(advice: Advice) -> dict[str, tuple[str, ...]]:
    """Setting name -> the roles it plays (a setting can be several)."""
    out: dict[str, list[str]] = {}
    for role, s in zip(
        ROLES, (advice.best, advice.current, advice.all_isolated, advice.all_cross), strict=True
    ):
        if s is not None:
            out.setdefault(s.name, []).append(role)
    return {name: tuple(r) for name, r in out.items()}


def _rows(advice: Advice, top: int = TOP) -> tuple[list[_Row], list[_Row]]:
    """The best ``top`` settings, and the baselines ranked below them (in rank order)."""
    roles = _roles(advice)
    head = [_Row(k + 1, s, roles.get(s.name, ())) for k, s in enumerate(advice.ranked[:top])]
    tail = [
        _Row(k + 1, s, roles[s.name])
        for k, s in enumerate(advice.ranked)
        if k >= top and s.name in roles
    ]
    return head, tail


def _pct(x: float) -> str:
    """A probability in %: 2 decimals, or 2 significant digits below 0.01 % (never a
    non-zero figure shown as 0)."""
    v = 100.0 * x
    if abs(v) < _TINY:
        return "0.00 %"
    if abs(v) < 0.005:
        return f"{v:.2g} %"
    return f"{v:.2f} %"


def _ruin_cell(s: SettingStats) -> str:
    lo, hi = s.ruin_ci
    return f"{_pct(s.ruin_probability)} ({_pct(lo)} to {_pct(hi)})"


def _cells(row: _Row, places: int, sep: str = ", ") -> list[str]:
    s = row.stats
    return [
        str(row.rank),
        s.name,
        sep.join(row.roles),
        _ruin_cell(s),
        _pct(s.liquidation_probability),
        money(s.cvar95, places),
        money(s.mean_final_equity, places),
        f"{s.log_growth:+.4f}",
    ]


_HEADERS = (
    ("#", "right"),
    ("setting", "left"),
    ("", "left"),
    ("P(ruin) (95% interval)", "right"),
    ("P(liquidation)", "right"),
    ("CVaR 95 (loss)", "right"),
    ("mean final equity", "right"),
    ("E[log growth]", "right"),
)


def _title(advice: Advice) -> str:
    return (
        f"{advice.plan}: {advice.settings_count:,} settings on {advice.paths:,} {advice.model} "
        f"paths x {advice.steps:,} steps of {advice.step_ms // 60000} min, objective "
        f"{_objective(advice)}"
    )


def _objective(advice: Advice) -> str:
    if advice.objective == "growth":
        return f"growth (the most E[log growth] with P(ruin) <= {_pct(advice.beta)})"
    return {
        "ruin": "ruin (the least P(ruin))",
        "liquidation": "liquidation (the least P(liquidation))",
        "cvar": "cvar (the least CVaR 95)",
    }[advice.objective]


def _definitions(advice: Advice) -> str:
    places = places_for(advice.settle)
    return (
        f"Start equity {money(advice.start_equity, places)} {advice.settle}. Ruin: ending with "
        f"at most {_pct(advice.ruin_fraction)} of it "
        f"({money(advice.ruin_fraction * advice.start_equity, places)} {advice.settle}). "
        f"CVaR 95: the mean loss over the worst 5 % of paths. Money in {advice.settle}; "
        "isolated margins in brackets; every setting on the same paths."
    )


# ------------------------------------------------------------------------ words


def _fast_words(c: Confirmation, places: int, settle: str) -> str:
    liq = "liquidated" if c.fast_liquidated else "not liquidated"
    final = "-" if c.fast_final is None else money(c.fast_final, places)
    return f"fast path {liq}, final equity {final} {settle}"


def _exact_words(c: Confirmation, places: int, settle: str) -> str:
    liq = "liquidated" if c.exact_liquidated else "not liquidated"
    return f"exact engine {liq}, final equity {money(c.exact_final, places)} {settle}"


def confirmation_lines(advice: Advice) -> list[str]:
    """The exact engine's checks in words: how many simulated-path checks agree, each
    disagreement, and each compared setting's outcome on the plan's own bars."""
    places = places_for(advice.settle)
    settle = advice.settle
    roles = _roles(advice)
    simulated = [c for c in advice.confirmations if c.agrees is not None]
    own = [c for c in advice.confirmations if c.agrees is None]
    agree = sum(1 for c in simulated if c.agrees)
    lines = []
    if simulated:
        paths = len({c.path for c in simulated})
        settings = len({c.setting for c in simulated})
        lines.append(
            f"exact engine: {agree} of {len(simulated)} simulated-path checks agree "
            f"({paths} path{'s' if paths != 1 else ''} x {settings} "
            f"setting{'s' if settings != 1 else ''}, replayed bar by bar in Decimal)"
        )
        for c in simulated:
            if not c.agrees:
                lines.append(
                    f"DISAGREES on {c.path}, {c.setting}: {_fast_words(c, places, settle)}; "
                    f"{_exact_words(c, places, settle)}"
                )
    else:
        lines.append("exact engine: no simulated path was checked")
    if own:
        lines.append(
            "On the plan's own bars (exact engine; full liquidation, no funding, as simulated):"
        )
        for c in own:
            who = ", ".join(roles.get(c.setting, ())) or "setting"
            outcome = (
                f"liquidated at {c.exact_first_liquidation} UTC"
                if c.exact_liquidated and c.exact_first_liquidation is not None
                else "liquidated"
                if c.exact_liquidated
                else "not liquidated"
            )
            lines.append(
                f"  {who} ({c.setting}): {outcome}, final equity "
                f"{money(c.exact_final, places)} {settle}"
            )
    return lines


def _note_lines(advice: Advice) -> list[str]:
    notes = [n if n.endswith(".") else f"{n}." for n in advice.notes]
    missing = [
        role
        for role, s in zip(
            ROLES[1:], (advice.current, advice.all_isolated, advice.all_cross), strict=True
        )
        if s is None
    ]
    if missing:
        notes.insert(
            0,
            f"Not among the settings searched (the modes allowed, the budget or the balance "
            f"leave {'it' if len(missing) == 1 else 'them'} out): {', '.join(missing)}.",
        )
    if advice.objective == "growth" and all(
        s.ruin_probability > advice.beta for s in advice.ranked
    ):
        notes.insert(
            0,
            f"No setting has P(ruin) <= {_pct(advice.beta)}: the least ruinous one is recommended.",
        )
    return [f"Note: {n}" for n in notes]


# ------------------------------------------------------------------------ terminal


def advice_table(advice: Advice, top: int = TOP) -> Table:
    """The best ``top`` settings, then the user's setting, all isolated and all cross
    where they rank lower (every cell literal text)."""
    places = places_for(advice.settle)
    table = Table(title=Text(_title(advice)), show_lines=False)
    for name, justify in _HEADERS:
        table.add_column(Text(name), justify=justify, overflow="fold")  # type: ignore[arg-type]
    head, tail = _rows(advice, top)
    for block, rows in enumerate((head, tail)):
        if block and rows:
            table.add_section()
        for row in rows:
            style = "bold green" if "recommended" in row.roles else ""
            table.add_row(*(Text(c) for c in _cells(row, places, "\n")), style=style)
    return table


def print_advice(advice: Advice, console: Console | None = None, top: int = TOP) -> None:
    """Print the table, the explanation, the exact engine's confirmation and the notes."""
    out = console or Console()
    out.print(advice_table(advice, top))
    out.print(Text(_definitions(advice), style="dim"))
    for line in advice.explanation:
        out.print(Text(line))
    for k, line in enumerate(confirmation_lines(advice)):
        style = "bold red" if line.startswith("DISAGREES") else ("bold" if k == 0 else "")
        out.print(Text(line, style=style))
    for line in _note_lines(advice):
        out.print(Text(line, style="dim"))


# ------------------------------------------------------------------------ frontier


def _xy(settings: Sequence[SettingStats]) -> tuple[list[float], list[float]]:
    return (
        [100.0 * s.ruin_probability for s in settings],
        [100.0 * s.expected_return for s in settings],
    )


def _marked(advice: Advice) -> list[tuple[str, SettingStats, str]]:
    """(role, setting, label) for each role present; the label names every role the
    setting plays, on its first role only (one label per point)."""
    roles = _roles(advice)
    out = []
    labelled: set[str] = set()
    for role, s in zip(
        ROLES, (advice.best, advice.current, advice.all_isolated, advice.all_cross), strict=True
    ):
        if s is None:
            continue
        label = "" if s.name in labelled else " = ".join(roles[s.name])
        labelled.add(s.name)
        out.append((role, s, label))
    return out


def frontier_figure(advice: Advice) -> Any:
    """Every setting as a point: P(ruin) (x, %) against expected return (y, mean final
    equity / start - 1, %); the recommendation, the user's setting, all isolated and all
    cross with their own markers and labels; hover names the setting."""
    fig = go.Figure()
    xs, ys = _xy(advice.ranked)
    hover = "%{customdata}<br>P(ruin) %{x:.2f} %<br>expected return %{y:.2f} %<extra></extra>"
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            name=f"every setting ({len(advice.ranked):,})",
            marker={"color": _POINT, "size": 7, "opacity": 0.7},
            customdata=[s.name for s in advice.ranked],
            hovertemplate=hover,
        )
    )
    for role, s, label in _marked(advice):
        symbol, _, color, size = _MARKERS[role]
        fig.add_trace(
            go.Scatter(
                x=[100.0 * s.ruin_probability],
                y=[100.0 * s.expected_return],
                mode="markers+text" if label else "markers",
                name=role,
                text=[label],
                textposition="top right",
                marker={
                    "symbol": symbol,
                    "size": size,
                    "color": color,
                    "line": {"color": color if symbol.endswith("-open") else "white", "width": 2},
                },
                customdata=[f"{role}: {s.name}"],
                hovertemplate=hover,
            )
        )
    if advice.objective == "growth":
        fig.add_vline(
            x=100.0 * advice.beta,
            line={"color": "#c4122f", "dash": "dot", "width": 1},
            annotation_text=f"P(ruin) limit {_pct(advice.beta)}",
        )
    fig.add_hline(y=0.0, line={"color": "#bbbbbb", "width": 1})
    fig.update_layout(
        title=f"P(ruin) against expected return: {len(advice.ranked):,} settings",
        xaxis_title=f"P(ruin) (%): ending with at most {_pct(advice.ruin_fraction)} of the start",
        yaxis_title="expected return (%): mean final equity / start - 1",
        template="plotly_white",
        height=520,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


# ------------------------------------------------------------------------ HTML


def _html_table(advice: Advice) -> str:
    places = places_for(advice.settle)
    head = "".join(
        f'<th class="{"l" if justify == "left" else ""}">{html.escape(name)}</th>'
        for name, justify in _HEADERS
    )
    body = []
    top, tail = _rows(advice)
    for block, rows in enumerate((top, tail)):
        if block and rows:
            body.append(f'<tr><td colspan="{len(_HEADERS)}" class="l note">ranked lower</td></tr>')
        for row in rows:
            cls = ' class="best"' if "recommended" in row.roles else ""
            cells = "".join(
                f'<td class="{"l" if justify == "left" else ""}">{html.escape(c)}</td>'
                for c, (_, justify) in zip(_cells(row, places), _HEADERS, strict=True)
            )
            body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_advice_html(advice: Advice, title: str | None = None) -> str:
    """The whole page as a string (plotly.js inlined)."""
    title = title or f"Mode advisor: {advice.plan}"
    fig = frontier_figure(advice).to_html(
        full_html=False,
        include_plotlyjs=True,
        config={"displaylogo": False, "responsive": True},
    )

    def para(lines: Sequence[str], cls: str = "") -> str:
        attr = f' class="{cls}"' if cls else ""
        return "".join(f"<p{attr}>{html.escape(line)}</p>" for line in lines)

    confirmation = confirmation_lines(advice)
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_CSS}"
        "tr.best td{background:#eaf6ee;font-weight:600}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(_title(advice))}.</p>"
        f'<p class="note">{html.escape(_definitions(advice))}</p>'
        f'<h2>Settings</h2>{_html_table(advice)}<h2>Why</h2><div class="explanation">'
        + para(advice.explanation)
        + '</div><h2>Checked by the exact engine</h2><div class="confirmation">'
        + para(confirmation[:1])
        + "".join(
            f'<p class="{"FAIL" if line.startswith("DISAGREES") else ""}">'
            f"{html.escape(line.strip())}</p>"
            for line in confirmation[1:]
        )
        + '</div><div class="notes">'
        + para(_note_lines(advice), "note")
        + f"</div><h2>Frontier</h2>{fig}</body></html>"
    )


def write_advice_html(advice: Advice, path: str | Path, title: str | None = None) -> Path:
    """Write :func:`render_advice_html` to ``path`` (folders created) and return it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_advice_html(advice, title), encoding="utf-8")
    return out


# ------------------------------------------------------------------------ PNG


def write_advice_png(advice: Advice, path: str | Path, *, dpi: int = 110) -> Path:
    """The frontier chart (as :func:`frontier_figure`) as a PNG, with matplotlib."""
    import matplotlib.pyplot as plt

    from perpmargin.report.png import _text  # also selects the Agg backend

    fig, ax = plt.subplots(figsize=(10, 6.5))
    xs, ys = _xy(advice.ranked)
    ax.scatter(xs, ys, s=22, color=_POINT, alpha=0.7, label=f"every setting ({len(xs):,})")
    for role, s, label in _marked(advice):
        _, marker, color, size = _MARKERS[role]
        x, y = 100.0 * s.ruin_probability, 100.0 * s.expected_return
        hollow = role == "your setting"
        ax.scatter(
            [x],
            [y],
            marker=marker,
            s=size * 14,
            facecolors="none" if hollow else color,
            edgecolors=color if hollow else "white",
            linewidths=2 if hollow else 1,
            zorder=4 if hollow else 3,
            label=role,
        )
        if label:
            ax.annotate(
                label, (x, y), xytext=(8, 6), textcoords="offset points", fontsize=8, color=color
            )
    if advice.objective == "growth":
        ax.axvline(
            100.0 * advice.beta,
            color="#c4122f",
            linestyle=":",
            linewidth=1,
            label=f"P(ruin) limit {_pct(advice.beta)}",
        )
    ax.axhline(0.0, color="#bbbbbb", linewidth=1)
    ax.set_xlabel(f"P(ruin) (%): ending with at most {_pct(advice.ruin_fraction)} of the start")
    ax.set_ylabel("expected return (%): mean final equity / start - 1")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    places = places_for(advice.settle)
    best = advice.best
    ax.set_title(
        _text(
            f"{advice.plan}\nrecommended: {best.name}\nP(ruin) {_pct(best.ruin_probability)}, "
            f"mean final equity {money(best.mean_final_equity, places)} {advice.settle}"
        ),
        fontsize=9,
    )
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
