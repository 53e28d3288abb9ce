"""Class orders, synonyms and cross-dataset class mapping."""

from __future__ import annotations

import pytest
import torch

from sqsnet.data.labels import (
    AFFECTNET_CLASSES_7,
    AFFECTNET_CLASSES_8,
    CANONICAL_CLASSES,
    FER2013_CLASSES,
    FERPLUS_CLASSES,
    RAFDB_CLASSES,
    canonical_name,
    canonical_names,
    class_mapping,
    dataset_classes,
    normalize_dataset_name,
)


def test_documented_orders() -> None:
    assert CANONICAL_CLASSES == ("neutral", "happiness", "surprise", "sadness", "anger", "disgust",
                                 "fear", "contempt")
    assert FERPLUS_CLASSES == CANONICAL_CLASSES
    assert RAFDB_CLASSES == ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
    assert AFFECTNET_CLASSES_8 == ("neutral", "happiness", "sadness", "surprise", "fear", "disgust",
                                   "anger", "contempt")
    assert AFFECTNET_CLASSES_7 == AFFECTNET_CLASSES_8[:7]
    assert FER2013_CLASSES == ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
    for order in (RAFDB_CLASSES, AFFECTNET_CLASSES_8, FER2013_CLASSES):
        assert set(order) <= set(CANONICAL_CLASSES)


@pytest.mark.parametrize("name,expected", [
    ("Happy", "happiness"), (" angry ", "anger"), ("SAD", "sadness"), ("surprised", "surprise"),
    ("fearful", "fear"), ("scared", "fear"), ("disgusted", "disgust"), ("contemptuous", "contempt"),
    ("neutral", "neutral"), ("fear", "fear"),
])
def test_synonyms(name: str, expected: str) -> None:
    assert canonical_name(name) == expected


def test_unknown_name_is_clear() -> None:
    with pytest.raises(ValueError, match="Unknown expression name 'calm'.*Canonical names"):
        canonical_name("calm")
    with pytest.raises(ValueError, match="refusing to merge"):
        canonical_names(["happy", "Happiness"])


def test_dataset_classes() -> None:
    assert dataset_classes("FERPlus") == FERPLUS_CLASSES
    assert dataset_classes("RAF-DB") == RAFDB_CLASSES
    assert dataset_classes("affectnet") == AFFECTNET_CLASSES_8
    assert dataset_classes("affectnet", num_classes=7) == AFFECTNET_CLASSES_7
    assert dataset_classes("AffectNet_7") == AFFECTNET_CLASSES_7
    assert dataset_classes("fer2013") == FER2013_CLASSES
    assert normalize_dataset_name("Raf_DB") == "rafdb"
    with pytest.raises(ValueError, match="Unknown dataset 'mnist'"):
        dataset_classes("mnist")


def test_class_mapping_ferplus_to_rafdb() -> None:
    m = class_mapping(FERPLUS_CLASSES, RAFDB_CLASSES)
    assert m.source_only == ("contempt",) and m.target_only == ()
    assert set(m.shared) == set(RAFDB_CLASSES)
    # FERPlus happiness (1) is RAF-DB index 3; contempt (7) has no target
    assert m.map_labels([1, 7, 0]).tolist() == [3, -1, 6]
    logits = torch.arange(16, dtype=torch.float32).view(2, 8)
    out = m.map_logits(logits)
    assert out.shape == (2, 7)
    for t, name in enumerate(RAFDB_CLASSES):
        assert torch.equal(out[:, t], logits[:, FERPLUS_CLASSES.index(name)])


def test_class_mapping_rafdb_to_ferplus_keeps_unpredictable_class_visible() -> None:
    m = class_mapping(RAFDB_CLASSES, FERPLUS_CLASSES)
    assert m.target_only == ("contempt",) and m.source_only == ()
    out = m.map_logits(torch.zeros(3, 7))
    assert torch.isinf(out[:, 7]).all() and (out[:, :7] == 0).all()
    assert m.target_supported([0, 7]).tolist() == [True, False]
    assert class_mapping(FERPLUS_CLASSES, ["Neutral", "happy"]).is_identity is False
