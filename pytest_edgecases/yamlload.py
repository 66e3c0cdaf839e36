"""Untrusted YAML → plain Python values that remember the line each value came from.

Contributors commit suite and annotation files, so they are parsed with PyYAML's safe
constructors only, duplicate keys are rejected (PyYAML silently keeps the last one),
and anchors/aliases are refused before anything is expanded (no "billion laughs").
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import EdgecasesError

MAX_YAML_BYTES = 8 * 1024 * 1024  # a suite or review file this large is a mistake, not data
#: Suites nest a handful of levels. libyaml's composer recurses in C and crashes the whole
#: process (SIGSEGV) somewhere past 10,000 levels of `[[[...`, so depth is checked on the
#: event stream (which keeps its own stack) before anything is composed.
MAX_DEPTH = 100

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocDict(dict):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        """Line of ``key`` if present, else the mapping's own line."""
        return self.key_lines.get(key, self.line)


class LocList(list):
    """A sequence that remembers its own line and the line of each item (1-based)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        """Line of item ``index``, else the sequence's own line."""
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


def load_yaml(path: Path, display: str | None = None) -> Any:
    """Parse one YAML file into LocDict/LocList/scalars, or raise EdgecasesError naming file and line."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise EdgecasesError(f"cannot read file: {exc.strerror}", shown) from None
    if path.is_dir():
        raise EdgecasesError("expected a YAML file, found a directory", shown)
    if size > MAX_YAML_BYTES:
        raise EdgecasesError(f"file is {size} bytes; YAML files over {MAX_YAML_BYTES} bytes are refused", shown,
                             hint="split it into several files")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise EdgecasesError(f"not valid UTF-8 (byte {exc.start})", shown, line,
                             hint="save the file as UTF-8") from None
    try:
        _check_depth_any_libyaml(text, shown)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "invalid YAML"
        context = exc.context_mark
        if exc.context and context is not None and mark is not None and context.line != mark.line:
            # An unclosed bracket or quote is noticed lines later, often at the end of the file.
            problem += f" ({exc.context}, started on line {context.line + 1})"
        hint = "YAML indentation must use spaces, not tabs" if _char_at(text, mark) == "\t" else None
        raise EdgecasesError(f"YAML syntax error: {problem}", shown, line, hint=hint) from None
    except yaml.YAMLError as exc:
        raise EdgecasesError(f"YAML error: {exc}", shown) from None
    if node is None:
        return None
    # A fresh constructor per file: one kept across calls remembers every node it ever built.
    return _convert(node, shown, set(), yaml.constructor.SafeConstructor())


def _check_depth_any_libyaml(text: str, shown: str) -> None:
    """_check_depth with the fast loader, giving the same outcome whichever libyaml PyYAML bundles.

    Newer libyaml scanners refuse deep nesting themselves ("exceeded maximum nesting depth"), and
    they read ahead of the events this check sees, so their error can come first, with their
    wording and a later line. When the fast loader fails, the pure-Python one (no such limit)
    re-reads the text up to where it stopped: a nesting problem there is ours to report; anything
    else is the fast loader's error, raised as it was. The re-read ends at that point, so it is short.
    """
    try:
        _check_depth(text, shown, _Loader)
    except yaml.MarkedYAMLError as exc:
        if _Loader is yaml.SafeLoader or exc.problem_mark is None:
            raise
        try:
            _check_depth(text[: exc.problem_mark.index], shown, yaml.SafeLoader)
        except yaml.YAMLError:
            pass   # the cut text is incomplete: its own syntax error says nothing new
        raise


def _check_depth(text: str, shown: str, loader_class: type = _Loader) -> None:
    """Refuse nesting deeper than MAX_DEPTH, reading events only (no recursion, nothing built)."""
    loader = loader_class(text)
    try:
        depth = 0
        while (event := loader.get_event()) is not None:
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise EdgecasesError(f"nested more than {MAX_DEPTH} levels deep", shown, event.start_mark.line + 1,
                                         hint="suites and annotation files need a few levels; this looks generated")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    finally:
        loader.dispose()


def _convert(node: yaml.Node, shown: str, seen: set[int], scalars: yaml.constructor.SafeConstructor) -> Any:
    line = node.start_mark.line + 1
    if node.tag not in _PLAIN_TAGS:
        # Explicit tags (!!python/object/apply:os.system, !!set, !!binary) are not plain values: refuse
        # them rather than silently reading the tagged list or mapping as if the tag were not there.
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise EdgecasesError(f"YAML tag {tag} is not supported", shown, line,
                             hint="write plain text, numbers, dates, lists and mappings")
    # The composer turns an alias into a second reference to the anchored node. Meeting a
    # collection node twice therefore means an alias: refuse it before anything is expanded,
    # which also stops "billion laughs" bombs and self-referencing documents.
    if not isinstance(node, yaml.ScalarNode):
        if id(node) in seen:
            raise EdgecasesError(f"anchors and aliases (*name) are not supported (anchor on line {line})", shown, line,
                                 hint="write the value out, or use the suite's `defaults:` section")
        seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        out = LocDict()
        out.line, out.key_lines = line, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise EdgecasesError("merge keys (<<) are not supported", shown, key_node.start_mark.line + 1,
                                     hint="use the suite's `defaults:` section for shared settings")
            key = _convert(key_node, shown, seen, scalars)
            if isinstance(key, (dict, list)):
                raise EdgecasesError("a mapping key must be a plain value", shown, key_node.start_mark.line + 1)
            if key in out:
                raise EdgecasesError(f"duplicate key '{key}' (first on line {out.key_lines[key]})", shown,
                                     key_node.start_mark.line + 1, hint="remove one of them")
            out.key_lines[key] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, shown, seen, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LocList()
        seq.line, seq.item_lines = line, []
        for item in node.value:
            seq.item_lines.append(item.start_mark.line + 1)
            seq.append(_convert(item, shown, seen, scalars))
        return seq
    return _scalar(node, shown, scalars)


def _scalar(node: yaml.ScalarNode, shown: str, scalars: yaml.constructor.SafeConstructor) -> Any:
    if node.tag in _TEXT_TAGS:
        return node.value   # a bare "=" or "<<" as a value: YAML 1.1 tags nothing constructs; it is text
    try:
        return scalars.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        raise EdgecasesError(f"invalid value {node.value!r}: {getattr(exc, 'problem', None) or exc}", shown,
                             node.start_mark.line + 1) from None


_TEXT_TAGS = frozenset({"tag:yaml.org,2002:value", "tag:yaml.org,2002:merge"})
#: What plain YAML resolves to (and the same tags written out, e.g. !!str 0); nothing else is constructed.
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in
                        ("str", "int", "float", "bool", "null", "timestamp", "seq", "map", "value", "merge"))


def _char_at(text: str, mark: Any) -> str:
    """The character a YAML error points at, or '' when the mark is outside the text."""
    if mark is None:
        return ""
    lines = text.splitlines()
    if mark.line < len(lines) and mark.column < len(lines[mark.line]):
        return lines[mark.line][mark.column]
    return ""


def plain(value: Any) -> Any:
    """LocDict/LocList (any dict/list) → fresh dict/list, recursively: for code that should not see our
    bookkeeping types, and a copy its caller may change without touching the parsed document."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def frozen(value: Any) -> Any:
    """LocDict/LocList → hashable tuples (a mapping as sorted (key, value) pairs), for frozen dataclasses and
    cache keys, which hash and repr the value."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(frozen(v) for v in value)
    return value
