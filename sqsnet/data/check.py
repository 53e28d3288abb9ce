"""``sqsnet data check``: what a dataset folder holds and whether training can read it.

:func:`check_data` reads every split the way a run does (same readers, same hold-out) and
gathers, without stopping at the first problem:

* the layout found (and, when nothing matches, the layouts known and what is at the top of
  the folder),
* each split's size and class counts, and where a hold-out cut it,
* images missing or undecodable (counted, the first few named), labels outside the known
  codes and any other reader error, with its file and line.

The returned :class:`DataCheck` renders as a text table (:meth:`DataCheck.table`) and says
whether training would fail (:attr:`DataCheck.ok`): the train or valid split cannot be
read, or holds undecodable images (a run stops at the first one unless
``data.skip_bad_images`` is set). A missing test split is only noted.

Example::

    from sqsnet.data.check import check_data

    report = check_data("../shared/data/ferplus")   # dataset="auto"
    print(report.table())
    assert report.ok
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .factory import AUTO, READERS, build_dataset
from .labels import dataset_key
from .layouts import LAYOUTS, Layout, choose_layout, detect_layouts, top_entries
from .readers.base import DatasetError

__all__ = ["SplitCheck", "DataCheck", "check_data", "CHECK_SPLITS"]

logger = logging.getLogger(__name__)

CHECK_SPLITS: tuple[str, ...] = ("train", "valid", "test")
"""The splits a check reads; train and valid must work for training, test is optional."""


@dataclass
class SplitCheck:
    """What one split holds.

    Attributes:
        split: ``train``, ``valid`` or ``test``.
        images: Readable images.
        class_counts: Images per class, in the reader's class order.
        undecodable: ``(image, reason)`` of images that could not be decoded.
        holdout: The reader's hold-out record when the split was cut out of train.
        error: The reader's one-line error when the split cannot be read.
    """

    split: str
    images: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    undecodable: list[tuple[str, str]] = field(default_factory=list)
    holdout: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class DataCheck:
    """The result of :func:`check_data`.

    Attributes:
        root: The folder checked.
        requested: The dataset asked for (``auto`` or a name).
        dataset: The reader used (a key of :data:`~sqsnet.data.factory.READERS`), or
            ``None`` when none could be chosen.
        layout: The layout read (the train split's reader's ``layout``), or ``""``.
        matched: Every known layout the folder matches (``str`` of each).
        classes: The reader's class order.
        splits: One :class:`SplitCheck` per split of :data:`CHECK_SPLITS`.
        problems: Why training would fail (empty when it would not).
        top: What is at the top of the folder (filled when no layout matches).
        examples: How many file names a message shows.
    """

    root: Path
    requested: str
    dataset: str | None = None
    layout: str = ""
    matched: list[str] = field(default_factory=list)
    classes: tuple[str, ...] = ()
    splits: list[SplitCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    top: list[str] = field(default_factory=list)
    examples: int = 3

    @property
    def ok(self) -> bool:
        """True when training would find a readable train and valid split."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form of the report."""
        return {
            "root": str(self.root), "requested": self.requested, "dataset": self.dataset,
            "layout": self.layout, "matched": self.matched, "classes": list(self.classes),
            "splits": [vars(s) for s in self.splits], "problems": self.problems,
            "top": self.top, "ok": self.ok,
        }

    def table(self) -> str:
        """The report as text: header, a class x split table, notes and the verdict."""
        lines = [f"data check: {self.root}"]
        if self.dataset is None:
            lines += self._no_layout_lines()
        else:
            how = "chosen by --dataset auto" if self.requested == AUTO else "as asked"
            reader = READERS[self.dataset].__name__
            lines.append(f"reader: {reader} ({self.dataset}, {how}), layout: {self.layout or '?'}")
            if self.matched:
                lines.append("layouts found: " + "; ".join(self.matched))
            lines += [""] + self._count_lines() + [""] + self._split_notes()
        lines.append("")
        if self.ok:
            lines.append("result: OK, training can read train and valid")
        else:
            lines.append(f"result: FAILED, training would stop ({len(self.problems)} problem(s)):")
            lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def _no_layout_lines(self) -> list[str]:
        top = ", ".join(self.top) or "nothing"
        return ([f"no known layout found; at the top of the folder: {top}", "known layouts:"]
                + [f"  {lay}" for lay in LAYOUTS])

    def _count_lines(self) -> list[str]:
        names = [s.split for s in self.splits]
        width = max([len("undecodable")] + [len(c) for c in self.classes])
        rows = [f"{'class':<{width}}" + "".join(f"{n:>9}" for n in names)]

        def row(label: str, values: list[str]) -> str:
            return f"{label:<{width}}" + "".join(f"{v:>9}" for v in values)

        for c in self.classes:
            rows.append(row(c, [str(s.class_counts.get(c, 0)) if s.error is None else "-"
                                for s in self.splits]))
        rows.append(row("images", [str(s.images) if s.error is None else "-" for s in self.splits]))
        rows.append(row("undecodable", [str(len(s.undecodable)) if s.error is None else "-"
                                        for s in self.splits]))
        return rows

    def _split_notes(self) -> list[str]:
        notes = []
        for s in self.splits:
            if s.error is not None:
                kind = "absent" if s.split == "test" else "cannot be read"
                notes.append(f"{s.split}: {kind}: {s.error}")
                continue
            if s.holdout is not None:
                h = s.holdout
                notes.append(f"{s.split}: seeded stratified hold-out of {h['source']} "
                             f"({100 * h['fraction']:.0f}%, seed {h['seed']}: {h['train']} train / "
                             f"{h['valid']} valid)")
            if s.undecodable:
                shown = ", ".join(p for p, _ in s.undecodable[: self.examples])
                more = f" and {len(s.undecodable) - self.examples} more" \
                    if len(s.undecodable) > self.examples else ""
                notes.append(f"{s.split}: {len(s.undecodable)} undecodable image(s): {shown}{more}")
            empty = [c for c, n in s.class_counts.items() if n == 0]
            if empty and s.split != "test":
                notes.append(f"{s.split}: no images of {', '.join(empty)}")
        return notes


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_split(root: Path, dataset: str, split: str, decode: bool,
                 options: dict[str, Any]) -> tuple[SplitCheck, Any]:
    """Read one split as a run would (decoding every image when ``decode``)."""
    try:
        ds = build_dataset(dataset, root, split, skip_bad_images=decode or None, **options)
    except (DatasetError, FileNotFoundError, PermissionError) as exc:
        return SplitCheck(split, error=_first_line(exc)), None
    result = SplitCheck(split, images=len(ds), class_counts=ds.class_counts(),
                        undecodable=list(ds.skipped), holdout=ds.holdout)
    return result, ds


def _choose(report: DataCheck, dataset: str) -> str | None:
    """The reader key to check with, or ``None`` (recorded as a problem)."""
    if dataset.strip().lower() == AUTO:
        layout: Layout | None = choose_layout(report.root)
        if layout is None:
            report.top = top_entries(report.root)
            report.problems.append(f"no known dataset layout in {report.root}")
            return None
        return layout.dataset
    try:
        return dataset_key(dataset)
    except ValueError as exc:
        report.problems.append(str(exc))
        return None


def check_data(
    root: str | os.PathLike[str],
    dataset: str = AUTO,
    *,
    decode: bool = True,
    num_classes: int | None = None,
    examples: int = 3,
) -> DataCheck:
    """Check a dataset folder the way training will read it.

    Args:
        root: The dataset folder.
        dataset: A dataset name or ``auto`` (the reader chosen from the layout).
        decode: Decode every image to find undecodable ones (a full pass over the files);
            ``False`` only checks lists, labels and that listed files exist.
        num_classes: AffectNet's class count (7 or 8; default 8).
        examples: How many file names each message shows.

    Returns:
        The report; :attr:`DataCheck.ok` is False when training would fail.
    """
    report = DataCheck(root=Path(root).expanduser(), requested=dataset, examples=examples)
    if not report.root.exists():
        report.problems.append(f"{report.root} does not exist")
        return report
    report.matched = [str(lay) for lay in detect_layouts(report.root)]
    key = _choose(report, dataset)
    if key is None:
        return report
    report.dataset = key
    options = {"num_classes": num_classes} if key == "affectnet" and num_classes else {}
    name = AUTO if dataset.strip().lower() == AUTO else dataset
    for split in CHECK_SPLITS:
        result, ds = _check_split(report.root, name, split, decode, options)
        report.splits.append(result)
        if ds is not None and not report.classes:
            report.classes, report.layout = tuple(ds.classes), ds.layout
        if split == "test":
            continue
        if result.error is not None:
            report.problems.append(f"{split}: {result.error}")
        elif result.undecodable:
            report.problems.append(
                f"{split}: {len(result.undecodable)} undecodable image(s) (first: "
                f"{result.undecodable[0][0]}); training stops at the first one unless "
                "data.skip_bad_images=true")
    return report
