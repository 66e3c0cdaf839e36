"""A real category's examples, read from where the suite points: an image folder or a manifest CSV.

Both readers check what they list: images stay inside the project root (links too), labels are the
suite's, and every problem names the folder's suite line or the manifest's own line.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import did_you_mean
from .validate import Context, not_a_file, shown_path
from .vocabulary import SEVERITIES

#: Image files are recognised by extension when listing folders; the decoder checks the real format.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


# slots: one per image, alive for the whole run (no per-instance __dict__).
@dataclass(frozen=True, slots=True, weakref_slot=True)
class Example:
    """One image with its expected label, as declared by the suite (before any review).

    ``file`` is a str, not a Path: a Path holds its parts in a list and caches its string beside
    them, some 350 bytes an image, which at 100,000 images was a fifth of a warm rerun's memory.
    """

    path: str                       # relative to the suite file's folder, POSIX separators
    file: str                       # absolute, resolved, inside the project root
    label: str
    severity: str | None = None     # from a manifest column, if any
    metadata: tuple[tuple[str, str], ...] = ()
    line: int | None = None         # manifest line, for error messages

    def meta(self, key: str) -> str | None:
        """Value of a manifest metadata column, or None."""
        return dict(self.metadata).get(key)


def project_path(file: str, rootdir: Path) -> str:
    """An example's file as a POSIX path from the project root (raises ValueError if it is not inside)."""
    root = os.fspath(rootdir)
    inside = root if root.endswith(os.sep) else root + os.sep
    if file.startswith(inside):
        return file[len(inside):].replace(os.sep, "/")
    return Path(file).relative_to(rootdir).as_posix()


def image_folder(ctx: Context, folder: Path, line: int, labels: tuple[str, ...]) -> tuple[Example, ...]:
    """ImageFolder layout: one sub-folder per label, images anywhere below it (sorted, deterministic)."""
    shown = shown_path(folder, ctx.root)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ctx.error(f"images folder '{shown}' {what}", line,
                        hint="images: names a folder with one sub-folder per label (ImageFolder layout)")
    examples: list[Example] = []
    root = str(ctx.root)
    inside = root if root.endswith(os.sep) else root + os.sep
    for sub in sorted(folder.iterdir()):
        if sub.name.startswith(".") or not sub.is_dir():
            continue
        if sub.name not in labels:
            raise ctx.error(f"folder '{shown_path(sub, ctx.root)}' is not a label{did_you_mean(sub.name, labels)}",
                            line, hint="each sub-folder of images: must be named after one of the suite's labels")
        for dirpath, dirnames, filenames in os.walk(sub, followlinks=True):
            # Resolved and made relative once per folder, not per file: suites list tens of thousands.
            # The folder's links come from one listing (its entries' types), not an lstat per entry.
            real_dir = os.path.realpath(dirpath)
            real_base = real_dir if real_dir.endswith(os.sep) else real_dir + os.sep
            dir_inside = real_dir == root or real_dir.startswith(inside)   # a linked label folder may lead out
            rel_dir = os.path.relpath(dirpath, ctx.path.parent).replace(os.sep, "/")
            with os.scandir(dirpath) as entries:
                links = {e.name for e in entries if e.is_symlink()}
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            _check_linked_folders(ctx, Path(dirpath), Path(real_dir), [d for d in dirnames if d in links], line)
            for fname in sorted(filenames):
                if fname.startswith(".") or os.path.splitext(fname)[1].lower() not in IMAGE_SUFFIXES:
                    continue
                if fname in links:
                    path = os.path.realpath(os.path.join(dirpath, fname))
                    within = path.startswith(inside)
                else:
                    within, path = dir_inside, real_base + fname
                if not within:
                    raise ctx.error(f"image '{shown_path(Path(dirpath, fname), ctx.root)}' links outside the "
                                    "project root", line)
                examples.append(Example(path=fname if rel_dir == "." else f"{rel_dir}/{fname}",
                                        file=path, label=sub.name))
    if not examples:
        raise ctx.error(f"images folder '{shown}' holds no images", line,
                        hint=f"add images with one of: {', '.join(sorted(IMAGE_SUFFIXES))}")
    return tuple(examples)


def _check_linked_folders(ctx: Context, parent: Path, here: Path, links: list[str], line: int) -> None:
    """Refuse a linked sub-folder of ``parent`` (really ``here``) that leads out of the project or back
    up the tree, before walking into it.

    os.walk(followlinks=True) would otherwise walk a link to / through the whole disk, and go round a link
    to an ancestor until paths grow too long, listing every image once per lap.
    """
    for name in links:
        link = parent / name
        target = link.resolve()
        if not target.is_relative_to(ctx.root):
            raise ctx.error(f"folder '{shown_path(link, ctx.root)}' links outside the project root", line,
                            hint="keep data inside the project; symlinks out of it are refused")
        if here.is_relative_to(target):
            raise ctx.error(f"folder '{shown_path(link, ctx.root)}' links back to '{shown_path(target, ctx.root)}' "
                            "(a symlink loop)", line, hint="remove the link; each image must be listed once")


def manifest(ctx: Context, raw: Any, line: int, labels: tuple[str, ...]) -> tuple[Example, ...]:
    """A CSV with path,label[,severity][,metadata…]; image paths are relative to the suite file."""
    file = ctx.path_inside(raw, line, "manifest")
    if not file.is_file():
        raise ctx.error(f"manifest '{raw}' {not_a_file(file)}", line)
    csv_ctx = Context(file, ctx.root)   # from here on, errors name the manifest's own lines
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise csv_ctx.error("manifest is not valid UTF-8", None, hint="save the CSV as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = _csv_rows(csv_ctx, reader)
    header = next(rows, None)
    if not header or "path" not in header or "label" not in header:
        raise csv_ctx.error(f"manifest header must include path and label columns, got {header}", 1)
    if len(set(header)) != len(header):
        raise csv_ctx.error("manifest header repeats a column name", 1)
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for row in rows:
        row_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise csv_ctx.error(f"row has {len(row)} cells, the header has {len(header)}", row_line)
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        examples.append(_manifest_row(ctx, csv_ctx, cells, row_line, labels, seen))
    if not examples:
        raise csv_ctx.error("manifest lists no images", 1)
    return tuple(examples)


def _manifest_row(ctx: Context, csv_ctx: Context, cells: dict[str, str], row_line: int,
                  labels: tuple[str, ...], seen: dict[str, int]) -> Example:
    """One manifest row as an Example; ``seen`` (normalised path -> line) catches an image listed twice."""
    rel = cells.pop("path")
    label = cells.pop("label")
    if label not in labels:
        raise csv_ctx.error(f"label '{label}' is not in the suite's labels{did_you_mean(label, labels)}", row_line,
                            hint="labels: " + ", ".join(labels))
    severity = cells.pop("severity", "") or None
    if severity is not None and severity not in SEVERITIES:
        raise csv_ctx.error(f"severity '{severity}' is not one of {', '.join(SEVERITIES)}", row_line)
    if "\0" in rel:
        raise csv_ctx.error(f"image path {rel!r} contains a NUL character", row_line)
    if os.path.isabs(rel) or not rel:
        raise csv_ctx.error(f"image path '{rel}' must be relative to the suite file", row_line)
    image = (ctx.path.parent / rel).resolve()
    if not image.is_relative_to(ctx.root):
        raise csv_ctx.error(f"image path '{rel}' resolves outside the project root", row_line)
    if not image.is_file():
        raise csv_ctx.error(f"image '{rel}' {not_a_file(image)}", row_line,
                            hint="paths in a manifest are relative to the suite file's folder")
    norm = os.path.relpath(ctx.path.parent / rel, ctx.path.parent).replace(os.sep, "/")
    if norm in seen:
        raise csv_ctx.error(f"image '{rel}' is listed twice (first on line {seen[norm]})", row_line)
    seen[norm] = row_line
    return Example(path=norm, file=str(image), label=label, severity=severity,
                   metadata=tuple(sorted(cells.items())), line=row_line)


def _csv_rows(csv_ctx: Context, reader: Any) -> Iterator[list[str]]:
    """The reader's rows; a malformed row (a field over the csv module's size limit) is an error with its line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise csv_ctx.error(f"not valid CSV: {exc}", reader.line_num) from None
