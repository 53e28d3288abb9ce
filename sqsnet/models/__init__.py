"""SQSNet models: backbones, fusion, Spatial Quad-Similarity, heads and the assembled net."""

from sqsnet.models.backbones import (
    Backbone,
    PretrainedWeightsError,
    UnknownModelError,
    create_backbone,
)
from sqsnet.models.fer_cnn import FerVGG
from sqsnet.models.fusion import ConcatFusion, CrossAttentionFusion, Projection, create_fusion
from sqsnet.models.heads import ClassifierHead
from sqsnet.models.losses import classification_loss, distillation_loss
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
    "FerVGG",
    "ConcatFusion",
    "CrossAttentionFusion",
    "Projection",
    "create_fusion",
    "ClassifierHead",
    "classification_loss",
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
