"""Scenario files: validation errors that name the line and field, and the built-in scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.core.yamlfile import YamlModelError
from sandbox.scenario import builtin_names, load_scenario


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_every_built_in_scenario_loads() -> None:
    names = builtin_names()
    assert {
        "walled-garden",
        "open-platform",
        "pay-per-crawl",
        "arms-race",
        "self-preferencing",
    } <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.expand()


def test_variants_expand_into_one_run_each() -> None:
    runs = load_scenario("self-preferencing").expand()
    assert [r.house_brand_boost for r in runs] == [0.0, 0.3]
    assert all(r.variants == [] for r in runs)


def test_an_unknown_field_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\npolicy: closed\npopulation:\n  shopers:\n    count: 2\n")
    with pytest.raises(YamlModelError) as caught:
        load_scenario(str(path))
    problem = caught.value.problems[0]
    assert problem.field == "population.shopers"
    assert problem.line == 4
    assert "not a known field" in str(caught.value)


def test_a_wrong_type_names_the_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: x\npopulation:\n  agents:\n    - name: polite-crawler\n      count: lots\n",
    )
    with pytest.raises(YamlModelError) as caught:
        load_scenario(str(path))
    problem = caught.value.problems[0]
    assert problem.field == "population.agents.0.count"
    assert problem.line == 5


def test_an_unknown_agent_lists_the_roster(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\npopulation:\n  agents:\n    - name: terminator\n")
    with pytest.raises(YamlModelError) as caught:
        load_scenario(str(path))
    assert "polite-crawler" in str(caught.value)
    assert caught.value.problems[0].line == 4


def test_a_policy_typo_names_the_line_and_the_preset_meant(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\npolicy: closd\n")
    with pytest.raises(YamlModelError) as caught:
        load_scenario(str(path))
    problem = caught.value.problems[0]
    assert (problem.field, problem.line) == ("policy", 2)
    assert "Did you mean 'closed'?" in problem.message


def test_a_variant_policy_is_checked_too(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nvariants:\n  - {name: a, policy: no-such-policy.yaml}\n")
    with pytest.raises(YamlModelError) as caught:
        load_scenario(str(path))
    assert caught.value.problems[0].line == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("name: [", "(syntax)"),
        ("- a\n- b\n", "mapping"),
        ("a: &x [1, 2]\nb: *x\n", "aliases"),
        ("name: x\n" + "n:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 40)), "deeper"),
        ("name: !!python/object:os.system ls\n", "(syntax)"),
    ],
)
def test_hostile_or_broken_files_get_a_clear_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(YamlModelError) as caught:
        load_scenario(str(write(tmp_path, text)))
    assert expected in str(caught.value)


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\n# " + "x" * 2_000_000 + "\n")
    with pytest.raises(YamlModelError, match="larger than"):
        load_scenario(str(path))


def test_an_unknown_scenario_name_lists_the_built_in_ones() -> None:
    with pytest.raises(FileNotFoundError, match="walled-garden"):
        load_scenario("no-such-scenario")
