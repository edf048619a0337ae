"""docs/benchmarks.md from the result files in bench/results/: `python -m bench.report`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, read_result

DOC = ROOT / "docs" / "benchmarks.md"

INTRO = """# Benchmarks

`make bench` (`.venv/bin/python -m bench`) runs every benchmark below in turn, each in its own
process, and rewrites this page from their result files (`bench/results/*.json`, not committed).
Each benchmark also runs alone, e.g. `.venv/bin/python -m bench.search --help`; `--quick` runs it
with tiny sizes (the smoke test in `tests/bench/` does that; no test ever asserts a timing).

Every figure is a distribution or a ratio measured in one run, with a warm-up first: median and
spread (p5/p95, sometimes p99), A/B arms alternated request by request where two things are
compared. The machine is shared: other work runs beside the benchmarks, so the load average at
the start of each benchmark is printed with it, and CPU-time or same-run ratios are given where
wall-clock time alone would be unfair.
"""


def _met(value: Any) -> str:
    verdicts = {True: "**met**", False: "**not met**", "no target": "measured (no target)"}
    return verdicts.get(value, "not judged (size below the target's)")


def _machine(result: dict[str, Any]) -> str:
    m = result["machine"]
    return (
        f"{m['nproc']} CPUs ({m['cpu']}), load average {m['load_1m']} (1 min) / "
        f"{m['load_5m']} (5 min) at the start, Python {m['python']}, {m['at']}"
    )


def _head(title: str, result: dict[str, Any]) -> list[str]:
    return [
        f"## {title}",
        "",
        f"Target: {result['target']}. Result: {_met(result.get('met'))}.",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {_machine(result)}",
        "",
    ]


def _s(stats: dict[str, Any], key: str, digits: int = 1) -> str:
    value = stats.get(key)
    return "-" if value is None else f"{value:.{digits}f}"


def gate_overhead(r: dict[str, Any]) -> list[str]:
    lines = [
        f"Transport: {r['transport']}; {r['products']:,} products. Arms alternate request by "
        "request (ABBA).",
        "",
        "| arm | median ms | p5 | p95 | p99 | CPU median ms | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm in ("gate", "no-gate"):
        s, c = r["stats_ms"][arm], r["cpu_ms"][arm]
        lines.append(
            f"| {arm} | {_s(s, 'median', 2)} | {_s(s, 'p5', 2)} | {_s(s, 'p95', 2)} | "
            f"{_s(s, 'p99', 2)} | {_s(c, 'median', 2)} | {int(s['n'])} |"
        )
    halves = ", ".join(f"{h:.3f}" for h in r["ratio_halves"])
    lines += [
        "",
        f"Ratio of medians, gate / no-op gate: **{r['ratio']:.3f}** wall clock (first and second "
        f"half of the run: {halves}), {r['cpu_ratio']:.3f} CPU time. What `closed` would have "
        f"decided for these requests: {r['gate_decisions']}.",
        "",
    ]
    return lines


def gate_latency(r: dict[str, Any]) -> list[str]:
    lines = [
        f"Policy `{r['policy']}`. Signed requests were classed {r['signed_classes']}.",
        "",
        "| requests | clock | median µs | p95 | p99 | max | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (
        ("unsigned_wall", "unsigned mix | wall"),
        ("unsigned_cpu", "unsigned mix | thread CPU"),
        ("signed_wall", "signed (Web Bot Auth) | wall"),
        ("signed_cpu", "signed (Web Bot Auth) | thread CPU"),
    ):
        s = r["stats_us"][key]
        lines.append(
            f"| {label} | {_s(s, 'median')} | {_s(s, 'p95')} | {_s(s, 'p99')} | "
            f"{_s(s, 'max')} | {int(s['n'])} |"
        )
    split = r.get("split_us") or {}
    if split:
        lines += [
            "",
            "Where a signed request's CPU goes, each part timed alone on fresh requests:",
            "",
            "| part | CPU median µs | p99 | n |",
            "|---|---|---|---|",
        ]
        for part, s in split.items():
            lines.append(f"| {part} | {_s(s, 'median')} | {_s(s, 'p99')} | {int(s['n'])} |")
    return [*lines, ""]


def search(r: dict[str, Any]) -> list[str]:
    lines = [
        "![Search latency against catalog size](bench-search.svg)",
        "",
        "| database | products | median ms | p5 | p95 | p99 | n | CPU p95 ms | target p95 | met "
        "| load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        target = "-" if row["target_p95_ms"] is None else f"≤ {row['target_p95_ms']:.0f} ms"
        met = "-" if row["met"] is None else ("yes" if row["met"] else "**no**")
        cpu = row.get("thread_cpu") or {}
        lines.append(
            f"| {row['backend']} | {row['products']:,} | {_s(row, 'median')} | {_s(row, 'p5')} "
            f"| {_s(row, 'p95')} | {_s(row, 'p99')} | {int(row['n'])} | {_s(cpu, 'p95')} "
            f"| {target} | {met} | {row.get('load_1m', '-')} |"
        )
    http = r.get("http")
    if http:
        s = http["stats_ms"]
        lines += [
            "",
            f"Over HTTP (loopback, uvicorn in a thread, SQLite, {http['products']:,} products, "
            "single and two-word queries one after another; load average "
            f"{http['machine']['load_1m']} at its start): median {_s(s, 'median')} ms, p95 "
            f"{_s(s, 'p95')} ms (target {http['target_p95_ms']:.0f} ms: "
            f"{_met(http['met'])}), p99 {_s(s, 'p99')} ms, n={int(s['n'])}; process CPU "
            f"{http['process_cpu_ms_per_request']} ms per request (client and server).",
        ]
    return [*lines, ""]


def decide(r: dict[str, Any]) -> list[str]:
    lines = [
        f"{r['transport']}.",
        "",
        "| products | median ms | p5 | p95 | p99 | max | n | errors | target p95 | met | "
        "load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        s = row["stats_ms"]
        target = "-" if row["target_p95_ms"] is None else f"≤ {row['target_p95_ms']:.0f} ms"
        met = "-" if row["met"] is None else ("yes" if row["met"] else "**no**")
        lines.append(
            f"| {row['products']:,} | {_s(s, 'median')} | {_s(s, 'p5')} | {_s(s, 'p95')} | "
            f"{_s(s, 'p99')} | {_s(s, 'max')} | {int(s.get('n', 0))} | {row['errors']} | "
            f"{target} | {met} | {row['machine']['load_1m']} |"
        )
    return [*lines, ""]


def seeding(r: dict[str, Any]) -> list[str]:
    f = r["figures"]
    return [
        "| products | seconds | of which search index | products/s | peak RSS, process tree | "
        "largest process | child CPU s | database |",
        "|---|---|---|---|---|---|---|---|",
        f"| {f['products']:,} | {f['seconds']:.1f} | {f.get('index_s', 0):.1f} | "
        f"{f['products_per_s']:,.0f} | "
        f"{f['peak_tree_rss_bytes'] / 2**20:,.0f} MiB | {f['peak_single_rss_bytes'] / 2**20:,.0f} "
        f"MiB | {f['child_cpu_s']:.0f} | {f['database_bytes'] / 2**20:,.0f} MiB |",
        "",
    ]


def throughput(r: dict[str, Any]) -> list[str]:
    lines = [
        f"locust, {r['users']} users without think time, {r['seconds']} s per configuration, "
        f"{r['rounds']} rounds; failures (non-2xx) over all runs: {r['failures']}.",
        "",
        "| page | uvicorn workers | req/s (median) | min-max over rounds | ratio to bare |",
        "|---|---|---|---|---|",
    ]
    for row in r["table"]:
        lines.append(
            f"| {row['page']} | {row['workers']} | {row['rps_median']:.0f} | "
            f"{row['rps_min']:.0f}-{row['rps_max']:.0f} | {row['ratio_to_bare']:.3f} |"
        )
    return [*lines, ""]


def checkout(r: dict[str, Any]) -> list[str]:
    lines = [
        f"The hot product starts with {r['hot_stock']} units.",
        "",
        "| database | buyers | orders | orders/s | POST /orders median ms | p95 | hot units sold "
        "| stock after | no oversell | orders in DB = 201s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        s = row["order_latency_ms"]
        lines.append(
            f"| {row['backend']} | {row['buyers']} | {row['orders']} | {row['orders_per_s']:.1f} "
            f"| {_s(s, 'median')} | {_s(s, 'p95')} | {row['hot_units_sold']} | "
            f"{row['hot_stock_after']} | {row['no_oversell']} | {row['orders_match']} |"
        )
    return [*lines, ""]


def load(r: dict[str, Any]) -> list[str]:
    tally = r["checks"].get("tally", {})
    lines = [
        f"{r['users']['shoppers']} shoppers and {r['users']['agents']} agents for "
        f"{r['seconds']} s, "
        f"policy `{r['policy']}`. Error rate: **{r['error_rate']:.4%}**. Agent answers checked "
        f"against the policy: {tally.get('checked', 0)}, not as the policy says: "
        f"**{tally.get('mismatched', 0)}**.",
        "",
        "| route | requests | errors | median ms | p95 | p99 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in sorted(r["routes"].items()):
        lines.append(
            f"| {name} | {row['requests']} | {row['failures']} | {row['median_ms']:.0f} | "
            f"{row['p95_ms']:.0f} | {row['p99_ms']:.0f} | {row['max_ms']:.0f} |"
        )
    lines += [
        "",
        "The gate's own decision time as the server logged it, by visitor class:",
        "",
        "| visitor class | median ms | p95 | p99 | max | n |",
        "|---|---|---|---|---|---|",
    ]
    for visitor, s in r["gate_latency_ms_by_class"].items():
        lines.append(
            f"| {visitor} | {_s(s, 'median', 3)} | {_s(s, 'p95', 3)} | {_s(s, 'p99', 3)} | "
            f"{_s(s, 'max', 3)} | {int(s['n'])} |"
        )
    agent_rows = sorted((k, v) for k, v in tally.items() if k not in ("checked", "mismatched"))
    lines += [
        "",
        "Agent answers (agent, class, decision, rule: count): "
        + "; ".join(f"{k}: {v}" for k, v in agent_rows)
        + ".",
    ]
    return [*lines, ""]


def design_costs(r: dict[str, Any]) -> list[str]:
    pw, draw, tokens, scan, claim = (
        r["password_check_ms"],
        r["normal_draw"],
        r["anonymous_tokens"],
        r["yaml_scan"],
        r["nonce_claim"],
    )
    libyaml = scan.get("libyaml_s")
    scan_line = (
        f"libyaml {libyaml:.2f} s against pure Python {scan['pure_python_s']:.2f} s "
        f"({scan['pure_python_s'] / libyaml:.0f} times)"
        if libyaml
        else f"pure Python {scan['pure_python_s']:.2f} s (PyYAML built without libyaml)"
    )
    pre, pooled = claim["precompiled_cpu_us"], claim["pooled_transaction_cpu_us"]
    return [
        "| figure | measured | where it matters |",
        "|---|---|---|",
        f"| argon2id password check (19 MiB, 2 passes, 1 lane), median / p95 | "
        f"{_s(pw, 'median')} / {_s(pw, 'p95')} ms | logins (`accounts/service.py`) |",
        f"| normal-like draw: four uniforms / `Random.gauss` | {draw['four_uniforms_ns']:.0f} / "
        f"{draw['gauss_ns']:.0f} ns ({draw['ratio']:.1f} times) | the catalog generator |",
        f"| anonymous-token set | {tokens['bytes_per_entry']:.0f} bytes per entry, "
        f"{tokens['mib_at_bound']:.1f} MiB at its bound | `accounts/anonymous.py` |",
        f"| scanning a {scan['nodes']:,}-node YAML document | {scan_line} | refusing an "
        "oversized policy or scenario file (`core/yamlfile.py`) |",
        f"| nonce claim, CPU median / p99: precompiled autocommit / pooled transaction | "
        f"{_s(pre, 'median', 0)} / {_s(pre, 'p99', 0)} µs against {_s(pooled, 'median', 0)} / "
        f"{_s(pooled, 'p99', 0)} µs | every signed request "
        "(`core/shared/database_store.py`) |",
        f"| write-ahead log added per nonce claim | {claim['wal_kib_per_claim']:.1f} KiB | "
        "how often the nonce file is checkpointed (`core/shared/nonce_file.py`) |",
        "",
    ]


def hostile(r: dict[str, Any]) -> list[str]:
    lines = [
        f"Served as `sandbox serve` serves it; {r['products']:,} products; each attack sent "
        "back to back for a while (the attacks column). The other client's answers are those "
        "that overlapped an attack, beside its answers in the 0.3 s just before.",
        "",
        "| attack | attacks | answer | answer bytes | other client, slowest ms during | "
        "median | n | slowest ms without |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        during, quiet = row["bystander_during_ms"], row["bystander_quiet_ms"]
        statuses = "/".join(str(s) for s in row["statuses"])
        lines.append(
            f"| {row['attack']} | {row['rounds']} | {statuses} | {row['answer_bytes_max']} | "
            f"{_s(during, 'max')} | {_s(during, 'median')} | {int(during.get('n', 0))} | "
            f"{_s(quiet, 'max')} |"
        )
    return [*lines, ""]


def workshop(r: dict[str, Any]) -> list[str]:
    users = r["users"]
    lines = [
        f"{users['shoppers']} shoppers in the HTML store and {users['agents']} outside agents "
        f"for {r['seconds']} s each, {r['products']:,} products, policy observe; locust in its "
        "own process.",
        "",
        "| set-up | requests | errors | slowest HTML page p95 ms | checkout p95 ms | met | "
        "load (1 min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['setup']} | {row['routes']['Aggregated']['requests']} | {row['errors']} | "
            f"{row['html_p95_ms']:.0f} | {row['checkout_p95_ms']:.0f} | "
            f"{'yes' if row['met'] else '**no**'} | {row['machine']['load_1m']} |"
        )
    lines += ["", "| set-up | route | requests | errors | median ms | p95 | p99 |"]
    lines.append("|---|---|---|---|---|---|---|")
    for row in r["rows"]:
        for name, s in sorted(row["routes"].items()):
            lines.append(
                f"| {row['setup']} | {name} | {s['requests']} | {s['failures']} | "
                f"{s['median_ms']:.0f} | {s['p95_ms']:.0f} | {s['p99_ms']:.0f} |"
            )
    return [*lines, ""]


SECTIONS: list[tuple[str, str, Callable[[dict[str, Any]], list[str]]]] = [
    ("gate_overhead", "1. Gate overhead", gate_overhead),
    ("gate_latency", "1b. The gate's own decision time", gate_latency),
    ("search", "2. Search latency by catalog size", search),
    ("decide", "3. Help Me Decide", decide),
    ("seeding", "4. Seeding", seeding),
    ("throughput", "5. HTTP throughput", throughput),
    ("checkout", "6. Checkout under contention", checkout),
    ("load", "7. Load", load),
    ("design_costs", "8. Costs behind design choices in the code", design_costs),
    ("hostile", "9. Hostile requests", hostile),
    ("workshop", "10. A workshop's load", workshop),
]


def write_report(
    total_s: float | None = None, ran: list[str] | None = None, notes: str = ""
) -> Path:
    """Rewrite docs/benchmarks.md from whatever results exist; returns its path."""
    lines = [INTRO]
    if total_s is not None:
        which = ", ".join(ran or [])
        lines.append(
            f"The last `python -m bench` run took {total_s / 60:.1f} minutes ({which}); each "
            "section below gives the time its own figures were taken.\n"
        )
    summary_rows = [
        "| figure | target | result | load average (1 min) at its start |",
        "|---|---|---|---|",
    ]
    body: list[str] = []
    for name, title, render in SECTIONS:
        result = read_result(name)
        if result is None:
            body += [f"## {title}", "", "Not run yet.", ""]
            summary_rows.append(f"| {title} | - | not run | - |")
            continue
        body += _head(title, result) + render(result)
        summary_rows.append(
            f"| {title} | {result['target']} | {_met(result.get('met'))} | "
            f"{result['machine']['load_1m']} |"
        )
    lines += ["## Summary", "", *summary_rows, "", *body]
    notes_file = ROOT / "bench" / "NOTES.md"
    if notes_file.exists():
        lines += [notes_file.read_text().rstrip(), ""]
    if notes:
        lines += [notes, ""]
    DOC.write_text("\n".join(lines))
    return DOC


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(write_report())


if __name__ == "__main__":
    main()
