"""Safe YAML loading into pydantic models, with errors that name the file, line and field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 100_000

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}field '{self.field}': {self.message}"


class YamlModelError(ValueError):
    """A YAML document that is unsafe, malformed or does not fit its model."""

    def __init__(self, source: str, problems: list[FieldProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {source}: {p}" for p in problems)
        super().__init__(f"{source} is not valid:\n{lines}")


def _check_shape(node: yaml.Node, source: str) -> None:
    """Refuse aliases, and documents too deep or too large, before building any Python object."""
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_NODES:
            limit = f"deeper than {MAX_DEPTH} levels" if depth > MAX_DEPTH else "too large"
            raise YamlModelError(
                source,
                [FieldProblem("(document)", current.start_mark.line + 1, f"the file is {limit}")],
            )
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in current.value)


# libyaml's parser, when PyYAML was built with it, walks a large document much faster than the
# pure-Python one: refusing an oversized file must stay cheap.
_EVENT_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_events(text: str, source: str) -> None:
    """Refuse documents nested deeper than MAX_DEPTH or with more than MAX_NODES nodes."""
    depth = 0
    nodes = 0
    for event in yaml.parse(text, Loader=_EVENT_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            continue
        elif not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            continue
        nodes += 1
        if depth > MAX_DEPTH or nodes > MAX_NODES:
            limit = f"deeper than {MAX_DEPTH} levels" if depth > MAX_DEPTH else "too large"
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            raise YamlModelError(source, [FieldProblem("(document)", line, f"the file is {limit}")])


class _NoAliasComposer(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (*name) are not supported; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def line_of(root: yaml.Node, loc: tuple[Any, ...]) -> int | None:
    """The line that names the field at a pydantic error location (its key, or its list item)."""
    node: yaml.Node | None = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(
                ((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None
            )
            if entry is None:
                return line
            line = entry[0].start_mark.line + 1
            node = entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_yaml_text(text: str, model: type[M], source: str = "<yaml>") -> M:
    """Parse `text` safely and validate it as `model`; raise YamlModelError on any problem."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates, e.g. from a badly decoded request body
        raise YamlModelError(
            source,
            [FieldProblem("(document)", None, "the text is not valid Unicode; save it as UTF-8")],
        ) from exc
    if size > MAX_BYTES:
        raise YamlModelError(
            source, [FieldProblem("(document)", None, f"the file is larger than {MAX_BYTES} bytes")]
        )
    try:
        # PyYAML's composer recurses once per nesting level, so "[[[[..." thousands deep would
        # overflow the stack: the event stream (an iterative parser) is measured first.
        _check_events(text, source)
        root = yaml.compose(text, Loader=_NoAliasComposer)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlModelError(source, [FieldProblem("(syntax)", line, str(problem))]) from exc
    if root is None:
        raise YamlModelError(source, [FieldProblem("(document)", 1, "the file is empty")])
    _check_shape(root, source)
    try:
        data = yaml.safe_load(text)
    except ValueError as exc:  # an integer beyond Python's 4300-digit conversion limit
        raise YamlModelError(
            source, [FieldProblem("(syntax)", None, f"a value cannot be read: {exc}")]
        ) from exc
    except yaml.YAMLError as exc:  # e.g. a !!python/object tag, which safe loading refuses
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlModelError(source, [FieldProblem("(syntax)", line, str(problem))]) from exc
    if not isinstance(data, dict):
        raise YamlModelError(
            source, [FieldProblem("(document)", 1, "the top level must be a mapping of fields")]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            field = ".".join(str(p) for p in loc) or "(document)"
            problems.append(FieldProblem(field, line_of(root, loc), problem_message(err)))
        raise YamlModelError(source, problems) from exc


def problem_message(err: Mapping[str, Any]) -> str:
    """A validation error's sentence, as a person reads it (no "Value error, " prefix)."""
    if err.get("type") == "extra_forbidden":
        return "is not a known field (check the spelling)"
    return str(err.get("msg", "is invalid")).removeprefix("Value error, ")


def load_yaml_file(path: Path, model: type[M]) -> M:
    """Read and validate a YAML file; unreadable files are reported like invalid ones."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise YamlModelError(
                str(path),
                [FieldProblem("(document)", None, f"the file is larger than {MAX_BYTES} bytes")],
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlModelError(str(path), [FieldProblem("(file)", None, str(exc))]) from exc
    return load_yaml_text(text, model, str(path))
