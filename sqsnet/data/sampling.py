"""Class-aware batch sampling and the paper's four-pass quad dataset.

SQS mines its quads inside the batch by default (DESIGN 2.5): every image is forwarded
once and plays anchor for itself and positive/negative for the others. That needs
batches in which every class present has at least two images (an anchor always has a
positive; with two such classes it also has two same-class negatives).
:class:`ClassAwareBatchSampler` builds such batches; :class:`QuadDataset` is the paper's
alternative where the dataset itself returns ``(A, P, N1, N2)``.

How :class:`ClassAwareBatchSampler` builds an epoch (``balanced=False``): each class's
indices are shuffled (seeded by ``(seed, epoch)``) into a queue; a batch is filled with
*runs* of consecutive queue items of one class, the class of each run drawn with
probability proportional to the images it has left (so class frequencies follow the
data). A run is ``min_per_class`` images long (``classes_per_batch=0``: as many classes as
the data give) or about ``batch_size / classes_per_batch``; in the latter case the batch's
``classes_per_batch`` runs are drawn by systematic sampling proportional to the images each
class has left, so all classes deplete at the same pace and a batch holds *up to*
``classes_per_batch`` classes (a big class may fill two slots). For exactly
``classes_per_batch`` distinct classes per batch use ``balanced=True``. Run lengths are
adjusted so that no class ever has fewer than ``min_per_class`` images in a batch and no
queue is left with a remainder smaller than ``min_per_class`` (a run takes such a
remainder along instead of leaving a singleton behind). Every index is used at most once
per epoch; only the last ``len(dataset) mod batch_size`` images (``drop_last=True``) and
classes with fewer than ``min_per_class`` images in total are left out. In rare corner
cases near the end of an epoch where no exact fill exists, a batch is topped up with
already-seen images of a class it contains; this is logged at debug level.

With ``balanced=True`` classes are drawn uniformly with replacement, ``classes_per_batch``
classes per batch (default: as many as fit, at most all), each with an equal share of
the batch; images of a class cycle through a per-class shuffled stream, so rare classes
repeat within the epoch. The epoch has as many batches as without balancing.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset, Sampler

__all__ = ["ClassAwareBatchSampler", "QuadDataset", "SeededItems", "StratifiedSubset"]

logger = logging.getLogger(__name__)

_SEED_MASK = (1 << 63) - 1


def _as_label_array(targets: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(targets, torch.Tensor):
        arr = targets.detach().cpu().numpy()
    else:
        arr = np.asarray(targets)
    if arr.ndim != 1:
        raise ValueError(f"targets must be a 1-D sequence of class indices, got shape {arr.shape}.")
    if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0):
        raise ValueError("targets must be non-negative integer class indices.")
    return arr.astype(np.int64, copy=False)


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & _SEED_MASK for k in keys])


class ClassAwareBatchSampler(Sampler[list[int]]):
    """Batches in which every class present has at least ``min_per_class`` images.

    Use as ``DataLoader(dataset, batch_sampler=sampler)``; call :meth:`set_epoch` before
    every epoch. Batches are a deterministic function of ``(seed, epoch)`` and the
    targets; with ``num_replicas > 1`` every rank computes the same epoch and takes a
    disjoint, strided share of its batches, all ranks the same number.

    Resuming mid-epoch: save :meth:`state_dict` (pass the number of batches the training
    loop has actually consumed: a ``DataLoader`` with workers prefetches ahead of it),
    restore with :meth:`load_state_dict` and the next iteration replays exactly the
    remaining batches of that epoch.

    Args:
        targets: Hard label of every dataset item, ``[N]``.
        batch_size: Images per batch (per rank).
        min_per_class: Minimum images of each class present in a batch (>= 1; 2 gives
            every anchor a positive).
        classes_per_batch: Class slots per batch, each of about
            ``batch_size / classes_per_batch`` images (exactly that many distinct classes
            with ``balanced=True``, up to that many otherwise); 0 = as many as fit (runs
            of ``min_per_class``). Needs ``classes_per_batch * min_per_class <= batch_size``.
        balanced: Draw classes uniformly with replacement (AffectNet); otherwise each index
            is used at most once per epoch.
        seed: Base seed.
        drop_last: Drop the last incomplete batch (``balanced``: always full batches, the
            count rounds up instead of down when False).
        num_replicas: Number of distributed ranks.
        rank: This rank, ``0 <= rank < num_replicas``.

    Attributes:
        epoch: Current epoch.
        excluded_classes: Classes with fewer than ``min_per_class`` images (never sampled).
        batches_per_epoch: Batches per full epoch on this rank.
    """

    def __init__(
        self,
        targets: Sequence[int] | np.ndarray | torch.Tensor,
        batch_size: int,
        min_per_class: int = 2,
        classes_per_batch: int = 0,
        balanced: bool = False,
        seed: int = 0,
        drop_last: bool = True,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.targets = _as_label_array(targets)
        self.batch_size = int(batch_size)
        self.min_per_class = int(min_per_class)
        self.classes_per_batch = int(classes_per_batch)
        self.balanced = bool(balanced)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        m, b = self.min_per_class, self.batch_size
        if m < 1:
            raise ValueError(f"min_per_class must be >= 1, got {m}.")
        if b < m:
            raise ValueError(f"batch_size ({b}) must be >= min_per_class ({m}).")
        if self.classes_per_batch < 0 or self.classes_per_batch * m > b:
            raise ValueError(
                f"classes_per_batch={self.classes_per_batch} x min_per_class={m} does not fit in "
                f"batch_size={b}; use at most {b // m} classes per batch (or 0 = as many as fit)."
            )
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"Need 0 <= rank < num_replicas, got rank={rank}, num_replicas={num_replicas}.")

        counts = np.bincount(self.targets, minlength=1) if self.targets.size else np.zeros(0, np.int64)
        self.excluded_classes: tuple[int, ...] = tuple(
            int(c) for c in np.flatnonzero((counts > 0) & (counts < m))
        )
        if self.excluded_classes:
            logger.warning(
                "ClassAwareBatchSampler: class(es) %s have fewer than min_per_class=%d images and "
                "are never sampled.", list(self.excluded_classes), m,
            )
        self._classes = np.flatnonzero(counts >= m)
        self._class_indices = [np.flatnonzero(self.targets == c) for c in self._classes]
        self.num_usable = int(sum(len(ix) for ix in self._class_indices))
        if len(self._classes) == 0:
            raise ValueError(f"No class has at least min_per_class={m} images; nothing to sample.")
        if len(self._classes) == 1:
            logger.warning("ClassAwareBatchSampler: only one class; batches have no negatives.")
        n = self.num_usable
        self.total_batches = n // b if self.drop_last else math.ceil(n / b)
        r = self.num_replicas
        self.batches_per_epoch = (
            self.total_batches // r if self.drop_last else math.ceil(self.total_batches / r)
        )
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"{n} usable images make no full batch of {b} per rank for {r} rank(s); lower "
                f"batch_size or pass drop_last=False."
            )
        self.epoch = 0
        self._start = 0  # batches of the current epoch to skip (resume)
        self._pos = 0  # batches yielded so far in the current epoch
        self._cache: tuple[int, list[list[int]]] | None = None

    # ----------------------------------------------------------------- public control
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches the next iteration yields.

        A resume position set by :meth:`load_state_dict`/:meth:`set_position` is kept when
        ``epoch`` equals the current epoch and cleared otherwise.
        """
        epoch = int(epoch)
        if epoch != self.epoch:
            self._start = 0
            self._pos = 0
        self.epoch = epoch

    def set_position(self, batches_done: int) -> None:
        """Make the next iteration skip the first ``batches_done`` batches of this epoch."""
        batches_done = int(batches_done)
        if not 0 <= batches_done <= self.batches_per_epoch:
            raise ValueError(f"batches_done must be in [0, {self.batches_per_epoch}], got {batches_done}.")
        self._start = batches_done
        self._pos = batches_done

    def state_dict(self, batches_done: int | None = None) -> dict[str, Any]:
        """Return the resume state.

        Args:
            batches_done: Batches of the current epoch the training loop has consumed;
                ``None`` uses the number this sampler has yielded (exact only without
                DataLoader prefetching).

        Returns:
            ``{"epoch", "batches_done", "seed", "batch_size", "num_replicas", "rank", "num_items"}``.
        """
        return {
            "epoch": self.epoch,
            "batches_done": self._pos if batches_done is None else int(batches_done),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "num_replicas": self.num_replicas,
            "rank": self.rank,
            "num_items": int(self.targets.size),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next iteration replays the remaining batches."""
        for key in ("seed", "batch_size", "num_replicas", "num_items"):
            if key in state and state[key] != getattr(self, key if key != "num_items" else "_num_items"):
                logger.warning(
                    "ClassAwareBatchSampler.load_state_dict: %s differs (saved %r, now %r); the "
                    "resumed batches will not match the interrupted run.", key, state[key],
                    getattr(self, key if key != "num_items" else "_num_items"),
                )
        self.epoch = int(state["epoch"])
        self.set_position(int(state.get("batches_done", 0)))

    @property
    def _num_items(self) -> int:
        return int(self.targets.size)

    def __len__(self) -> int:
        """Batches the next iteration yields (``batches_per_epoch`` minus a resume position)."""
        return self.batches_per_epoch - self._start

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.rank_batches(self.epoch)
        start = self._start
        self._start = 0
        self._pos = start
        for batch in batches[start:]:
            self._pos += 1
            yield batch

    # ------------------------------------------------------------------ batch building
    def rank_batches(self, epoch: int) -> list[list[int]]:
        """All batches this rank gets in ``epoch`` (ignores the resume position)."""
        batches = self.epoch_batches(epoch)
        r, k = self.num_replicas, self.batches_per_epoch
        if r == 1:
            return batches[:k]
        if self.drop_last:
            return batches[: k * r][self.rank :: r]
        padded = list(batches)
        while len(padded) < k * r:
            padded.extend(batches[: k * r - len(padded)])
        return padded[self.rank :: r]

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """All batches of ``epoch`` across ranks (deterministic in ``(seed, epoch)``)."""
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        rng = _rng(self.seed, epoch)
        if self.balanced:
            batches = self._balanced_epoch(rng)
        else:
            batches = self._regular_epoch(rng)
        self._cache = (epoch, batches)
        return batches

    def _run_length(self, q: int, s: int, lo: int, target: int, strict_q: bool, strict_s: bool) -> int:
        """Best run length (closest to ``target``) or 0 if none is valid."""
        m = self.min_per_class
        hi = min(q, s)
        if hi < lo:
            return 0

        def ok(length: int) -> bool:
            return (
                lo <= length <= hi
                and (not strict_s or length == s or length <= s - m)
                and (not strict_q or length == q or length <= q - m)
            )

        upper = hi
        if strict_s:
            upper = min(upper, s - m)
        if strict_q:
            upper = min(upper, q - m)
        cands = [p for p in (s, q) if ok(p)]
        if upper >= lo:
            cands.append(min(max(target, lo), upper))
        if not cands:
            return 0
        return min(cands, key=lambda x: (abs(x - target), x))

    def _regular_epoch(self, rng: np.random.Generator) -> list[list[int]]:
        m, b = self.min_per_class, self.batch_size
        k = len(self._classes)
        queues = [rng.permutation(ix) for ix in self._class_indices]
        ptr = [0] * k
        rem = [len(q) for q in queues]
        p = self.classes_per_batch
        target = max(m, math.ceil(b / p)) if p > 0 else m
        sizes = [b] * (self.num_usable // b)
        if not self.drop_last and self.num_usable % b:
            sizes.append(self.num_usable % b)
        uniforms = rng.random(2 * self.num_usable // m + 16)
        u_pos = 0
        batches: list[list[int]] = []
        topped_up = 0
        for size in sizes:
            batch: list[int] = []
            present: dict[int, int] = {}
            s = size
            plan = self._plan_classes(rng, rem, p) if p > 0 else []
            while s > 0:
                if u_pos >= len(uniforms):
                    uniforms = rng.random(len(uniforms))
                    u_pos = 0
                u = uniforms[u_pos]
                u_pos += 1
                while plan and rem[plan[0]] == 0:
                    plan.pop(0)
                first = -1
                if plan:
                    first = plan.pop(0)
                else:
                    # weighted draw of a class by images left; with classes_per_batch, top
                    # up classes already in the batch once it has enough of them
                    eligible = [c for c in range(k) if rem[c] > 0]
                    if p > 0:
                        pref = [c for c in eligible if (c in present) == (len(present) >= p)]
                        eligible = pref or eligible
                    if eligible:
                        total = sum(rem[c] for c in eligible)
                        acc, r = 0.0, u * total
                        first = eligible[-1]
                        for c in eligible:
                            acc += rem[c]
                            if r < acc:
                                first = c
                                break
                if first >= 0:
                    order = [first] + [(first + j) % k for j in range(1, k)]
                else:
                    order = list(range(k))
                chosen, length = -1, 0
                for level in range(3):
                    for c in order:
                        if rem[c] == 0:
                            continue
                        lo = 1 if present.get(c, 0) >= m else m
                        length = self._run_length(rem[c], s, lo, target, level < 1, level < 2)
                        if length:
                            chosen = c
                            break
                    if chosen >= 0:
                        break
                if chosen >= 0:
                    batch.extend(int(i) for i in queues[chosen][ptr[chosen] : ptr[chosen] + length])
                    ptr[chosen] += length
                    rem[chosen] -= length
                    present[chosen] = present.get(chosen, 0) + length
                    s -= length
                    continue
                # no exact fill: top up with already-seen images of a class in the batch
                topped_up += 1
                if present:
                    c = max(present, key=lambda x: (present[x], -x))
                    need = s
                else:
                    c = int(np.argmax(rem)) if max(rem) > 0 else int(rng.integers(k))
                    need = min(s, max(m, rem[c]))
                fresh = min(rem[c], need)
                batch.extend(int(i) for i in queues[c][ptr[c] : ptr[c] + fresh])
                ptr[c] += fresh
                rem[c] -= fresh
                in_batch = set(batch)
                pool = [int(i) for i in self._class_indices[c] if int(i) not in in_batch]
                extra = need - fresh
                if extra:
                    if not pool:
                        pool = [int(i) for i in self._class_indices[c]]
                    batch.extend(int(i) for i in rng.choice(pool, extra, replace=len(pool) < extra))
                present[c] = present.get(c, 0) + need
                s -= need
            order_in_batch = rng.permutation(len(batch))
            batches.append([batch[i] for i in order_in_batch])
        if topped_up:
            logger.debug("ClassAwareBatchSampler: %d top-up(s) with repeated images this epoch.", topped_up)
        return batches

    @staticmethod
    def _plan_classes(rng: np.random.Generator, rem: list[int], p: int) -> list[int]:
        """Systematic PPS draw of ``p`` runs' classes, inclusion probability ~ images left.

        Keeps classes depleting at the same pace (a plain draw of ``p`` distinct classes
        would over-pick small classes, leaving the end of the epoch to a few big ones).
        """
        eligible = [c for c in range(len(rem)) if rem[c] > 0]
        if not eligible:
            return []
        eligible = [eligible[i] for i in rng.permutation(len(eligible))]
        total = float(sum(rem[c] for c in eligible))
        start = float(rng.random())
        plan: list[int] = []
        acc = 0.0
        j = 0
        for c in eligible:
            acc += rem[c] * p / total
            while j < p and start + j < acc:
                plan.append(c)
                j += 1
        return plan

    def _balanced_epoch(self, rng: np.random.Generator) -> list[list[int]]:
        m, b = self.min_per_class, self.batch_size
        k = len(self._classes)
        p = self.classes_per_batch if self.classes_per_batch > 0 else min(k, b // m)
        p = max(1, min(p, b // m))
        n_batches = self.num_usable // b if self.drop_last else math.ceil(self.num_usable / b)
        streams = [rng.permutation(ix) for ix in self._class_indices]
        ptr = [0] * k
        batches: list[list[int]] = []
        for _ in range(n_batches):
            if p <= k:
                chosen = [int(c) for c in rng.choice(k, p, replace=False)]
            else:
                chosen = list(range(k)) + [int(c) for c in rng.choice(k, p - k, replace=True)]
            shares = [b // p + (1 if j < b % p else 0) for j in range(p)]
            batch: list[int] = []
            for c, share in zip(chosen, shares):
                taken: list[int] = []
                in_batch = set(batch)
                guard = 0
                while len(taken) < share:
                    if ptr[c] >= len(streams[c]):
                        streams[c] = rng.permutation(self._class_indices[c])
                        ptr[c] = 0
                    idx = int(streams[c][ptr[c]])
                    ptr[c] += 1
                    guard += 1
                    # avoid repeating an image inside one batch unless the class is too small
                    if idx in in_batch and guard <= 2 * len(streams[c]):
                        continue
                    taken.append(idx)
                    in_batch.add(idx)
                batch.extend(taken)
            order_in_batch = rng.permutation(len(batch))
            batches.append([batch[i] for i in order_in_batch])
        return batches

    def __repr__(self) -> str:
        return (
            f"ClassAwareBatchSampler(batch_size={self.batch_size}, min_per_class={self.min_per_class}, "
            f"classes_per_batch={self.classes_per_batch}, balanced={self.balanced}, "
            f"batches_per_epoch={self.batches_per_epoch}, rank={self.rank}/{self.num_replicas})"
        )


class QuadDataset(Dataset):
    """The paper's four-pass mode: each item is an anchor with a positive and two negatives.

    Item ``i`` is ``((A, P, N1, N2), (yA, yP, yN1, yN2))``: ``A = dataset[i]``, ``P`` another
    image of A's class, and ``N1``, ``N2`` two different images of one other class
    (``negatives="same_class"``, the DESIGN's reading of the paper's Fig. 2) or of two
    different other classes (``"distinct_classes"``). The negative class(es) are drawn
    uniformly among the other classes. Labels are the hard labels from
    ``dataset.targets`` (ints). Choices are deterministic per ``(seed, epoch, index)``; call
    :meth:`set_epoch` each epoch (with persistent DataLoader workers the epoch set in the
    main process does not reach the workers: use non-persistent workers).

    Args:
        dataset: A reader with ``targets``; ``dataset[j]`` returns ``(image, label)``.
        negatives: ``same_class`` or ``distinct_classes``.
        seed: Base seed.

    Raises:
        ValueError: If there are fewer than 2 classes (3 for ``distinct_classes``).
    """

    def __init__(self, dataset: Any, negatives: str = "same_class", seed: int = 0) -> None:
        if negatives not in ("same_class", "distinct_classes"):
            raise ValueError(f"negatives must be 'same_class' or 'distinct_classes', got {negatives!r}.")
        self.dataset = dataset
        self.negatives = negatives
        self.seed = int(seed)
        self.epoch = 0
        self.targets: list[int] = [int(t) for t in dataset.targets]
        self.classes = getattr(dataset, "classes", None)
        labels = np.asarray(self.targets, dtype=np.int64)
        present = np.unique(labels)
        self._by_class = {int(c): np.flatnonzero(labels == c) for c in present}
        self._present = [int(c) for c in present]
        need = 3 if negatives == "distinct_classes" else 2
        if len(present) < need:
            raise ValueError(
                f"QuadDataset with negatives={negatives!r} needs at least {need} classes with "
                f"images, found {len(present)}."
            )
        singles = [c for c, ix in self._by_class.items() if len(ix) < 2]
        if singles:
            logger.warning(
                "QuadDataset: class(es) %s have a single image; their positive (or negative pair) "
                "repeats that image.", singles,
            )

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (changes which P, N1, N2 each anchor gets)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.targets)

    def quad_indices(self, index: int) -> tuple[int, int, int, int]:
        """Dataset indices ``(a, p, n1, n2)`` of item ``index`` in the current epoch."""
        rng = _rng(self.seed, self.epoch, index)
        ya = self.targets[index]
        same = self._by_class[ya]
        if len(same) > 1:
            j = int(rng.integers(len(same) - 1))
            own = int(np.searchsorted(same, index))
            pos = int(same[j] if j < own else same[j + 1])
        else:
            pos = index
        others = [c for c in self._present if c != ya]
        if self.negatives == "same_class":
            c = others[int(rng.integers(len(others)))]
            pool = self._by_class[c]
            if len(pool) > 1:
                a, b = rng.choice(len(pool), 2, replace=False)
                n1, n2 = int(pool[a]), int(pool[b])
            else:
                n1 = n2 = int(pool[0])
        else:
            c1, c2 = rng.choice(len(others), 2, replace=False)
            p1, p2 = self._by_class[others[int(c1)]], self._by_class[others[int(c2)]]
            n1, n2 = int(p1[rng.integers(len(p1))]), int(p2[rng.integers(len(p2))])
        return index, pos, n1, n2

    def __getitem__(self, index: int) -> tuple[tuple[Any, Any, Any, Any], tuple[int, int, int, int]]:
        """Return ``((A, P, N1, N2), (yA, yP, yN1, yN2))``.

        Returns:
            Four transformed images (e.g. tensors ``[3, H, W]`` each) and their hard labels.
        """
        ids = self.quad_indices(index)
        images = tuple(self.dataset[j][0] for j in ids)
        labels = tuple(self.targets[j] for j in ids)
        return images, labels  # type: ignore[return-value]


class StratifiedSubset(Dataset):
    """A seeded, stratified fraction of a dataset, for short runs such as ablation grids.

    Keeps the reader interface the trainer and sampler use (``classes``, ``targets``,
    ``samples``, ``transform``), with class proportions preserved.

    Args:
        dataset: A reader with ``targets`` and ``classes``.
        fraction: Share of the images to keep, in ``(0, 1]``.
        seed: Seed of the draw.

    Raises:
        ValueError: For a fraction outside ``(0, 1]``.
    """

    def __init__(self, dataset: Any, fraction: float, seed: int = 0) -> None:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"train fraction must be in (0, 1], got {fraction}")
        targets = _as_label_array(dataset.targets)
        indices = np.arange(len(targets))
        if fraction < 1.0:
            indices, _ = train_test_split(indices, train_size=fraction, stratify=targets,
                                          random_state=seed)
            indices = np.sort(indices)
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        self.classes = dataset.classes
        self.targets = [int(targets[i]) for i in self.indices]
        samples = getattr(dataset, "samples", None)
        self.samples = [samples[i] for i in self.indices] if samples is not None else None

    @property
    def transform(self) -> Any:
        """The wrapped reader's transform."""
        return self.dataset.transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]


class SeededItems(Dataset):
    """Makes each item's random augmentation a function of ``(seed, epoch, index)``.

    Before ``dataset[index]`` the global torch, NumPy and Python RNGs are seeded from
    ``(seed, epoch, index)``; afterwards the caller's RNG states are restored. So an item's
    augmented image does not depend on which DataLoader worker loads it, on how many workers
    there are, or on where in the epoch a run resumed, and loading in the main process
    (``num_workers=0``) leaves the training RNG untouched. Call :meth:`set_epoch` every epoch
    (it is forwarded to a wrapped :class:`QuadDataset`); with DataLoader workers use
    non-persistent workers so the new epoch reaches them.

    Args:
        dataset: Any map-style dataset (``targets``/``classes`` are passed through).
        seed: Base seed.
    """

    def __init__(self, dataset: Any, seed: int = 0) -> None:
        self.dataset = dataset
        self.seed = int(seed)
        self.epoch = 0

    @property
    def targets(self) -> Any:
        """The wrapped dataset's targets."""
        return self.dataset.targets

    @property
    def classes(self) -> Any:
        """The wrapped dataset's class names."""
        return getattr(self.dataset, "classes", None)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (and forward it to the wrapped dataset when it has epochs)."""
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        item_seed = int(_rng(self.seed, self.epoch, index).integers(1 << 62))
        torch_state = torch.get_rng_state()
        np_state = np.random.get_state()
        py_state = random.getstate()
        try:
            torch.manual_seed(item_seed)
            np.random.seed(item_seed % (1 << 32))
            random.seed(item_seed)
            return self.dataset[index]
        finally:
            torch.set_rng_state(torch_state)
            np.random.set_state(np_state)
            random.setstate(py_state)
