"""``sqsnet export-space DIR``: a self-contained Hugging Face Space folder.

The folder holds everything the Space needs and nothing from outside it:

* ``app.py`` and ``space_ui/`` (copied from the repository's ``apps/sqsnet_space``);
* ``sqsnet/``: a vendored copy of this package, with the bundled weights
  (``sqsnet/weights``) and the example images (``sqsnet/examples``, with their licence).
  ``app.py`` puts its own folder first on ``sys.path``, so this copy is the one imported;
* ``requirements.txt``: the package's dependencies and Gradio, each pinned (``==``) to the
  version installed where the export ran (where the tests ran);
* ``README.md``: the Space's front matter (``sdk_version`` = the installed Gradio,
  ``python_version`` = the running Python), what the app is, and the examples' licence;
* ``.gitattributes``: the weights and images go through Git LFS, as Hugging Face requires
  for files over 10 MB.

The folder is written beside ``DIR`` first and moved into place when complete, so an
interrupted export leaves no half-written Space. The app files come from the repository
(``apps/`` is not part of the installed package): run the export from a clone.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

from sqsnet.errors import SQSNetError

__all__ = [
    "APP_DIR",
    "APP_EXTRAS",
    "ExportError",
    "SpaceExport",
    "export_space",
    "pinned_requirements",
]

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The ``sqsnet`` package folder that gets vendored."""
APP_DIR = PACKAGE_DIR.parent / "apps" / "sqsnet_space"
"""The Space's app in the repository."""
APP_EXTRAS = ("gradio", "gradio_client")
"""The app's own dependencies (the package's ``app`` extra)."""
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi", ".*")
_LFS = ("*.safetensors", "*.jpg", "*.png")


class ExportError(SQSNetError, ValueError):
    """The Space cannot be exported (missing app files, a package not installed, ...)."""


@dataclass(frozen=True)
class SpaceExport:
    """What :func:`export_space` wrote.

    Attributes:
        path: The Space folder.
        requirements: The pinned requirement lines.
        size_bytes: Total size of the folder.
    """

    path: Path
    requirements: tuple[str, ...]
    size_bytes: int


def _installed(name: str) -> str:
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        raise ExportError(f"{name} is not installed here, so its version cannot be pinned "
                          "(pip install -e '.[app]' first)") from None
    return version.split("+", 1)[0]  # local labels (+cpu, +cu130) are not on the registry


def pinned_requirements(package: str = "sqsnet") -> list[str]:
    """The package's dependencies and the app's, pinned to the installed versions.

    Args:
        package: The distribution whose (non-extra) requirements are pinned.

    Returns:
        ``name==version`` lines, the package's dependencies in their declared order, then
        :data:`APP_EXTRAS`.

    Raises:
        ExportError: ``package`` or one of the dependencies is not installed.
    """
    try:
        declared = metadata.requires(package) or []
    except metadata.PackageNotFoundError:
        raise ExportError(f"{package} is not installed (pip install -e '.[app]')") from None
    names = [Requirement(r).name for r in declared
             if not (Requirement(r).marker and "extra" in str(Requirement(r).marker))]
    return [f"{n}=={_installed(n)}" for n in [*names, *APP_EXTRAS]]


def _readme(requirements: list[str]) -> str:
    gradio = _installed("gradio")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    pins = "\n".join(f"- `{r}`" for r in requirements)
    return f"""---
title: SQSNet lab
emoji: 🙂
colorFrom: indigo
colorTo: pink
sdk: gradio
sdk_version: {gradio}
python_version: "{python}"
app_file: app.py
pinned: false
license: mit
short_description: Facial expressions with SQSNet, Grad-CAM and SQS maps
---

# SQSNet lab

Facial expression recognition with **SQSNet**, a hybrid CNN + Swin network trained with
*Spatial Quad-Similarity* (SQS). **Predict**: every face of a photo, all eight class
probabilities and a Grad-CAM map (click an example to start). **SQS explorer**: the
per-location similarity maps of an anchor, a positive and two negatives. **Model**: the
model card.

This folder was written by `sqsnet export-space` and is complete: `app.py` and `space_ui/`
(the page), `sqsnet/` (the package, vendored, with the bundled model
`sqsnet/weights/default.safetensors` and its card `sqsnet/weights/MODEL_CARD.md`) and
`requirements.txt`. Push it to a Space as it is (`git lfs install` first: the weights are
over 10 MB, and `.gitattributes` sends them through Git LFS), or run it locally with
`pip install -r requirements.txt && python app.py`.

## Example images and their licence

The example faces and photos (`sqsnet/examples/`) come from the muxspace
*facial_expressions* collection (<https://github.com/muxspace/facial_expressions>),
distributed under the **Apache License 2.0** (`sqsnet/examples/LICENSE`);
`sqsnet/examples/README.md` states their source and `sqsnet/examples/manifest.json` names the
source file and class of each. No FERPlus/FER2013 image is included.

## The model and its data

The bundled model was trained on FERPlus (FER2013 images, for non-commercial research use;
FERPlus labels, MIT). Read its card (Model tab) for what it can and cannot do.

## Versions

`requirements.txt` pins the versions this Space was exported (and tested) with, Python
{python}:

{pins}
"""


def _check_target(out: Path, force: bool) -> None:
    for inside in (PACKAGE_DIR, APP_DIR):
        if out == inside or inside in out.parents:
            raise ExportError(f"{out}: cannot export into {inside}, which is copied")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"{out}: exists and is not empty (pass --force to replace it)")


def _write(tmp: Path, app_dir: Path, requirements: list[str]) -> None:
    shutil.copy2(app_dir / "app.py", tmp / "app.py")
    shutil.copytree(app_dir / "space_ui", tmp / "space_ui", ignore=_IGNORE)
    shutil.copytree(PACKAGE_DIR, tmp / "sqsnet", ignore=_IGNORE)
    (tmp / "requirements.txt").write_text(
        "# Pinned to the versions `sqsnet export-space` found installed (where the tests ran).\n"
        + "\n".join(requirements) + "\n", encoding="utf-8")
    (tmp / "README.md").write_text(_readme(requirements), encoding="utf-8")
    (tmp / ".gitattributes").write_text(
        "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in _LFS), encoding="utf-8")


def export_space(out_dir: str | os.PathLike[str], force: bool = False,
                 app_dir: str | os.PathLike[str] = APP_DIR) -> SpaceExport:
    """Write a self-contained Hugging Face Space folder (see the module docstring).

    Args:
        out_dir: The Space folder to create.
        force: Replace ``out_dir`` when it exists and is not empty.
        app_dir: The app's folder (``app.py`` and ``space_ui/``).

    Returns:
        What was written.

    Raises:
        ExportError: ``out_dir`` is not empty (without ``force``) or lies inside what is
            copied, the app files are missing, or a dependency is not installed.
    """
    out, app = Path(out_dir).expanduser().resolve(), Path(app_dir)
    if not (app / "app.py").is_file() or not (app / "space_ui").is_dir():
        raise ExportError(f"{app}: no app.py and space_ui/ here (export-space copies the "
                          "repository's apps/sqsnet_space: run it from a clone)")
    _check_target(out, force)
    requirements = pinned_requirements()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _write(tmp, app, requirements)
        tmp.chmod(0o755)  # mkdtemp makes it private; a Space folder is an ordinary one
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return SpaceExport(out, tuple(requirements), size)
