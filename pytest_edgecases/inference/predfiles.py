"""Predictions files: what another engine or another CI job predicted, read, checked, matched and written.

A file (Parquet, CSV or JSON Lines; docs/predictions.md) has a row per model input: its ``key``
(keys.input_key) or, for a real image, its ``path`` relative to the suite file and the ``sha256`` of
its bytes; one numeric column per label (probabilities, or logits where ``kind`` says so); optionally
``suite`` (the rows then serve that suite only), ``error`` (the engine could not score the input) and
``model`` (what made the prediction: a saved run's model fingerprint, shown in the judge's run record).

Rows are checked when an example needs them, against that example's suite: a value that cannot be
right stops the suite with the file and line named; a row for bytes that have changed (stale) is never
used. Reading numbers a row at a time would cost seconds for 100,000 rows: the checks and the top-k
are done with numpy over every matched row at once (numpy and pyarrow are imported when a file is read).
"""
from __future__ import annotations

import csv
import glob
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

from ..errors import EdgecasesError
from ..prediction import TOP_K, Prediction

#: File suffix -> format.
FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl"}
#: Columns that say what a row is; every other column holds a label's value.
ID_COLUMNS = ("key", "path", "sha256", "suite", "kind", "error", "model")
#: A jobs file's own columns, which a producer may carry over into its predictions: ignored.
JOB_COLUMNS = ("category", "level", "source_path", "preprocess")
KINDS = ("probabilities", "logits")
#: How far from 1 a row of probabilities may sum (float32 softmax outputs sum within 1e-6).
TOLERANCE = 1e-3


class Wanted(NamedTuple):
    """An example that needs a prediction: its input key, and for a real image its path and bytes' digest."""

    key: str
    path: str | None      # relative to the suite file; None for a synthetic level (only its key matches)
    sha256: str


class Stale(NamedTuple):
    """A row for an image whose bytes have changed since it was predicted: named, never used."""

    path: str
    where: str            # file:line of the row


class Matched(NamedTuple):
    """What the files hold for a suite's wanted examples: a prediction per index into the wanted list."""

    predictions: dict[int, Prediction]
    stale: list[Stale]
    models: set[str]      # the matched rows' ``model`` values (empty ones aside)


@dataclass
class _Table:
    """One file's rows, as read (values not yet checked: that needs the suite's labels)."""

    shown: str
    fmt: str
    labels: list[str]                  # the label columns, in file order
    values: Any                        # numpy float64 (rows, labels); NaN where empty
    ids: dict[str, list[str | None]]   # ID_COLUMNS present -> a value per row
    lines: list[int]                   # each row's line (CSV, JSON Lines) or row number (Parquet)

    def where(self, row: int) -> str:
        return f"{self.shown}:{self.lines[row]}" if self.fmt != "parquet" else f"{self.shown} (row {self.lines[row]})"

    def column(self, name: str, row: int) -> str:
        values = self.ids.get(name)
        return (values[row] or "") if values is not None else ""


def _error(table: _Table, row: int | None, message: str, hint: str | None = None) -> EdgecasesError:
    if row is None:
        return EdgecasesError(message, table.shown, hint=hint)
    if table.fmt == "parquet":
        return EdgecasesError(f"row {table.lines[row]}: {message}", table.shown, hint=hint)
    return EdgecasesError(message, table.shown, table.lines[row], hint=hint)


class PredictionFiles:
    """The rows of every predictions file of a run, indexed by (suite, key) and (suite, path, sha256)."""

    def __init__(self, tables: Sequence[_Table]):
        self.tables = list(tables)
        self.by_key: dict[tuple[str, str], tuple[int, int]] = {}
        self.by_path: dict[tuple[str, str, str], tuple[int, int]] = {}
        self.path_shas: dict[tuple[str, str], tuple[int, int]] = {}   # any row naming the path, for staleness
        for t, table in enumerate(self.tables):
            suites = table.ids.get("suite") or [None] * len(table.lines)
            keys_ = table.ids.get("key") or [None] * len(table.lines)
            paths = table.ids.get("path") or [None] * len(table.lines)
            shas = table.ids.get("sha256") or [None] * len(table.lines)
            for row, (suite, key, path, sha) in enumerate(zip(suites, keys_, paths, shas, strict=True)):
                if key:
                    self._add(self.by_key, (suite or "", key), (t, row), f"key {key[:16]}…")
                elif path and sha:
                    self._add(self.by_path, (suite or "", path, sha.lower()), (t, row), f"path {path}")
                    self.path_shas.setdefault((suite or "", path), (t, row))
                else:
                    raise _error(table, row, "the row has neither a key nor both path and sha256",
                                 hint="write the jobs file's key, or for a real image its path and sha256")

    def _add(self, index: dict, ident: tuple, at: tuple[int, int], what: str) -> None:
        before = index.setdefault(ident, at)
        if before != at and not self._same(before, at):
            first, second = self.tables[before[0]], self.tables[at[0]]
            raise _error(second, at[1], f"{what} appears again with other values (first at {first.where(before[1])})",
                         hint="keep one row per input, or make the rows agree")

    def _same(self, a: tuple[int, int], b: tuple[int, int]) -> bool:
        import numpy as np

        ta, tb = self.tables[a[0]], self.tables[b[0]]
        if ta.labels != tb.labels:
            return False
        same_ids = all(ta.column(c, a[1]) == tb.column(c, b[1]) for c in ("kind", "error"))
        return same_ids and bool(np.array_equal(ta.values[a[1]], tb.values[b[1]], equal_nan=True))

    def match(self, suite_name: str, labels: Sequence[str], wanted: Sequence[Wanted]) -> Matched:
        """The predictions the files hold for ``wanted`` (a suite's examples); raises EdgecasesError on a
        row that cannot be right (a label missing or extra, a value that is no probability)."""
        hits: dict[int, list[tuple[int, int]]] = {}   # table -> [(wanted index, row)]
        stale: list[Stale] = []
        for i, want in enumerate(wanted):
            found = self.by_key.get((suite_name, want.key)) or self.by_key.get(("", want.key))
            if found is None and want.path is not None and (self.by_path or self.path_shas):
                found = (self.by_path.get((suite_name, want.path, want.sha256))
                         or self.by_path.get(("", want.path, want.sha256)))
                if found is None:
                    other = self.path_shas.get((suite_name, want.path)) or self.path_shas.get(("", want.path))
                    if other is not None:
                        stale.append(Stale(want.path, self.tables[other[0]].where(other[1])))
            if found is not None:
                hits.setdefault(found[0], []).append((i, found[1]))
        predictions: dict[int, Prediction] = {}
        models: set[str] = set()
        for t, pairs in hits.items():
            rows = [row for _, row in pairs]
            made = _predictions(self.tables[t], rows, suite_name, labels)
            predictions.update(zip((i for i, _ in pairs), made, strict=True))
            if "model" in self.tables[t].ids:
                models.update(self.tables[t].column("model", row) for row in rows)
        models.discard("")
        return Matched(predictions, stale, models)


def _predictions(table: _Table, rows: list[int], suite_name: str, labels: Sequence[str]) -> list[Prediction]:
    """Check the rows' values against the suite's labels and make their predictions (top-k, best first)."""
    import numpy as np

    missing = [label for label in labels if label not in table.labels]
    if missing:
        raise _error(table, None, f"no column for label '{missing[0]}' of suite {suite_name}"
                     + (f" ({len(missing)} labels missing)" if len(missing) > 1 else ""),
                     hint=f"write one column per label: {', '.join(labels)}")
    order = [table.labels.index(label) for label in labels]
    extra = [c for c, name in enumerate(table.labels) if name not in labels]
    picked = np.asarray(rows, dtype=np.int64)
    if extra:
        others = table.values[np.ix_(picked, extra)]
        filled = ~np.isnan(others)
        if "suite" not in table.ids or filled.any():
            row = int(picked[np.argmax(filled.any(axis=1))]) if filled.any() else int(picked[0])
            raise _error(table, row, f"column '{table.labels[extra[0]]}' is not a label of suite {suite_name}",
                         hint="a predictions file has one column per label of the suite, and no other")
    values = table.values[np.ix_(picked, order)]
    errors = table.ids.get("error")
    failed = np.array([bool(errors[r]) for r in rows]) if errors is not None else np.zeros(len(rows), dtype=bool)
    kinds = table.ids.get("kind")
    logits = np.zeros(len(rows), dtype=bool)
    if kinds is not None:
        for n, r in enumerate(rows):
            kind = (kinds[r] or "probabilities").strip().lower()
            if kind not in KINDS:
                raise _error(table, r, f"kind '{kinds[r]}' is neither probabilities nor logits")
            logits[n] = kind == "logits"
    scored = ~failed
    _check(table, rows, values, scored & ~logits, scored & logits)
    if logits.any():   # softmax, shifted by the row's maximum so that large logits do not overflow
        shifted = np.exp(values[logits] - values[logits].max(axis=1, keepdims=True))
        values[logits] = shifted / shifted.sum(axis=1, keepdims=True)
    k = min(TOP_K, len(labels))
    top = np.argsort(-np.where(scored[:, None], values, 0.0), axis=1, kind="stable")[:, :k]
    # (label index, probability) pairs made by numpy in one go: a structured array's tolist() gives tuples.
    pairs = np.empty(top.shape, dtype=[("i", np.int64), ("p", np.float64)])
    pairs["i"], pairs["p"] = top, np.take_along_axis(values, top, axis=1)
    out = [Prediction(top=tuple(row)) for row in pairs.tolist()]
    for n in np.flatnonzero(failed).tolist():
        out[n] = Prediction(error=str(errors[rows[n]]) if errors is not None else "error")
    return out


def _check(table: _Table, rows: list[int], values: Any, probs: Any, logits: Any) -> None:
    """Refuse values that cannot be right, naming the first row of each kind of fault."""
    import numpy as np

    def first(bad: Any, message: str) -> None:
        if bad.any():
            raise _error(table, rows[int(np.argmax(bad))], message,
                         hint="write probabilities (each in [0, 1], a row summing to 1), or logits with kind: logits")

    with np.errstate(invalid="ignore"):
        first(np.isnan(values).any(axis=1) & (probs | logits), "a label's value is empty or NaN")
        first(~np.isfinite(values).all(axis=1) & logits, "a logit is infinite")
        first((values < 0).any(axis=1) & probs, "a probability is negative")
        first((values > 1).any(axis=1) & probs, "a probability is greater than 1")
        first((np.abs(values.sum(axis=1) - 1.0) > TOLERANCE) & probs,
              f"the probabilities sum to {_first_sum(values, probs)}, not 1 (± {TOLERANCE:g})")


def _first_sum(values: Any, probs: Any) -> str:
    import numpy as np

    sums = values.sum(axis=1)
    bad = (np.abs(sums - 1.0) > TOLERANCE) & probs
    return f"{float(sums[int(np.argmax(bad))]):.6g}" if bad.any() else ""


# -- reading -------------------------------------------------------------------------------------
def load(paths: Sequence[Path], shown: Sequence[str]) -> PredictionFiles:
    """Read every file (raises EdgecasesError naming the file, and the line where there is one)."""
    return PredictionFiles([read(path, name) for path, name in zip(paths, shown, strict=True)])


def read(path: Path, shown: str) -> _Table:
    """One predictions file's rows."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise EdgecasesError(f"a predictions file must end in {', '.join(FORMATS)}", shown)
    if not path.is_file():
        raise EdgecasesError("predictions file not found" if not path.exists() else "is a folder, not a file", shown)
    try:
        table = {"parquet": _read_parquet, "csv": _read_csv, "jsonl": _read_jsonl}[fmt](path, shown)
    except OSError as exc:
        raise EdgecasesError(f"cannot read the predictions file: {exc.strerror or exc}", shown) from None
    if not table.lines:
        raise EdgecasesError("the predictions file holds no rows", shown,
                             hint="write one row per job of the jobs file (python -m pytest_edgecases jobs)")
    return table


def _split(columns: Sequence[str], shown: str) -> tuple[list[str], list[str]]:
    """(id columns, label columns) of a header; a repeated column is an error."""
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise EdgecasesError(f"column '{name}' appears twice", shown)
        seen.add(name)
    ids = [c for c in columns if c in ID_COLUMNS]
    labels = [c for c in columns if c not in ID_COLUMNS and c not in JOB_COLUMNS]
    if "key" not in ids and not {"path", "sha256"} <= set(ids):
        raise EdgecasesError("no key column (nor path and sha256)", shown,
                             hint="name each row's input by the jobs file's key, or a real image's path and sha256")
    if not labels:
        raise EdgecasesError("no label columns", shown, hint="write one numeric column per label of the suite")
    return ids, labels


def _read_parquet(path: Path, shown: str) -> _Table:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data = pq.read_table(path)
    except (pa.ArrowException, ValueError) as exc:
        raise EdgecasesError(f"not a readable Parquet file (empty or truncated?): {str(exc).splitlines()[0]}",
                             shown, hint="write it again; a shard killed while writing leaves a truncated file") \
            from None
    ids, labels = _split(data.column_names, shown)
    columns: dict[str, list[str | None]] = {}
    for name in ids:
        col = data.column(name)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_null(col.type)):
            raise EdgecasesError(f"column '{name}' holds {col.type}, not text", shown)
        columns[name] = col.to_pylist()
    arrays = []
    for name in labels:
        col = data.column(name)
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_null(col.type)):
            raise EdgecasesError(f"label column '{name}' holds {col.type}, not numbers", shown,
                                 hint=f"every column but {', '.join(ID_COLUMNS)} is a label's probability or logit")
        arrays.append(col.to_numpy(zero_copy_only=False).astype(np.float64))
    values = np.column_stack(arrays) if data.num_rows else np.zeros((0, len(labels)))
    return _Table(shown, "parquet", labels, values, columns, list(range(1, data.num_rows + 1)))


def _number(text: Any, table_where: str, column: str) -> float:
    """A label cell's number (NaN for an empty one); raises EdgecasesError for anything else."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return math.nan
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise EdgecasesError(f"column '{column}' holds {json.dumps(text)[:40]}, not a number", table_where)
    try:
        return float(text)
    except ValueError:
        raise EdgecasesError(f"column '{column}' holds {text[:40]!r}, not a number", table_where) from None


def _from_rows(shown: str, fmt: str, columns: Sequence[str], rows: Iterable[tuple[int, dict[str, Any]]]) -> _Table:
    import numpy as np

    ids, labels = _split(columns, shown)
    out: dict[str, list[str | None]] = {name: [] for name in ids}
    values: list[list[float]] = []
    lines: list[int] = []
    for line, row in rows:
        where = f"{shown}:{line}"
        for name in ids:
            value = row.get(name)
            if value is not None and not isinstance(value, str):
                raise EdgecasesError(f"column '{name}' holds {json.dumps(value)[:40]}, not text", where)
            out[name].append(value or None)
        values.append([_number(row.get(name), where, name) for name in labels])
        lines.append(line)
    array = np.array(values, dtype=np.float64).reshape(len(values), len(labels))
    return _Table(shown, fmt, labels, array, out, lines)


def _read_csv(path: Path, shown: str) -> _Table:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise EdgecasesError("the predictions file is empty", shown)
        header = [h.strip() for h in header]
        rows = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise EdgecasesError(f"{len(values)} fields where the header has {len(header)}", shown,
                                     reader.line_num)
            rows.append((reader.line_num, dict(zip(header, values, strict=True))))
    return _from_rows(shown, "csv", header, rows)


def _read_jsonl(path: Path, shown: str) -> _Table:
    rows: list[tuple[int, dict[str, Any]]] = []
    columns: dict[str, None] = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EdgecasesError(f"not JSON ({exc.msg}); a line may have been cut short", shown, line_no) \
                    from None
            if not isinstance(row, dict):
                raise EdgecasesError("each line must be a JSON object", shown, line_no)
            columns.update(dict.fromkeys(row))
            rows.append((line_no, row))
    return _from_rows(shown, "jsonl", list(columns), rows)


# -- writing -------------------------------------------------------------------------------------
class Row(NamedTuple):
    """One prediction to write: the suite it belongs to (and its labels), its input key and the prediction."""

    suite: str
    labels: tuple[str, ...]
    key: str
    prediction: Prediction
    model: str = ""       # the fingerprint of the model that made it, where known


def write(path: Path, rows: Sequence[Row]) -> None:
    """Write rows as a predictions file (format by suffix), replacing the file only once it is whole.

    A prediction keeps its top labels only (prediction.TOP_K): the rest of the probability is spread evenly
    over the other labels, which keeps every row summing to 1 and leaves the top labels as they were.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise EdgecasesError(f"a predictions file must end in {', '.join(FORMATS)}", str(path))
    labels = list(dict.fromkeys(label for row in rows for label in row.labels))
    columns: dict[str, list[Any]] = {"key": [r.key for r in rows], "suite": [r.suite for r in rows],
                                     "model": [r.model or None for r in rows],
                                     "error": [r.prediction.error for r in rows]}
    for label in labels:
        columns[label] = []
    for row in rows:
        full = _full(row)
        for label in labels:
            columns[label].append(full.get(label))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(name, pa.string()) for name in ("key", "suite", "model", "error")]
                           + [(label, pa.float64()) for label in labels])
        pq.write_table(pa.table(columns, schema=schema), partial)
    elif fmt == "csv":
        with open(partial, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(list(columns))
            for values in zip(*columns.values(), strict=True):
                writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in values])
    else:
        with open(partial, "w", encoding="utf-8") as f:
            names = list(columns)
            for values in zip(*columns.values(), strict=True):
                f.write(json.dumps({n: v for n, v in zip(names, values, strict=True) if v is not None}) + "\n")
    os.replace(partial, path)


def _full(row: Row) -> dict[str, float]:
    """Every label's probability of a row (none for an error)."""
    pred = row.prediction
    if pred.error is not None or not pred.top:
        return {}
    top = {row.labels[i]: p for i, p in pred.top if 0 <= i < len(row.labels)}
    rest = [label for label in row.labels if label not in top]
    share = max(0.0, 1.0 - sum(top.values())) / len(rest) if rest else 0.0
    return {label: top.get(label, share) for label in row.labels}


# -- naming ------------------------------------------------------------------------------------
def expand(patterns: Sequence[str], base: Path) -> tuple[Path, ...]:
    """--edgecases-predictions values (files or globs, relative to ``base``) to files, sorted within a glob;
    raises ValueError for a glob that matches nothing or a file that is no predictions file."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        pattern = str(pattern).strip()
        if not pattern:
            continue
        full = Path(os.path.abspath(base / os.path.expanduser(pattern)))
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
        else:
            matches = [full] if full.is_file() else []
        if not matches:
            raise ValueError(f"{pattern!r} matches no file (looked in {base})")
        for match in matches:
            if match.suffix.lower() not in FORMATS:
                raise ValueError(f"{match.name!r} is not a predictions file: it must end in {', '.join(FORMATS)}")
            found[match] = None
    return tuple(found)
