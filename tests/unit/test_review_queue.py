"""review_queue.py: the queue stub parses back whatever text it holds, and its reasons never round up."""
from __future__ import annotations

import datetime as dt

import yaml

from pytest_edgecases.review_queue import render_queue

TODAY = dt.date.today()


def test_queue_stub_keeps_any_text_safe():
    """Image names and labels come from the file system and YAML: whatever they hold, the stub parses back."""
    odd = ['it\'s "odd" #1: {a}', "line\nbreak", "del\x7fc1\x80", "nel\x85ls\u2028ps\u2029", "bom\ufeff",
           "surrogate\udcff", "emoji 🚦 ünï", "- dash", "null", "@at", "tab\tx"]
    entries = [{"suite": "s", "image": name + ".png", "category": "c", "label": name, "predicted": name,
                "confidence": 0.5, "sha256": "ab" * 32, "severity": "high", "reason": "why"} for name in odd]
    text = render_queue("suite\u2028examples: []\n#", entries, TODAY)
    text.encode("utf-8")   # writable as UTF-8, even with a surrogate-escaped file name
    doc = yaml.safe_load(text)
    assert set(doc) == {"reviewer", "date", "examples"}
    assert [(e["image"], e["label"], e["predicted"]) for e in doc["examples"]] == [
        (n + ".png", n, n) for n in odd]


def test_queue_reason_never_rounds_up_to_the_threshold():
    """0.5961 below confidence_below 0.6 reads "0.596 < 0.6", not the false "0.60 < 0.6"."""
    from pytest_edgecases.review_queue import _below

    assert _below(0.5961, 0.6) == "0.596"
    assert _below(0.5835, 0.6) == "0.58"
    assert _below(0.95, 0.96) == "0.95"
    assert float(_below(0.5999999, 0.6)) < 0.6
