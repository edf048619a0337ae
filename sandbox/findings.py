"""The findings of a report: a few plain sentences computed from the scenarios' figures.

Also the shared vocabulary of the report: how a figure is read from a summary, how it is
written, what the channels are called, and which scenarios are compared with which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHANNELS = (
    "browse",
    "assistant",
    "signed-partner",
    "declared-shopper",
    "disguised-browser",
    "protocol-shopper",
    "protocol-shopper-mcp",
)
# Names for a legend or a table.
CHANNEL_NAMES = {
    "browse": "Browsed the store",
    "assistant": "Platform assistant",
    "signed-partner": "Signed partner agent",
    "declared-shopper": "Declared shopping agent",
    "disguised-browser": "Disguised browser agent",
    "protocol-shopper": "UCP protocol agent",
    "protocol-shopper-mcp": "MCP protocol agent",
    "elsewhere": "Bought elsewhere (lost sale)",
}
# Names inside a sentence.
CHANNEL_WORDS = {
    "browse": "browsing the store",
    "assistant": "the platform assistant",
    "signed-partner": "a signed partner agent",
    "declared-shopper": "a declared shopping agent",
    "disguised-browser": "a disguised browser agent",
    "protocol-shopper": "a UCP protocol agent",
    "protocol-shopper-mcp": "an MCP protocol agent",
}

_KINDS = {
    "revenue.ads": "money",
    "revenue.margin": "money",
    "revenue.total": "money",
    "sales": "money",
    "ads.share_of_sales": "share",
    "interface_share": "share",
    "welfare.ratio": "ratio",
    "welfare.by_channel": "ratio",
    "data.events_per_journey": "rate",
    "ads.impressions_per_journey": "rate",
    "effort.pages_per_journey": "rate",
}


def kind(key: str) -> str:
    """How a figure is written: money, share (0..1 as %), ratio (0..1), rate or count."""
    while key:
        if key in _KINDS:
            return _KINDS[key]
        key = key.rpartition(".")[0]
    return "count"


@dataclass(frozen=True)
class Figure:
    """A mean with its 95 % interval."""

    mean: float
    low: float
    high: float

    def overlaps(self, other: Figure) -> bool:
        return self.low <= other.high and other.low <= self.high

    def versus(self, other: Figure) -> int:
        """1 when clearly above `other`, -1 when clearly below, 0 when within chance."""
        if self.overlaps(other):
            return 0
        return 1 if self.mean > other.mean else -1


def figure(scenario: Mapping[str, Any], key: str) -> Figure | None:
    """The figure `key` of a scenario's summary, or None when the run did not measure it."""
    entry = (scenario.get("summary") or {}).get(key)
    if not isinstance(entry, Mapping) or entry.get("mean") is None:
        return None
    mean = float(entry["mean"])
    low = entry.get("low")
    high = entry.get("high")
    return Figure(mean, mean if low is None else float(low), mean if high is None else float(high))


def number(key: str, value: float, *, short: bool = False, scale: float = 0.0) -> str:
    """One figure as a person writes it; `short` rounds money to whole units sooner, and
    `scale` (the largest figure it stands beside) keeps neighbours in one format."""
    match kind(key):
        case "money":
            whole = max(abs(value), abs(scale)) >= (100 if short else 1000)
            return f"{value:,.0f}" if whole else f"{value:,.2f}"
        case "share":
            percent = 100 * value
            digits = 1 if abs(percent) < 10 and round(percent, 1) != round(percent) else 0
            return f"{percent:.{digits}f}%"
        case "ratio":
            return f"{value:.2f}"
        case "rate":
            return f"{value:.1f}"
        case _:
            return f"{round(value):,}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"


def both(key: str, a: float, b: float) -> tuple[str, str]:
    """Two figures of one kind, written alike (1,300 and 832, not 1,300 and 832.00)."""
    scale = max(abs(a), abs(b))
    return number(key, a, scale=scale), number(key, b, scale=scale)


def difference(key: str, value: float) -> str:
    """The size of a gap between two figures (shares in percentage points)."""
    if kind(key) == "share":
        points = abs(100 * value)
        return f"{points:.1f} points" if points < 10 else f"{points:.0f} points"
    return number(key, abs(value))


def interval(key: str, fig: Figure) -> str:
    """`low-high`, written like the figure ("38-46%")."""
    scale = max(abs(fig.low), abs(fig.high))
    low = number(key, fig.low, short=True, scale=scale)
    high = number(key, fig.high, short=True, scale=scale)
    sep = " to " if fig.low < 0 or fig.high < 0 else "-"
    if kind(key) == "share":
        return f"{low.rstrip('%')}{sep}{high}"
    return f"{low}{sep}{high}"


def cell(key: str, fig: Figure) -> str:
    """A table cell: `123.40 (100-151)`."""
    return f"{number(key, fig.mean)} ({interval(key, fig)})"


def plain(text: str) -> str:
    """Text safe to print verbatim in HTML: no characters that escaping would change."""
    return (
        text.replace("&", "and")
        .replace("'", "\u2019")
        .replace('"', "\u201d")
        .replace("<", "under ")
        .replace(">", "over ")
    )


def label(scenario: Mapping[str, Any]) -> str:
    """A short column heading for a scenario: its name, which stays short and unique."""
    return plain(str(scenario.get("name") or scenario.get("title") or "?"))


def policy(scenario: Mapping[str, Any]) -> str:
    return str(scenario.get("policy") or "").strip().lower()


def share_of(scenario: Mapping[str, Any]) -> float:
    return float(scenario.get("delegation_share") or 0.0)


def _family(scenario: Mapping[str, Any]) -> tuple[str, str]:
    # Variants of one scenario file are named `family/variant`; a sweep is one family's runs
    # of one policy at several delegation shares.
    return str(scenario.get("name") or "").rpartition("/")[0], policy(scenario)


def sweeps(scenarios: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Per policy, its scenarios in order of delegation share, where a policy was run at
    several shares."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for scenario in scenarios:
        groups.setdefault(_family(scenario), []).append(scenario)
    return {
        policy_name: sorted(group, key=share_of)
        for (_, policy_name), group in groups.items()
        if len({share_of(s) for s in group}) > 1
    }


def _match(
    scenarios: Sequence[Mapping[str, Any]],
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    closed = [s for s in scenarios if policy(s) == "closed"]
    opened = [s for s in scenarios if policy(s) == "open"]
    matches = [(c, o) for c in closed for o in opened if abs(share_of(c) - share_of(o)) < 1e-9]
    # The highest share shared by both: where the two policies differ most.
    return max(matches, key=lambda m: share_of(m[0])) if matches else None


def focus(scenarios: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The scenarios to show one by one: those outside any sweep; for a report that is only a
    sweep, its closed and open runs at the highest share (the rest have their own charts)."""
    swept = sweeps(scenarios)
    in_sweep = {id(s) for group in swept.values() for s in group}
    rest = [s for s in scenarios if id(s) not in in_sweep]
    if rest or not swept:
        return rest
    chosen = _match([s for s in scenarios if id(s) in in_sweep])
    keep = {id(s) for s in chosen} if chosen else {id(g[-1]) for g in swept.values()}
    return [s for s in scenarios if id(s) in keep]


def pair(
    scenarios: Sequence[Mapping[str, Any]],
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The closed and the open scenario to compare (same delegation share), or None."""
    return _match(focus(scenarios))


# --- The sentences ---------------------------------------------------------------------------


class _Finding:
    """One sentence in the making, with the figures it quotes."""

    def __init__(self) -> None:
        self.figures: dict[str, float] = {}

    def get(self, scenario: Mapping[str, Any], key: str) -> Figure | None:
        fig = figure(scenario, key)
        if fig is not None:
            name = f"{scenario.get('name', '?')}.{key}"
            self.figures[name] = fig.mean
            self.figures[f"{name}.low"] = fig.low
            self.figures[f"{name}.high"] = fig.high
        return fig

    def done(self, text: str) -> dict[str, Any]:
        return {"text": plain(" ".join(text.split())), "figures": dict(self.figures)}


def _both(key: str, a: Figure, b: Figure) -> str:
    return f"(95% intervals {interval(key, a)} and {interval(key, b)})"


def _gap(key: str, a: Figure, b: Figure, more: str = "more", fewer: str = "less") -> str:
    """How `a` stands against `b`: `, 31 points more`, or `, within chance`."""
    side = a.versus(b)
    if side == 0:
        return ", within chance"
    return f", {difference(key, a.mean - b.mean)} {more if side > 0 else fewer}"


def _plural(key: str, fig: Figure, noun: str) -> str:
    return f"{number(key, fig.mean)} {noun}{'' if number(key, fig.mean) == '1' else 's'}"


def _interface_and_ads(c: Mapping[str, Any], o: Mapping[str, Any]) -> dict[str, Any] | None:
    f = _Finding()
    ic, io = f.get(c, "interface_share"), f.get(o, "interface_share")
    if ic is None or io is None:
        return None
    ac, ao = f.get(c, "revenue.ads"), f.get(o, "revenue.ads")
    side, ads = ic.versus(io), (ac.versus(ao) if ac and ao else 0)
    if side > 0:
        lead = (
            "Closing the door kept the customer interface, and the trade came with it."
            if ads > 0
            else "Closing the door kept the customer interface, but the ad money did not "
            "clearly follow."
        )
    elif side == 0:
        lead = "Closing the door made no clear difference to who held the customer interface."
    else:
        lead = "Closing the door did not keep the customer interface."
    text = (
        f"{lead} With the door closed {number('interface_share', ic.mean)} of shopping journeys"
        f" went through the pages or the assistant of the platform, against"
        f" {number('interface_share', io.mean)} with it open {_both('interface_share', ic, io)}"
        f"{_gap('interface_share', ic, io)}."
    )
    if ac and ao:
        money_c, money_o = both("revenue.ads", ac.mean, ao.mean)
        text += (
            f" Ad revenue was {money_c} closed against {money_o} open"
            f" {_both('revenue.ads', ac, ao)}"
            f"{_gap('revenue.ads', ac, ao)}"
        )
        sc, so = f.get(c, "ads.share_of_sales"), f.get(o, "ads.share_of_sales")
        if sc and so:
            text += (
                f", and ads made up {number('ads.share_of_sales', sc.mean)} of sales against"
                f" {number('ads.share_of_sales', so.mean)}"
                + (", within chance" if sc.overlaps(so) else "")
            )
        text += "."
    return f.done(text)


def _data(c: Mapping[str, Any], o: Mapping[str, Any]) -> dict[str, Any] | None:
    f = _Finding()
    key = "data.events_per_journey"
    ec, eo = f.get(c, key), f.get(o, key)
    if ec is None or eo is None:
        return None
    side = ec.versus(eo)
    lead = {
        1: "The closed door also kept the data that trains the recommender:",
        0: "The data that trains the recommender came out about even:",
        -1: "The open platform collected more of the data that trains the recommender:",
    }[side]
    text = (
        f"{lead} each shopping journey left {number(key, ec.mean)} history events closed"
        f" against {number(key, eo.mean)} open {_both(key, ec, eo)}"
        f"{_gap(key, ec, eo, 'more per journey', 'fewer per journey')}."
    )
    text += _channel_spread(f, o, key, "On the open platform")
    return f.done(text)


def _channel_spread(f: _Finding, scenario: Mapping[str, Any], key: str, where: str) -> str:
    """`On the open platform a journey through X left 12.4 events, one through Y 1.3.`"""
    per = {ch: f.get(scenario, f"{key}.{ch}") for ch in CHANNELS}
    known = {ch: fig for ch, fig in per.items() if fig is not None}
    if len(known) < 2:
        return ""
    top = max(known, key=lambda ch: known[ch].mean)
    low = min(known, key=lambda ch: known[ch].mean)
    return (
        f" {where} a journey through {CHANNEL_WORDS[top]} left {number(key, known[top].mean)}"
        f" events, one through {CHANNEL_WORDS[low]} {number(key, known[low].mean)}."
    )


def _cost(c: Mapping[str, Any], o: Mapping[str, Any]) -> dict[str, Any] | None:
    f = _Finding()
    agc, ago = f.get(c, "orders.agent"), f.get(o, "orders.agent")
    lsc, lso = f.get(c, "market.lost_sales"), f.get(o, "market.lost_sales")
    fbc, fbo = f.get(c, "market.fallback_to_store"), f.get(o, "market.fallback_to_store")
    wc, wo = f.get(c, "welfare.ratio"), f.get(o, "welfare.ratio")
    clauses: list[str] = []
    costly = False
    if agc and ago:
        costly |= agc.versus(ago) < 0
        clauses.append(
            f"outside agents placed {_plural('orders.agent', agc, 'order')} closed against"
            f" {number('orders.agent', ago.mean)} open"
            f"{_gap('orders.agent', agc, ago, 'more', 'fewer')}"
        )
    if lsc and lso:
        costly |= lsc.versus(lso) > 0
        clauses.append(
            f"{_plural('market.lost_sales', lsc, 'sale')} went to other stores against"
            f" {number('market.lost_sales', lso.mean)}"
            f"{_gap('market.lost_sales', lsc, lso, 'more', 'fewer')}"
        )
    if fbc and fbo:
        clauses.append(
            f"{_plural('market.fallback_to_store', fbc, 'refused shopper')} fell back to"
            f" browsing the store against {number('market.fallback_to_store', fbo.mean)}"
            f"{_gap('market.fallback_to_store', fbc, fbo, 'more', 'fewer')}"
        )
    if wc and wo:
        costly |= wc.versus(wo) < 0
        clauses.append(
            f"shopper welfare scored {number('welfare.ratio', wc.mean)} out of 1 against"
            f" {number('welfare.ratio', wo.mean)} {_both('welfare.ratio', wc, wo)}"
            f"{_gap('welfare.ratio', wc, wo, 'higher', 'lower')}"
        )
    if not clauses:
        return None
    lead = (
        "Keeping outside agents out had a price:"
        if costly
        else "Keeping outside agents out cost nothing the figures can tell apart from chance:"
    )
    body = "; ".join(clauses[:-1]) + ("; and " if len(clauses) > 1 else "") + clauses[-1]
    return f.done(f"{lead} {body}.")


def _other_side(c: Mapping[str, Any], o: Mapping[str, Any]) -> dict[str, Any] | None:
    f = _Finding()
    ago = f.get(o, "orders.agent")
    lsc, lso = f.get(c, "market.lost_sales"), f.get(o, "market.lost_sales")
    fbc, fbo = f.get(c, "market.fallback_to_store"), f.get(o, "market.fallback_to_store")
    pc, po = f.get(c, "effort.pages_per_journey"), f.get(o, "effort.pages_per_journey")
    clauses: list[str] = []
    if ago:
        clauses.append(
            f"outside agents placed {_plural('orders.agent', ago, 'order')}"
            " for the shoppers who sent them"
        )
    if lsc and lso:
        key, gap = "market.lost_sales", lsc.mean - lso.mean
        clauses.append(
            {
                1: f"{difference(key, gap)} fewer sales were lost to other stores",
                0: "lost sales were about the same, within chance",
                -1: f"yet {difference(key, gap)} more sales were lost to other stores",
            }[lsc.versus(lso)]
        )
    if fbc and fbo and fbc.versus(fbo) != 0:
        key, gap = "market.fallback_to_store", fbc.mean - fbo.mean
        word = "fewer" if gap > 0 else "more"
        clauses.append(f"{difference(key, gap)} {word} shoppers had to fall back to browsing")
    if pc and po:
        key = "effort.pages_per_journey"
        clauses.append(
            f"a person read {number(key, po.mean)} pages per journey instead of"
            f" {number(key, pc.mean)}{_gap(key, po, pc, 'more', 'fewer')}"
        )
    if not clauses:
        return None
    body = ", ".join(clauses[:-1]) + (", and " if len(clauses) > 1 else "") + clauses[-1]
    return f.done(f"The other side: on the open platform {body}.")


def _alone(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Findings for a scenario without a counterpart."""
    out: list[dict[str, Any]] = []
    f = _Finding()
    i, ads = f.get(s, "interface_share"), f.get(s, "revenue.ads")
    share, sales = f.get(s, "ads.share_of_sales"), f.get(s, "sales")
    where = f"In {plain(str(s.get('title') or s.get('name')))} ({policy(s) or 'its own'} policy)"
    if i:
        text = (
            f"{where} {number('interface_share', i.mean)} of shopping journeys went through"
            f" the pages or the assistant of the platform (95% interval"
            f" {interval('interface_share', i)})"
        )
        if ads and sales:
            text += (
                f", which brought {number('revenue.ads', ads.mean)} in ad revenue on sales of"
                f" {number('sales', sales.mean)}"
            )
            if share:
                text += f", ads making up {number('ads.share_of_sales', share.mean)}"
        out.append(f.done(text + "."))
    f = _Finding()
    key = "data.events_per_journey"
    events = f.get(s, key)
    if events:
        text = (
            f"Each shopping journey left {number(key, events.mean)} history events for the"
            f" recommender to learn from (95% interval {interval(key, events)})."
        )
        out.append(f.done(text + _channel_spread(f, s, key, "By channel,")))
    f = _Finding()
    delegated, refused = (
        f.get(s, "market.delegated_journeys"),
        f.get(s, "market.delegation_refused"),
    )
    fell, lost = f.get(s, "market.fallback_to_store"), f.get(s, "market.lost_sales")
    agent = f.get(s, "orders.agent")
    if delegated and delegated.mean > 0 and refused and fell and lost and agent:
        out.append(
            f.done(
                f"Of {_plural('market.delegated_journeys', delegated, 'journey')} handed to an"
                " outside agent, the gate refused"
                f" {number('market.delegation_refused', refused.mean)}:"
                f" {number('market.fallback_to_store', fell.mean)} of those shoppers fell back to"
                f" the store and {_plural('market.lost_sales', lost, 'sale')} went to other"
                f" stores, while outside agents placed {_plural('orders.agent', agent, 'order')}."
            )
        )
    f = _Finding()
    welfare, pages = f.get(s, "welfare.ratio"), f.get(s, "effort.pages_per_journey")
    if welfare and pages:
        out.append(
            f.done(
                f"Purchases scored {number('welfare.ratio', welfare.mean)} out of 1 for how well"
                f" they fit the shopper (95% interval {interval('welfare.ratio', welfare)}),"
                f" and a person read {number('effort.pages_per_journey', pages.mean)} pages"
                " per journey."
            )
        )
    return out


def _movement(f: _Finding, group: Sequence[Mapping[str, Any]], key: str, what: str) -> str:
    first, last = f.get(group[0], key), f.get(group[-1], key)
    if first is None or last is None:
        return ""
    a, b = both(key, first.mean, last.mean)
    side = last.versus(first)
    if side == 0:
        return f"{what} barely moves ({a} to {b}, within chance)"
    return f"{what} {'rises' if side > 0 else 'falls'} from {a} to {b}"


def _sweep(scenarios: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    groups = sweeps(scenarios)
    if not groups:
        return None
    f = _Finding()
    shares = [share_of(s) for g in groups.values() for s in g]
    parts = []
    order = sorted(groups, key=lambda p: {"closed": 0, "open": 1}.get(p, 2))
    for name in order:
        group = groups[name]
        moves = [
            _movement(f, group, "revenue.total", "revenue"),
            _movement(f, group, "interface_share", "its interface share"),
        ]
        said = " and ".join(m for m in moves if m)
        if said:
            parts.append(f"on the {plain(name)} platform {said}")
    if not parts:
        return None
    lo, hi = number("interface_share", min(shares)), number("interface_share", max(shares))
    f.figures["delegation_share.low"], f.figures["delegation_share.high"] = min(shares), max(shares)
    return f.done(
        f"As the share of shoppers who send an outside agent grows from {lo} to {hi},"
        f" {'; '.join(parts)}."
    )


def _data_advantage(block: Mapping[str, Any]) -> dict[str, Any] | None:
    levels = [int(v) for v in block.get("levels") or []]
    ratios = [float(v) for v in block.get("help_me_decide") or []]
    lows = [float(v) for v in block.get("low") or ratios]
    highs = [float(v) for v in block.get("high") or ratios]
    base = block.get("baseline") or {}
    if len(levels) < 2 or len(ratios) != len(levels) or "ratio" not in base:
        return None
    baseline = float(base["ratio"])
    # Curly quotes: the label may hold colons and brackets of its own.
    name = "\u201c" + plain(str(base.get("label") or base.get("name") or "?")) + "\u201d"
    first = Figure(ratios[0], lows[0], highs[0])
    last = Figure(ratios[-1], lows[-1], highs[-1])
    figures = {
        f"data_advantage.help_me_decide.{lv}": r for lv, r in zip(levels, ratios, strict=True)
    }
    figures["data_advantage.baseline"] = baseline

    def at(level: int) -> str:
        return "no history" if level == 0 else f"{level} history events"

    trend = {1: "gets better", 0: "does not clearly change", -1: "gets worse"}[last.versus(first)]
    if last.low > baseline:
        stand = f"clearly above the {baseline:.2f} of the best outside method, {name}"
    elif last.high < baseline:
        stand = f"still below the {baseline:.2f} of the best outside method, {name}"
    else:
        stand = f"within chance of the {baseline:.2f} of the best outside method, {name}"
    text = (
        f"Help Me Decide {trend} with history: its picks scored {first.mean:.2f} of the best"
        f" possible with {at(levels[0])} and {last.mean:.2f} with {at(levels[-1])}"
        f" (95% interval {last.low:.2f}-{last.high:.2f}), {stand}."
    )
    ahead = next((lv for lv, low in zip(levels, lows, strict=True) if low > baseline), None)
    if ahead is not None and ahead != levels[0] and last.low > baseline:
        text += (
            f" It pulls clearly ahead from {at(ahead)} on: history that only the platform holds."
        )
    return {"text": plain(text), "figures": figures}


def findings(
    scenarios: Sequence[Mapping[str, Any]], data_advantage: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Three to six sentences, each `{"text", "figures"}`, computed from the scenarios' summaries:
    closed against open where both are present, else each scenario alone; then the sweep of
    agent adoption and the data advantage of Help Me Decide when given."""
    chosen = pair(scenarios)
    out: list[dict[str, Any] | None] = []
    if chosen:
        c, o = chosen
        out += [_interface_and_ads(c, o), _data(c, o), _cost(c, o), _other_side(c, o)]
    elif scenarios:
        out += _alone((focus(scenarios) or list(scenarios))[0])
    out.append(_sweep(scenarios))
    if data_advantage:
        out.append(_data_advantage(data_advantage))
    return [item for item in out if item is not None][:6]
