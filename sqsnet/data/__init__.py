"""Data layer: dataset readers, class orders, the data root, class-aware sampling, transforms.

See :mod:`sqsnet.data.labels` (class orders, synonyms, dataset names, cross-dataset mapping),
:mod:`sqsnet.data.readers` (one module per reader: FERPlus, RAF-DB, AffectNet, FER2013,
labelled folders), :mod:`sqsnet.data.factory` (``build_dataset``),
:mod:`sqsnet.data.layouts` (which layout a folder holds), :mod:`sqsnet.data.root` (the one
data-root lookup), :mod:`sqsnet.data.sampling` (class-aware batch sampler, four-pass quad
dataset) and :mod:`sqsnet.data.transforms` (train/eval transforms, TTA, Mixup/CutMix glue).
"""

from .factory import build_dataset
from .labels import (
    AFFECTNET_CLASSES_7,
    AFFECTNET_CLASSES_8,
    CANONICAL_CLASSES,
    FER2013_CLASSES,
    FERPLUS_CLASSES,
    RAFDB_CLASSES,
    SYNONYMS,
    ClassMapping,
    canonical_name,
    canonical_names,
    class_mapping,
    dataset_classes,
    normalize_dataset_name,
)
from .readers import (
    FER2013,
    IMAGE_EXTENSIONS,
    RAFDB,
    AffectNet,
    DatasetError,
    FERDataset,
    FERPlus,
    LabelledFolder,
    ferplus_majority,
)
from .root import find_data_root, resolve_data_root
from .sampling import ClassAwareBatchSampler, QuadDataset, SeededItems, StratifiedSubset
from .transforms import (
    TTA_VIEW_NAMES,
    CenterCropFraction,
    EnsureChannels,
    MixupCutmix,
    build_eval_transform,
    model_eval_transform,
    build_train_transform,
    tta_views,
)

__all__ = [
    # labels
    "CANONICAL_CLASSES",
    "FERPLUS_CLASSES",
    "RAFDB_CLASSES",
    "AFFECTNET_CLASSES_8",
    "AFFECTNET_CLASSES_7",
    "FER2013_CLASSES",
    "SYNONYMS",
    "canonical_name",
    "canonical_names",
    "normalize_dataset_name",
    "dataset_classes",
    "ClassMapping",
    "class_mapping",
    # datasets
    "DatasetError",
    "FERDataset",
    "FERPlus",
    "RAFDB",
    "AffectNet",
    "FER2013",
    "LabelledFolder",
    "IMAGE_EXTENSIONS",
    "ferplus_majority",
    "build_dataset",
    "resolve_data_root",
    "find_data_root",
    # sampling
    "ClassAwareBatchSampler",
    "QuadDataset",
    "SeededItems",
    "StratifiedSubset",
    # transforms
    "CenterCropFraction",
    "EnsureChannels",
    "build_train_transform",
    "build_eval_transform",
    "model_eval_transform",
    "TTA_VIEW_NAMES",
    "tta_views",
    "MixupCutmix",
]
