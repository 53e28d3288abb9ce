"""The data of a run: datasets with their transforms, the class-aware sampler, the loaders.

Training batches are class-aware (every class present has >= 2 images, so in-batch quads
exist; ``data.sampler=random`` drops that guarantee, ``balanced`` draws classes uniformly),
or, in the paper's four-pass mode, each item is a ``(A, P, N1, N2)`` quad. Augmentation is a
function of ``(seed, epoch, index)`` (:class:`~sqsnet.data.SeededItems`), so it does not
depend on the DataLoader workers or on where a run resumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from sqsnet.config import Config, ConfigError
from sqsnet.data import (
    ClassAwareBatchSampler,
    MixupCutmix,
    QuadDataset,
    SeededItems,
    StratifiedSubset,
    build_dataset,
    build_train_transform,
    model_eval_transform,
)
from sqsnet.training.distributed import Ranks

__all__ = ["build_datasets", "holdout_of", "split_record", "TrainData", "build_train_data",
           "is_four_pass"]


def build_datasets(cfg: Config, data_root: str | None = None) -> tuple[Dataset, Dataset]:
    """Training and validation datasets with the configured transforms.

    Args:
        cfg: The run's config (``data.*``, ``model.img_size``, ``model.crop_pct``).
        data_root: Dataset root (overrides ``data.root``; ``SQSNET_DATA`` otherwise).

    Returns:
        ``(train, val)``; ``train.classes`` defines the model's class order.
    """
    d = cfg.data
    size = cfg.model.img_size
    train_tf = build_train_transform(size, random_erasing=d.random_erasing,
                                     **dict(d.train_transform))
    eval_tf = model_eval_transform(cfg.model)
    kwargs: dict[str, Any] = {}
    if d.dataset == "ferplus":
        kwargs.update(cache=d.cache)
    if d.dataset == "affectnet":
        kwargs.update(num_classes=d.num_classes_affectnet)
    train_kwargs = dict(kwargs)
    if d.dataset == "ferplus":
        train_kwargs["label_mode"] = d.label_mode
    root = data_root if data_root is not None else d.root
    train_set = build_dataset(d.dataset, root, d.train_split, transform=train_tf,
                              skip_bad_images=d.skip_bad_images, **train_kwargs)
    val_set = build_dataset(d.dataset, root, d.val_split, transform=eval_tf,
                            skip_bad_images=d.skip_bad_images, **kwargs)
    if d.train_fraction < 1.0:
        train_set = StratifiedSubset(train_set, d.train_fraction, seed=cfg.train.seed)
    return train_set, val_set


def holdout_of(dataset: Any) -> dict[str, Any] | None:
    """The seeded stratified hold-out a split was cut from (a reader's ``holdout``), if any.

    Looks through wrappers (:class:`~sqsnet.data.StratifiedSubset`, ``Subset``) to the reader.
    """
    while dataset is not None:
        if getattr(dataset, "holdout", None) is not None:
            return dict(dataset.holdout)
        dataset = getattr(dataset, "dataset", None)
    return None


def split_record(train_set: Dataset, val_set: Dataset) -> dict[str, Any]:
    """What a run trained and selected on: images per split and any hold-out.

    Returns:
        ``{"train": {"images": N, "holdout": ...|None}, "valid": {...}}``.
    """
    return {name: {"images": len(ds), "holdout": holdout_of(ds)}  # type: ignore[arg-type]
            for name, ds in (("train", train_set), ("valid", val_set))}


def is_four_pass(cfg: Config) -> bool:
    """Whether the run trains in the paper's four-pass mode (``model.sqs.quads=dataset``)."""
    return cfg.model.use_sqs and cfg.model.sqs.quads == "dataset"


@dataclass
class TrainData:
    """The loaders of a run and what drives them.

    Attributes:
        train_loader: Class-aware batches (quads in four-pass mode) of this rank.
        val_loader: This rank's strided share of the validation split.
        batch_sampler: Sets the epoch and the resume position of the training batches.
        items: The seeded training items (``set_epoch`` reaches a quad dataset).
        steps_per_epoch: Batches per epoch on this rank (``train.max_steps_per_epoch`` caps it).
        mixer: Mixup/CutMix when configured (never in four-pass mode).
        four_pass: Whether the items are ``(A, P, N1, N2)`` quads.
    """

    train_loader: DataLoader
    val_loader: DataLoader
    batch_sampler: ClassAwareBatchSampler
    items: SeededItems
    steps_per_epoch: int
    mixer: MixupCutmix | None
    four_pass: bool

    def set_epoch(self, epoch: int, first_step: int = 0) -> None:
        """Make the next iteration yield ``epoch``'s batches from ``first_step`` on."""
        self.batch_sampler.set_epoch(epoch)
        self.items.set_epoch(epoch)
        if first_step:
            self.batch_sampler.set_position(first_step)


def build_train_data(
    cfg: Config, train_set: Dataset, val_set: Dataset, ranks: Ranks, device: torch.device,
) -> TrainData:
    """Sampler, loaders and mixer of a run.

    Raises:
        ConfigError: When the training split has too few images for one batch.
    """
    d, t = cfg.data, cfg.train
    four_pass = is_four_pass(cfg)
    if four_pass:
        loader_set: Dataset = QuadDataset(train_set, negatives=cfg.model.sqs.negatives,
                                          seed=t.seed)
        sampler_args: dict[str, Any] = {"min_per_class": 1}
    else:
        # the same class-aware batches with or without SQS, so ablations differ only in
        # the model; "random" drops the >= 2 images per class guarantee
        sampler_args = {"min_per_class": 1 if d.sampler == "random" else 2,
                        "classes_per_batch": d.classes_per_batch}
        loader_set = train_set
    try:
        batch_sampler = ClassAwareBatchSampler(
            list(train_set.targets), d.batch_size, balanced=d.sampler == "balanced",  # type: ignore[attr-defined]
            seed=t.seed, num_replicas=ranks.world, rank=ranks.rank, **sampler_args)
    except ValueError as err:  # too few images for one batch: the user's data or settings
        raise ConfigError(f"{d.dataset} {d.train_split} split ({len(train_set)} images): "  # type: ignore[arg-type]
                          f"{err} (data.batch_size={d.batch_size})") from None
    # the loaders get private generators so that starting an iterator never advances the
    # global RNG the training step uses (mixing, drop-path)
    items = SeededItems(loader_set, seed=t.seed)
    pin = device.type == "cuda"
    # train workers restart every epoch so the epoch set on the datasets reaches them
    train_loader = DataLoader(items, batch_sampler=batch_sampler, num_workers=d.num_workers,
                              pin_memory=pin, generator=torch.Generator().manual_seed(t.seed))
    val_share = (Subset(val_set, list(range(ranks.rank, len(val_set), ranks.world)))  # type: ignore[arg-type]
                 if ranks.world > 1 else val_set)
    val_loader = DataLoader(val_share, batch_size=max(d.batch_size, 128), shuffle=False,
                            num_workers=d.num_workers, pin_memory=pin,
                            persistent_workers=d.num_workers > 0,
                            generator=torch.Generator().manual_seed(t.seed))
    steps = batch_sampler.batches_per_epoch
    if t.max_steps_per_epoch > 0:
        steps = min(steps, t.max_steps_per_epoch)
    mixer = None
    if (d.mixup_alpha > 0 or d.cutmix_alpha > 0) and d.mix_prob > 0 and not four_pass:
        mixer = MixupCutmix(mixup_alpha=d.mixup_alpha, cutmix_alpha=d.cutmix_alpha,
                            prob=d.mix_prob, num_classes=cfg.model.num_classes)
    return TrainData(train_loader, val_loader, batch_sampler, items, steps, mixer, four_pass)
