"""The presets' decision tables as Markdown: the one source of docs/policy.md and the golden tests.

python -m marketplace.gate.policy.doctable                    # print the generated section
python -m marketplace.gate.policy.doctable --write docs/policy.md   # refresh it between the markers
python -m marketplace.gate.policy.doctable --check docs/policy.md   # exit 1 when the doc drifted
"""

from __future__ import annotations

import sys
from pathlib import Path

from marketplace.gate.policy.compiled import CompiledPolicy, format_price
from marketplace.gate.policy.model import PRESET_NAMES, ROUTE_CLASSES, VISITOR_CLASSES, load_policy
from marketplace.gate.policy.tables import cell

COMMAND = "python -m marketplace.gate.policy.doctable --write"
BEGIN = f"<!-- BEGIN GENERATED: preset tables ({COMMAND}) -->"
END = "<!-- END GENERATED: preset tables -->"


def preset_table(name: str) -> str:
    """The Markdown decision table of one preset (visitor class x route class -> action)."""
    compiled = CompiledPolicy(load_policy(name))
    lines = [
        "| visitor class | " + " | ".join(ROUTE_CLASSES) + " |",
        "|---|" + "---|" * len(ROUTE_CLASSES),
    ]
    for visitor in VISITOR_CLASSES:
        cells = [cell(compiled, visitor, route) for route in ROUTE_CLASSES]
        lines.append(f"| {visitor} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def preset_section(name: str) -> str:
    """A preset's heading, description, settings and table."""
    compiled = CompiledPolicy(load_policy(name))
    policy = compiled.policy
    out = [f"### `{name}`", "", policy.description, ""]
    facts = [f"mode `{policy.mode}`"]
    if compiled.price is not None:
        facts.append(f"crawl price `{format_price(*compiled.price)}`")
    for visitor, limit in compiled.rate_limits.items():
        facts.append(f"`{visitor}` at most {limit.requests} requests per {limit.per_seconds} s")
    out += ["Settings: " + "; ".join(facts) + ".", ""]
    if policy.mode == "observe":
        out += [
            "Nothing is refused: every cell is the action logged and announced in "
            "`X-Policy-Observed-Action`, while `X-Policy-Decision` is always `allow`.",
            "",
        ]
    out += ["Rules, first match wins:", ""]
    for rule in policy.rules:
        out.append(f"- `{rule.id}` → **{rule.action}**: {rule.reason}")
    out.append(
        f"- `{policy.default.id}` (default) → **{policy.default.action}**: {policy.default.reason}"
    )
    out += ["", preset_table(name)]
    return "\n".join(out)


def generated_section() -> str:
    """Everything between the markers of docs/policy.md."""
    parts = [BEGIN, ""]
    for name in PRESET_NAMES:
        parts.append(preset_section(name))
    parts.append(END)
    return "\n".join(parts)


def _splice(document: str, section: str) -> str:
    if BEGIN not in document or END not in document:
        raise SystemExit(f"the document lacks the markers {BEGIN!r} ... {END!r}")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + section + tail


def main(argv: list[str]) -> int:
    section = generated_section()
    if len(argv) == 2 and argv[0] in ("--write", "--check"):
        path = Path(argv[1])
        current = path.read_text(encoding="utf-8")
        updated = _splice(current, section)
        if argv[0] == "--check":
            if updated != current:
                print(f"{path} is out of date: run {COMMAND} {path}")
                return 1
            return 0
        path.write_text(updated, encoding="utf-8")
        return 0
    if argv:
        print(__doc__)
        return 2
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
