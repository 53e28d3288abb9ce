"""Spatial Quad-Similarity math against hand-computed values, and the quad miner."""

from __future__ import annotations

import math

import pytest
import torch

from sqsnet.models.sqs import (
    QuadMiner,
    SpatialQuadSimilarity,
    spatial_similarity,
    sqs_hinge_map,
    sqs_loss,
)


def _map(vectors: list[list[float]]) -> torch.Tensor:
    """1 x C x 1 x L map from L location vectors of C channels."""
    return torch.tensor(vectors, dtype=torch.float32).T.reshape(1, len(vectors[0]), 1, -1)


def test_identical_anchor_positive_gives_one_everywhere() -> None:
    a = torch.randn(3, 16, 5, 4)
    for norm in ("l2", "none"):
        s = spatial_similarity(a, a.clone(), tau=1.0, normalize=norm)
        assert s.shape == (3, 5, 4)
        torch.testing.assert_close(s, torch.ones(3, 5, 4))


def test_known_distances_unnormalised() -> None:
    # location 0: ||(0,0)-(1,0)||^2 = 1; location 1: ||(1,1)-(1,3)||^2 = 4
    a = _map([[0.0, 0.0], [1.0, 1.0]])
    b = _map([[1.0, 0.0], [1.0, 3.0]])
    s = spatial_similarity(a, b, tau=2.0, normalize="none")
    expected = torch.tensor([[[math.exp(-1 / 2), math.exp(-4 / 2)]]])
    torch.testing.assert_close(s, expected)


def test_l2_normalisation_uses_unit_vectors() -> None:
    # (3,0) and (0,5) normalise to orthogonal unit vectors: distance^2 = 2
    a = _map([[3.0, 0.0]])
    b = _map([[0.0, 5.0]])
    s = spatial_similarity(a, b, tau=1.0, normalize="l2")
    torch.testing.assert_close(s, torch.tensor([[[math.exp(-2.0)]]]))
    # opposite directions: distance^2 = 4 whatever the lengths
    s2 = spatial_similarity(_map([[2.0, 0.0]]), _map([[-7.0, 0.0]]), 1.0, "l2")
    torch.testing.assert_close(s2, torch.tensor([[[math.exp(-4.0)]]]))


def test_refinement_and_loss_hand_computed() -> None:
    # one location, C = 2, no normalisation, tau = 1
    a = _map([[1.0, 0.0]])
    p = _map([[1.0, 0.0]])  # d2 = 0 -> S_AP = 1
    n1 = _map([[0.0, 0.0]])  # d2 = 1 -> S_AN1 = e^-1
    n2 = _map([[1.0, 2.0]])  # d2 = 4 -> S_AN2 = e^-4
    sqs = SpatialQuadSimilarity(tau=1.0, alpha=1.0, beta=0.5, gamma=0.5, normalize="none")
    out = sqs(a, p, n1, n2)
    s_an1, s_an2 = math.exp(-1), math.exp(-4)
    r = 1.0 * 1.0 - 0.5 * (s_an1 + s_an2)
    torch.testing.assert_close(out.s_ap, torch.tensor([[[1.0]]]))
    torch.testing.assert_close(out.s_an1, torch.tensor([[[s_an1]]]))
    torch.testing.assert_close(out.s_an2, torch.tensor([[[s_an2]]]))
    torch.testing.assert_close(out.r, torch.tensor([[[r]]]))
    torch.testing.assert_close(out.a_hat, a * (1 + 0.5 * r))
    margin = 0.5
    loss = sqs_loss(out.s_ap, out.s_an1, out.s_an2, margin)
    expected = max(0.0, margin + s_an1 - 1.0) + max(0.0, margin + s_an2 - 1.0)
    assert float(loss) == pytest.approx(expected, abs=1e-6)


def test_loss_is_mean_over_locations() -> None:
    s_ap = torch.tensor([[[0.9, 0.2]]])
    s_an1 = torch.tensor([[[0.1, 0.6]]])
    s_an2 = torch.tensor([[[0.3, 0.1]]])
    # loc0: relu(.5+.1-.9)=0 + relu(.5+.3-.9)=0 ; loc1: relu(.5+.6-.2)=.9 + relu(.5+.1-.2)=.4
    hinge = sqs_hinge_map(s_ap, s_an1, s_an2, 0.5)
    torch.testing.assert_close(hinge, torch.tensor([[[0.0, 1.3]]]))
    assert float(sqs_loss(s_ap, s_an1, s_an2, 0.5)) == pytest.approx(0.65)


def test_hinge_zero_when_positive_exceeds_negatives_by_margin() -> None:
    s_an1 = torch.rand(2, 3, 3) * 0.3
    s_an2 = torch.rand(2, 3, 3) * 0.3
    s_ap = torch.maximum(s_an1, s_an2) + 0.5 + 1e-4
    assert float(sqs_loss(s_ap, s_an1, s_an2, 0.5)) == 0.0
    # and positive as soon as one negative comes within the margin
    s_an1[0, 0, 0] = s_ap[0, 0, 0] - 0.25
    assert float(sqs_loss(s_ap, s_an1, s_an2, 0.5)) > 0.0


def test_learnable_coefficients_are_parameters() -> None:
    fixed = SpatialQuadSimilarity(learnable=False)
    learn = SpatialQuadSimilarity(learnable=True)
    assert len(list(fixed.parameters())) == 0
    assert {n for n, _ in learn.named_parameters()} == {"alpha", "beta", "gamma"}
    a, p, n1, n2 = (torch.randn(2, 8, 3, 3) for _ in range(4))
    out = learn(a, p, n1, n2)
    (out.a_hat.sum() + out.r.sum()).backward()
    assert all(param.grad is not None for param in learn.parameters())


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="tau"):
        SpatialQuadSimilarity(tau=0.0)
    with pytest.raises(ValueError, match="normalize"):
        SpatialQuadSimilarity(normalize="cosine")
    with pytest.raises(ValueError, match="negatives"):
        QuadMiner("random")


@pytest.mark.parametrize("mode", ["same_class", "distinct_classes"])
def test_miner_quads_satisfy_label_constraints(mode: str) -> None:
    gen = torch.Generator().manual_seed(1)
    miner = QuadMiner(mode, generator=gen)
    for trial in range(50):
        n = int(torch.randint(1, 40, (1,), generator=gen))
        k = int(torch.randint(1, 6, (1,), generator=gen))
        labels = torch.randint(0, k, (n,), generator=gen)
        quads = miner(labels)
        assert len(quads) + quads.excluded == n
        a, p, n1, n2 = quads.anchor, quads.positive, quads.negative1, quads.negative2
        assert torch.all(labels[a] == labels[p])
        assert torch.all(a != p)
        assert torch.all(labels[n1] != labels[a]) and torch.all(labels[n2] != labels[a])
        assert torch.all(n1 != n2)
        if mode == "same_class":
            assert torch.all(labels[n1] == labels[n2])
        else:
            assert torch.all(labels[n1] != labels[n2])
        # every image that could be an anchor is one; the rest are counted as excluded
        counts = torch.bincount(labels, minlength=k)
        for i in range(n):
            c = int(labels[i])
            others = [j for j in range(k) if j != c and counts[j] >= (2 if mode == "same_class" else 1)]
            possible = counts[c] >= 2 and len(others) >= (1 if mode == "same_class" else 2)
            assert (i in a.tolist()) == bool(possible)


def _loop_miner(labels: torch.Tensor, rand: torch.Tensor, negatives: str) -> list[tuple]:
    """The miner's picks written as the plain per-anchor loop its docstring describes (the
    implementation before it was vectorised), given the same ``B x 5`` uniforms."""
    members = {int(c): torch.nonzero(labels == c).view(-1) for c in torch.unique(labels)}
    out = []
    for i in range(labels.numel()):
        c, r = int(labels[i]), rand[i]
        same = members[c]
        if same.numel() < 2:
            continue
        others = same[same != i]
        pos = int(others[int(r[0] * others.numel()) % others.numel()])
        if negatives == "same_class":
            classes = [k for k, v in members.items() if k != c and v.numel() >= 2]
            if not classes:
                continue
            group = members[classes[int(r[1] * len(classes)) % len(classes)]]
            first = int(r[2] * group.numel()) % group.numel()
            second = (first + 1 + int(r[3] * (group.numel() - 1))) % group.numel()
            negs = int(group[first]), int(group[second])
        else:
            classes = [k for k in members if k != c]
            if len(classes) < 2:
                continue
            k1 = int(r[1] * len(classes)) % len(classes)
            k2 = (k1 + 1 + int(r[2] * (len(classes) - 1))) % len(classes)
            g1, g2 = members[classes[k1]], members[classes[k2]]
            negs = (int(g1[int(r[3] * g1.numel()) % g1.numel()]),
                    int(g2[int(r[4] * g2.numel()) % g2.numel()]))
        out.append((i, pos, *negs))
    return out


@pytest.mark.parametrize("mode", ["same_class", "distinct_classes"])
def test_vectorised_miner_picks_what_the_per_anchor_loop_picks(mode: str) -> None:
    """Same uniforms, same quads: the vectorised miner changes speed, not training runs."""
    gen = torch.Generator().manual_seed(11)
    for trial in range(300):
        n = int(torch.randint(0, 70, (1,), generator=gen))
        # sparse class ids (gaps, a class 7 with no class 6) and unbalanced counts
        ids = torch.tensor([0, 2, 3, 5, 7])[: int(torch.randint(1, 6, (1,), generator=gen))]
        labels = ids[torch.randint(0, ids.numel(), (n,), generator=gen)]
        if trial % 7 == 0 and n:
            labels[: n // 2] = ids[0]  # one dominant class
        seed = 1000 + trial
        quads = QuadMiner(mode, generator=torch.Generator().manual_seed(seed))(labels)
        rand = torch.rand(n, 5, generator=torch.Generator().manual_seed(seed))
        expected = _loop_miner(labels, rand, mode)
        got = list(zip(*(getattr(quads, f).tolist() for f in
                         ("anchor", "positive", "negative1", "negative2"))))
        assert got == expected, (trial, labels.tolist())
        assert quads.excluded == n - len(expected)


def test_miner_without_valid_quads() -> None:
    miner = QuadMiner()
    quads = miner(torch.tensor([3, 3, 3, 3]))  # one class only
    assert len(quads) == 0 and quads.excluded == 4
    quads = miner(torch.tensor([0, 1, 2, 3]))  # no positives
    assert len(quads) == 0 and quads.excluded == 4
    quads = miner(torch.tensor([], dtype=torch.long))
    assert len(quads) == 0 and quads.excluded == 0


def test_miner_is_deterministic_under_a_seed() -> None:
    labels = torch.randint(0, 4, (32,), generator=torch.Generator().manual_seed(3))
    q1 = QuadMiner(generator=torch.Generator().manual_seed(7))(labels)
    q2 = QuadMiner(generator=torch.Generator().manual_seed(7))(labels)
    for f in ("anchor", "positive", "negative1", "negative2"):
        assert torch.equal(getattr(q1, f), getattr(q2, f))
