"""SQSNet models: backbones, fusion, Spatial Quad-Similarity, heads and the assembled net."""

from sqsnet.models.backbones import (
    Backbone,
    PretrainedWeightsError,
    UnknownModelError,
    create_backbone,
)
from sqsnet.models.batch import TrainBatch, hard_labels
from sqsnet.models.fer_cnn import FerVGG
from sqsnet.models.fusion import ConcatFusion, CrossAttentionFusion, Projection, create_fusion
from sqsnet.models.heads import ClassifierHead
from sqsnet.models.losses import (
    LOSS_TERMS,
    TOTAL_LOSS,
    classification_loss,
    distillation_loss,
    smooth_targets,
)
from sqsnet.models.sqs import (
    QuadMiner,
    Quads,
    SpatialQuadSimilarity,
    SQSOutput,
    spatial_similarity,
    sqs_hinge_map,
    sqs_loss,
)
from sqsnet.models.sqsnet import SQSNet, TrainOutput, create_model

__all__ = [
    "Backbone",
    "PretrainedWeightsError",
    "UnknownModelError",
    "create_backbone",
    "TrainBatch",
    "hard_labels",
    "FerVGG",
    "ConcatFusion",
    "CrossAttentionFusion",
    "Projection",
    "create_fusion",
    "ClassifierHead",
    "LOSS_TERMS",
    "TOTAL_LOSS",
    "classification_loss",
    "smooth_targets",
    "distillation_loss",
    "QuadMiner",
    "Quads",
    "SpatialQuadSimilarity",
    "SQSOutput",
    "spatial_similarity",
    "sqs_hinge_map",
    "sqs_loss",
    "SQSNet",
    "TrainOutput",
    "create_model",
]
