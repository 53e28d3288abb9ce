"""SQSNet lab: hybrid CNN + Swin facial expression recognition with Spatial Quad-Similarity."""

from sqsnet.checkpoint import load_model
from sqsnet.config import Config, load_config
from sqsnet.errors import SQSNetError
from sqsnet.models import SQSNet, create_model

__version__ = "0.1.0"

__all__ = ["Config", "SQSNet", "SQSNetError", "create_model", "load_config", "load_model",
           "__version__"]
