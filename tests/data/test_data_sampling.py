"""ClassAwareBatchSampler and QuadDataset."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sqsnet.data.sampling import ClassAwareBatchSampler, QuadDataset, SeededItems

# FERPlus-like imbalance, scaled down; class 7 has a single image (cannot be sampled)
COUNTS = [300, 250, 110, 100, 70, 5, 18, 3, 1]


def make_targets(counts=COUNTS, seed: int = 0) -> np.ndarray:
    t = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    return np.random.default_rng(seed).permutation(t)


def check_batches(batches, targets, batch_size, m) -> None:
    for b in batches:
        counts = np.bincount(targets[b])
        assert ((counts == 0) | (counts >= m)).all(), counts
        assert len(b) == batch_size


@pytest.mark.parametrize("batch_size,m,cpb", [(64, 2, 0), (63, 2, 0), (32, 3, 0), (64, 2, 4), (17, 2, 8), (8, 2, 0)])
def test_every_class_in_a_batch_has_min_images_and_coverage(batch_size, m, cpb) -> None:
    t = make_targets()
    s = ClassAwareBatchSampler(t, batch_size, min_per_class=m, classes_per_batch=cpb, seed=3)
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == len(s) == s.batches_per_epoch
        check_batches(batches, t, batch_size, m)
        flat = np.concatenate(batches)
        assert len(np.unique(flat)) == len(flat)  # each index at most once per epoch
        usable = sum(n for n in COUNTS if n >= m)
        assert usable - len(flat) < batch_size  # covers the epoch as nearly as possible
        assert 8 not in set(t[flat].tolist()) or COUNTS[8] >= m
        assert np.mean([len(np.unique(t[b])) for b in batches]) >= 2  # several classes per batch


def test_rare_classes_and_excluded_singleton() -> None:
    t = make_targets()
    s = ClassAwareBatchSampler(t, 16, seed=0)
    assert s.excluded_classes == (8,)
    seen = np.concatenate(list(s))
    labels = set(t[seen].tolist())
    assert {5, 6, 7} <= labels and 8 not in labels


def test_drop_last_false_covers_everything_usable() -> None:
    t = make_targets()
    s = ClassAwareBatchSampler(t, 64, drop_last=False, seed=1)
    batches = list(s)
    assert len(batches) == len(s)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == sorted(np.flatnonzero(t != 8).tolist())
    for b in batches:
        c = np.bincount(t[b])
        assert ((c == 0) | (c >= 2)).all()


def test_deterministic_under_seed_and_epoch() -> None:
    t = make_targets()
    a = ClassAwareBatchSampler(t, 32, seed=7)
    b = ClassAwareBatchSampler(t, 32, seed=7)
    assert list(a) == list(b)
    a.set_epoch(1)
    b.set_epoch(1)
    e1 = list(a)
    assert e1 == list(b)
    a.set_epoch(0)
    assert list(a) != e1
    assert list(ClassAwareBatchSampler(t, 32, seed=8)) != list(b)


def test_distributed_disjoint_and_equal_length() -> None:
    t = make_targets()
    world = 3
    samplers = [ClassAwareBatchSampler(t, 16, seed=5, num_replicas=world, rank=r) for r in range(world)]
    for s in samplers:
        s.set_epoch(2)
    per_rank = [list(s) for s in samplers]
    assert len({len(p) for p in per_rank}) == 1 and len(per_rank[0]) == len(samplers[0])
    flat = [i for p in per_rank for b in p for i in b]
    assert len(flat) == len(set(flat))
    single = ClassAwareBatchSampler(t, 16, seed=5)
    single.set_epoch(2)
    assert sorted(flat) == sorted(i for b in single.epoch_batches(2)[: len(per_rank[0]) * world] for i in b)
    # drop_last=False pads by wrapping around so ranks still agree on the count
    padded = [list(ClassAwareBatchSampler(t, 50, drop_last=False, num_replicas=4, rank=r)) for r in range(4)]
    assert len({len(p) for p in padded}) == 1


def test_resume_mid_epoch_replays_remaining_batches() -> None:
    t = make_targets()
    s = ClassAwareBatchSampler(t, 32, seed=11)
    s.set_epoch(4)
    full = list(s)
    s.set_epoch(4)
    it = iter(s)
    consumed = list(itertools.islice(it, 5))
    assert consumed == full[:5]
    state = s.state_dict()
    assert state["epoch"] == 4 and state["batches_done"] == 5
    fresh = ClassAwareBatchSampler(t, 32, seed=11)
    fresh.load_state_dict(state)
    fresh.set_epoch(4)  # the training loop calling set_epoch for the same epoch keeps the position
    assert len(fresh) == len(full) - 5
    assert list(fresh) == full[5:]
    assert len(fresh) == len(full)  # the next epoch is full again
    # explicit count from the training loop (DataLoader prefetch makes the sampler run ahead)
    fresh2 = ClassAwareBatchSampler(t, 32, seed=11)
    fresh2.load_state_dict(s.state_dict(batches_done=3))
    assert list(fresh2) == full[3:]


def test_balanced_draws_classes_uniformly() -> None:
    t = make_targets()
    s = ClassAwareBatchSampler(t, 32, balanced=True, classes_per_batch=4, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == (len(t) - 1) // 32
    per_class = np.zeros(9)
    for b in batches:
        c = np.bincount(t[b], minlength=9)
        assert (c > 0).sum() == 4 and set(c[c > 0].tolist()) == {8}
        per_class += c > 0
    assert per_class[8] == 0
    assert per_class[:8].min() > 0.5 * per_class[:8].mean()  # the 3-image class appears as often


def test_dataloader_integration_and_validation() -> None:
    t = make_targets()
    ds = torch.utils.data.TensorDataset(torch.arange(len(t)), torch.as_tensor(t))
    loader = DataLoader(ds, batch_sampler=ClassAwareBatchSampler(t, 16, seed=0))
    idx, y = next(iter(loader))
    assert idx.shape == (16,) and torch.equal(y, torch.as_tensor(t)[idx])
    assert len(loader) == len(loader.batch_sampler)
    with pytest.raises(ValueError, match="classes_per_batch"):
        ClassAwareBatchSampler(t, 8, classes_per_batch=5)
    with pytest.raises(ValueError, match="rank"):
        ClassAwareBatchSampler(t, 8, num_replicas=2, rank=2)


class _Toy:
    """A minimal reader: item j is (j, targets[j])."""

    classes = ("a", "b", "c", "d")

    def __init__(self, targets):
        self.targets = list(targets)

    def __getitem__(self, j):
        return j, self.targets[j]

    def __len__(self):
        return len(self.targets)


@pytest.mark.parametrize("negatives", ["same_class", "distinct_classes"])
def test_quad_dataset_constraints(negatives: str) -> None:
    targets = [0] * 5 + [1] * 4 + [2] * 3 + [3] * 2
    q = QuadDataset(_Toy(targets), negatives=negatives, seed=1)
    assert len(q) == len(targets)
    for i in range(len(q)):
        (a, p, n1, n2), (ya, yp, y1, y2) = q[i]
        assert a == i and p != a and n1 != n2
        assert (ya, yp, y1, y2) == tuple(targets[j] for j in (a, p, n1, n2))
        assert ya == yp and y1 != ya and y2 != ya
        if negatives == "same_class":
            assert y1 == y2
        else:
            assert y1 != y2


def test_quad_dataset_deterministic_per_epoch() -> None:
    targets = [0] * 10 + [1] * 10 + [2] * 10
    q = QuadDataset(_Toy(targets), seed=3)
    e0 = [q.quad_indices(i) for i in range(30)]
    assert e0 == [QuadDataset(_Toy(targets), seed=3).quad_indices(i) for i in range(30)]
    q.set_epoch(1)
    assert [q.quad_indices(i) for i in range(30)] != e0
    with pytest.raises(ValueError, match="at least 3 classes"):
        QuadDataset(_Toy([0, 0, 1, 1]), negatives="distinct_classes")


class _Noisy(_Toy):
    """Item j is (a random draw from each global RNG, targets[j])."""

    def __getitem__(self, j):
        import random

        draws = (float(torch.rand(())), float(np.random.rand()), random.random())
        return draws, self.targets[j]


def test_seeded_items_depend_on_seed_epoch_index_only() -> None:
    targets = [0, 1, 2, 3] * 4
    s = SeededItems(_Noisy(targets), seed=5)
    assert s.targets == targets and s.classes == _Toy.classes and len(s) == 16
    forward = [s[i][0] for i in range(16)]
    torch.manual_seed(123)  # the caller's RNG state does not matter...
    before = torch.get_rng_state()
    backward = [s[i][0] for i in reversed(range(16))][::-1]
    assert forward == backward  # ...nor does the order items are loaded in
    assert torch.equal(torch.get_rng_state(), before)  # and it is left untouched
    assert len(set(forward)) == 16
    s.set_epoch(1)
    assert all(s[i][0] != forward[i] for i in range(16))
    assert SeededItems(_Noisy(targets), seed=6)[0][0] != forward[0]
    # the same items through DataLoader workers (the epoch reaches fresh workers)
    loader = DataLoader(s, batch_size=4, num_workers=2)
    via_workers = [tuple(float(x) for x in row) for b in loader for row in zip(*b[0])]
    s_epoch1 = [s[i][0] for i in range(16)]
    np.testing.assert_array_equal(np.array(via_workers), np.array(s_epoch1))


def test_seeded_items_forward_the_epoch_to_quads() -> None:
    targets = [0] * 10 + [1] * 10 + [2] * 10
    q = QuadDataset(_Toy(targets), seed=3)
    s = SeededItems(q, seed=3)
    e0 = [s[i][0] for i in range(30)]
    s.set_epoch(1)
    assert q.epoch == 1 and [s[i][0] for i in range(30)] != e0


def test_stratified_subset_keeps_class_proportions() -> None:
    from types import SimpleNamespace

    from sqsnet.data import StratifiedSubset

    targets = [0] * 60 + [1] * 30 + [2] * 10
    base = SimpleNamespace(targets=targets, classes=("a", "b", "c"),
                           samples=[f"img{i}" for i in range(100)], transform=None)
    sub = StratifiedSubset(base, 0.5, seed=3)
    assert len(sub) == 50
    counts = [sub.targets.count(c) for c in range(3)]
    assert counts == [30, 15, 5]
    assert sub.samples == [f"img{i}" for i in sub.indices]
    assert StratifiedSubset(base, 0.5, seed=3).indices == sub.indices
    assert StratifiedSubset(base, 0.5, seed=4).indices != sub.indices
    assert len(StratifiedSubset(base, 1.0)) == 100
    with pytest.raises(ValueError, match=r"train fraction must be in \(0, 1\]"):
        StratifiedSubset(base, 0.0)
