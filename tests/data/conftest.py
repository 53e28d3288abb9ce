"""Tiny on-disk fixtures in each real dataset format (FERPlus, RAF-DB and AffectNet in their
official and mirror layouts, FER2013, labelled folders), written into pytest's ``tmp_path``.
Never real images."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from tests.helpers import shared_data_root as real_data_root


def write_image(path: Path, size: tuple[int, int] = (48, 48), mode: str = "L", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return arr


# votes: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
FERPLUS_ROWS: list[tuple[list[int], int | None]] = [
    ([10, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0),  # clear neutral
    ([0, 9, 1, 0, 0, 0, 0, 0, 0, 0], 1),  # happiness (single vote removed)
    ([3, 1, 1, 1, 1, 1, 1, 1, 0, 0], 0),  # singles removed -> 3 of 3 neutral
    ([4, 0, 0, 1, 3, 2, 0, 0, 0, 0], None),  # 4 of 9: no majority -> dropped
    ([0, 0, 0, 0, 0, 0, 0, 0, 8, 2], None),  # unknown wins -> dropped
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], None),  # not a face -> dropped
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], None),  # no votes -> dropped
    ([0, 0, 6, 0, 0, 0, 0, 0, 4, 0], 2),  # surprise 6 of 10
    ([0, 0, 0, 7, 2, 0, 0, 0, 0, 1], 3),  # sadness (NF single removed)
    ([0, 0, 0, 0, 8, 2, 0, 0, 0, 0], 4),  # anger
    ([0, 0, 0, 0, 0, 6, 0, 0, 3, 0], 5),  # disgust
    ([0, 0, 0, 0, 0, 0, 5, 4, 0, 0], 6),  # fear 5 of 9
    ([0, 0, 0, 0, 0, 0, 0, 10, 0, 0], 7),  # contempt
]


def make_ferplus_generated(root: Path, splits: tuple[str, ...] = ("FER2013Train", "FER2013Valid"),
                           header: bool = False) -> dict[str, list[int]]:
    """Microsoft's generated layout; returns the expected kept labels per split folder."""
    expected: dict[str, list[int]] = {}
    k = 0
    for split in splits:
        d = root / split
        d.mkdir(parents=True, exist_ok=True)
        lines = []
        if header:
            lines.append("Image name,face box,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF")
        exp = []
        for votes, label in FERPLUS_ROWS:
            name = f"fer{k:07d}.png"
            write_image(d / name, seed=k)
            lines.append(f'{name},"(0, 0, 48, 48)",' + ",".join(map(str, votes)))
            if label is not None:
                exp.append(label)
            k += 1
        (d / "label.csv").write_text("\n".join(lines) + "\n")
        expected[split] = exp
    return expected


def make_ferplus_raw(root: Path) -> dict[str, list[int]]:
    """The raw pair fer2013.csv + fer2013new.csv (one block of FERPLUS_ROWS per Usage)."""
    root.mkdir(parents=True, exist_ok=True)
    old = [["emotion", "pixels", "Usage"]]
    new = [["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger",
            "disgust", "fear", "contempt", "unknown", "NF"]]
    expected: dict[str, list[int]] = {}
    k = 0
    rng = np.random.default_rng(0)
    for usage in ("Training", "PublicTest", "PrivateTest"):
        exp = []
        for votes, label in FERPLUS_ROWS:
            pixels = " ".join(map(str, rng.integers(0, 256, 48 * 48)))
            old.append(["0", pixels, usage])
            new.append([usage, f"fer{k:07d}.png", *map(str, votes)])
            if label is not None:
                exp.append(label)
            k += 1
        # a row Microsoft did not generate (empty image name) is skipped
        old.append(["3", " ".join(["0"] * 2304), usage])
        new.append([usage, "", "10", "0", "0", "0", "0", "0", "0", "0", "0", "0"])
        expected[usage] = exp
    for name, rows in (("fer2013.csv", old), ("fer2013new.csv", new)):
        with open(root / name, "w", newline="") as f:
            csv.writer(f).writerows(rows)
    return expected


def make_rafdb(root: Path, n_train_per_class: int = 5, n_test_per_class: int = 2) -> dict[str, list[int]]:
    """RAF-DB basic layout under ``root/basic``; returns file labels (1..7) per split."""
    basic = root / "basic"
    img = basic / "Image" / "aligned"
    (basic / "EmoLabel").mkdir(parents=True, exist_ok=True)
    lines = []
    labels: dict[str, list[int]] = {"train": [], "test": []}
    for split, n in (("train", n_train_per_class), ("test", n_test_per_class)):
        k = 1
        for rep in range(n):
            for lab in range(1, 8):
                name = f"{split}_{k:05d}.jpg"
                write_image(img / f"{split}_{k:05d}_aligned.jpg", size=(100, 100), mode="RGB", seed=k)
                lines.append(f"{name} {lab}")
                labels[split].append(lab)
                k += 1
    (basic / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return labels


AFFECTNET_HEADER = ("subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,"
                    "expression,valence,arousal")


def make_affectnet(root: Path, expressions: dict[str, list[int]] | None = None) -> dict[str, list[int]]:
    """AffectNet layout; images 120x100 RGB with face box (10, 20, 60, 50)."""
    if expressions is None:
        expressions = {"training": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 0],
                       "validation": [0, 1, 2, 3, 4, 5, 6, 7, 10]}
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    k = 0
    for fname, exprs in expressions.items():
        lines = [AFFECTNET_HEADER]
        for e in exprs:
            rel = f"{k % 3 + 1}/{k:040x}.jpg"
            write_image(root / "Manually_Annotated_Images" / rel, size=(120, 100), mode="RGB", seed=k)
            lines.append(f"{rel},10,20,60,50,1.0;2.0;3.0;4.0,{e},0.1,-0.2")
            k += 1
        (lists / f"{fname}.csv").write_text("\n".join(lines) + "\n")
    return expressions


def make_rafdb_mirror(official: Path, root: Path, labels_csv: bool = False,
                      dataset_dir: bool = True) -> Path:
    """The public RAF-DB mirror of an official fixture (same images, copied):
    ``root/DATASET/train|test/<code>/<name>_aligned.jpg``, optionally with
    ``train_labels.csv``/``test_labels.csv`` beside ``DATASET/``."""
    base = root / "DATASET" if dataset_dir else root
    rows: dict[str, list[str]] = {"train": ["image,label"], "test": ["image,label"]}
    listing = (official / "basic" / "EmoLabel" / "list_patition_label.txt").read_text().split("\n")
    for line in filter(None, listing):
        name, code = line.split()
        split = name.split("_")[0]
        image = name.replace(".jpg", "_aligned.jpg")
        dest = base / split / code / image
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(official / "basic" / "Image" / "aligned" / image, dest)
        rows[split].append(f"{image},{code}")
    if labels_csv:
        for split, lines in rows.items():
            (root / f"{split}_labels.csv").write_text("\n".join(lines) + "\n")
    return root


def make_affectnet_mirror(root: Path, counts: dict[str, dict[str, int]], by_code: bool) -> Path:
    """An AffectNet mirror: ``root/<split folder>/<class name or code>/*.jpg`` with
    ``counts[split folder][class name]`` images each (class names from AffectNet's order)."""
    from sqsnet.data.labels import AFFECTNET_CLASSES_8

    k = 0
    for split, per_class in counts.items():
        for name, n in per_class.items():
            folder = str(AFFECTNET_CLASSES_8.index(name)) if by_code else name
            for i in range(n):
                write_image(root / split / folder / f"{name}_{i:03d}.jpg", size=(60, 50), mode="RGB",
                            seed=k)
                k += 1
    return root


def make_fer2013_csv(path: Path, rows: list[tuple[int, str]]) -> None:
    """fer2013.csv with (emotion, Usage) rows and random 48x48 pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for e, usage in rows:
            w.writerow([e, " ".join(map(str, rng.integers(0, 256, 2304))), usage])


def make_folder(root: Path, counts: dict[str, int], ext: str = ".png") -> None:
    k = 0
    for cls, n in counts.items():
        for i in range(n):
            write_image(root / cls / f"img{i:03d}{ext}", size=(40, 40), mode="L" if k % 2 else "RGB", seed=k)
            k += 1


@pytest.fixture
def ferplus_root(tmp_path: Path) -> tuple[Path, dict[str, list[int]]]:
    root = tmp_path / "ferplus"
    return root, make_ferplus_generated(root)


@pytest.fixture
def fx() -> SimpleNamespace:
    """The fixture builders above (tests use them through this fixture, not by importing
    ``conftest``, which may clash with other conftest modules)."""
    return SimpleNamespace(
        AFFECTNET_HEADER=AFFECTNET_HEADER,
        make_affectnet=make_affectnet,
        make_affectnet_mirror=make_affectnet_mirror,
        make_rafdb_mirror=make_rafdb_mirror,
        make_fer2013_csv=make_fer2013_csv,
        make_ferplus_generated=make_ferplus_generated,
        make_ferplus_raw=make_ferplus_raw,
        make_folder=make_folder,
        make_rafdb=make_rafdb,
        real_data_root=real_data_root,
        write_image=write_image,
    )
