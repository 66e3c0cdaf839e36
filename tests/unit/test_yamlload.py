"""yamlload: safe YAML whose values remember their lines; every refusal names the file and line."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from pytest_edgecases import yamlload
from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.yamlload import LocDict, LocList, load_yaml


def yaml_file(tmp_path: Path, text: str | bytes, name: str = "doc.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def error_of(call, *args) -> EdgecasesError:
    with pytest.raises(EdgecasesError) as info:
        call(*args)
    return info.value


# -- yamlload ------------------------------------------------------------------------------------

def test_values_remember_their_lines(tmp_path):
    doc = load_yaml(yaml_file(tmp_path, "a: 1\nb:\n  - x\n  - {c: 2}\n"))
    assert doc == {"a": 1, "b": ["x", {"c": 2}]}
    assert isinstance(doc, LocDict) and isinstance(doc["b"], LocList)
    assert (doc.line, doc.line_of("a"), doc.line_of("b"), doc.line_of("missing")) == (1, 1, 2, 1)
    assert (doc["b"].line_of(0), doc["b"].line_of(1), doc["b"][1].line_of("c")) == (3, 4, 4)


def test_bare_dates_and_quoted_dates(tmp_path):
    import datetime as dt

    doc = load_yaml(yaml_file(tmp_path, "a: 2026-12-31\nb: '2026-12-31'\n"))
    assert doc == {"a": dt.date(2026, 12, 31), "b": "2026-12-31"}


def test_billion_laughs_is_refused_quickly_before_expansion(tmp_path):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    path = yaml_file(tmp_path, "\n".join(lines) + "\n")
    started = time.perf_counter()
    err = error_of(load_yaml, path, "bomb.yaml")
    assert time.perf_counter() - started < 1.0
    assert "anchors and aliases (*name) are not supported" in str(err)
    assert str(err).startswith("bomb.yaml:1: ")


def test_alias_of_a_mapping_and_self_reference_are_refused(tmp_path):
    err = error_of(load_yaml, yaml_file(tmp_path, "x: &d {min_accuracy: 0.9}\ny: *d\n"), "doc.yaml")
    assert "anchors and aliases" in str(err) and err.line == 1
    assert "anchors and aliases" in str(error_of(load_yaml, yaml_file(tmp_path, "&a [*a]\n")))


def test_merge_keys_are_refused(tmp_path):
    err = error_of(load_yaml, yaml_file(tmp_path, "base: {a: 1}\nx:\n  <<: {a: 1}\n  b: 2\n"), "doc.yaml")
    assert str(err).startswith("doc.yaml:3: merge keys (<<) are not supported")


def test_duplicate_keys_name_both_lines(tmp_path):
    err = error_of(load_yaml, yaml_file(tmp_path, "a: 1\nb:\n  c: 1\n  c: 2\n"), "doc.yaml")
    assert str(err) == "doc.yaml:4: duplicate key 'c' (first on line 3)\n  hint: remove one of them"


def test_non_utf8_names_the_line(tmp_path):
    err = error_of(load_yaml, yaml_file(tmp_path, b"a: 1\nb: caf\xe9\n"), "doc.yaml")
    assert str(err).startswith("doc.yaml:2: not valid UTF-8 (byte 11)")
    assert "save the file as UTF-8" in str(err)


def test_utf8_bom_is_accepted(tmp_path):
    assert load_yaml(yaml_file(tmp_path, "\ufeffa: café\n")) == {"a": "café"}


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_documents_are_none(tmp_path, text):
    assert load_yaml(yaml_file(tmp_path, text)) is None


def test_a_collection_as_a_key_is_refused(tmp_path):
    err = error_of(load_yaml, yaml_file(tmp_path, "? [a, b]\n: c\n"), "doc.yaml")
    assert "a mapping key must be a plain value" in str(err)


LOADERS = [pytest.param(yaml.SafeLoader, id="pure-python")] + (
    [pytest.param(yaml.CSafeLoader, id="libyaml")] if hasattr(yaml, "CSafeLoader") else [])


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("where", ["one-line", "several-lines"])
def test_deep_nesting_gets_our_message_at_our_line_with_either_loader(tmp_path, monkeypatch, loader, where):
    # libyaml 0.2.6+ refuses nesting past its own limit (1,000) while scanning ahead, before our
    # check (100) sees an event: the outcome must not depend on which libyaml PyYAML bundles.
    monkeypatch.setattr(yamlload, "_Loader", loader)
    if where == "one-line":
        text, line = "a: 1\nb: " + "[" * 200_000 + "]" * 200_000 + "\n", 2
    else:   # level 101 is reached on line 3, libyaml's 1,000 only on line 4
        text, line = "a: 1\nb: " + "[" * 60 + "\n  " + "[" * 60 + "\n  " + "[" * 2000 + "\n  " + "]" * 2120 + "\n", 3
    error = error_of(load_yaml, yaml_file(tmp_path, text))
    assert (error.line, error.message) == (line, "nested more than 100 levels deep")


@pytest.mark.parametrize("loader", LOADERS)
def test_other_syntax_errors_are_the_same_with_either_loader(tmp_path, monkeypatch, loader):
    monkeypatch.setattr(yamlload, "_Loader", loader)
    error = error_of(load_yaml, yaml_file(tmp_path, "a: [1, 2\nb: 3\n"))
    assert error.line == 2 and error.message.startswith("YAML syntax error")


def test_a_folder_is_not_a_yaml_file(tmp_path):
    assert "expected a YAML file, found a directory" in str(error_of(load_yaml, tmp_path))
