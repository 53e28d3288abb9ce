"""Training SQSNet: ``train(cfg)`` and the parts it orchestrates (no training framework).

Modules, in the order a run uses them:

* :mod:`~sqsnet.training.run` — :func:`train`: the run from config to run folder;
* :mod:`~sqsnet.training.distributed` — one process or ``torchrun`` ranks;
* :mod:`~sqsnet.training.data` — datasets, the class-aware sampler, the loaders;
* :mod:`~sqsnet.training.batch` — a loader item to the one batch type,
  :class:`~sqsnet.models.TrainBatch`;
* :mod:`~sqsnet.training.optim` — AdamW, the schedule, mixed precision, the weight average;
* :mod:`~sqsnet.training.epoch` — :func:`~sqsnet.training.epoch.train_one_epoch`;
* :mod:`~sqsnet.training.validate` — validation and the test report;
* :mod:`~sqsnet.training.state` — the resume state in ``last.safetensors``;
* :mod:`~sqsnet.training.records` — the run folder, ``metrics.csv``, ``summary.json``.
"""

from sqsnet.training.data import build_datasets
from sqsnet.training.epoch import TrainingDivergedError
from sqsnet.training.records import METRIC_FIELDS, RunExistsError
from sqsnet.training.run import RunResult, train

__all__ = ["train", "RunResult", "TrainingDivergedError", "RunExistsError", "build_datasets",
           "METRIC_FIELDS"]
