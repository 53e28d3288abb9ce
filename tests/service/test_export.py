"""``sqsnet export-space``: the Space folder's files, pins, licence and refusals.

That the exported folder boots in a fresh virtualenv and answers an example click in a
browser is tested in ``tests/app/test_space_export.py`` (slow).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
from pathlib import Path

import pytest

from sqsnet import cli
from sqsnet.checkpoint import DEFAULT_CHECKPOINT
from sqsnet.service.export import (
    APP_DIR,
    PACKAGE_DIR,
    ExportError,
    export_space,
    pinned_requirements,
)


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_space(tmp_path_factory.mktemp("export") / "space").path


def front_matter(readme: str) -> dict[str, str]:
    assert readme.startswith("---\n")
    block = readme.split("---\n")[1]
    return dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)


def test_the_folder_holds_app_package_weights_and_examples(space):
    assert (space / "app.py").read_bytes() == (APP_DIR / "app.py").read_bytes()
    for name in ("__init__.py", "components.py", "predict_tab.py", "charts.py"):
        assert (space / "space_ui" / name).is_file(), name
    weights = space / "sqsnet" / "weights" / "default.safetensors"
    assert weights.stat().st_size == DEFAULT_CHECKPOINT.stat().st_size
    assert (space / "sqsnet" / "weights" / "MODEL_CARD.md").is_file()
    examples = space / "sqsnet" / "examples"
    assert "Apache License" in (examples / "LICENSE").read_text()
    assert len(list((examples / "faces").glob("*.jpg"))) >= 16
    assert (space / "sqsnet" / "service" / "export.py").is_file()  # the whole package
    assert not list(space.rglob("__pycache__")) and not list(space.rglob("*.pyi"))
    images = [p for ext in ("*.png", "*.jpg", "*.jpeg", "*.bmp") for p in space.rglob(ext)]
    assert all(examples in p.parents for p in images)  # the only images: the licensed examples
    assert "*.safetensors filter=lfs" in (space / ".gitattributes").read_text()
    assert oct(space.stat().st_mode & 0o777) == "0o755"


def test_readme_front_matter_and_licence(space):
    readme = (space / "README.md").read_text()
    front = front_matter(readme)
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    assert front["sdk_version"] == metadata.version("gradio")
    for key in ("title", "emoji", "license", "python_version"):
        assert key in front
    assert "Apache License 2.0" in readme and "muxspace" in readme
    assert "No FERPlus/FER2013 image is included" in readme


def test_requirements_are_pinned_to_what_is_installed(space):
    lines = [ln for ln in (space / "requirements.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]
    assert lines == pinned_requirements()
    pins = dict(ln.split("==") for ln in lines)
    for name in ("torch", "torchvision", "timm", "gradio", "gradio_client", "pillow"):
        assert pins[name] == metadata.version(name).split("+")[0], name
    assert all("==" in ln for ln in lines)  # no ranges, no git URL, no local wheel


def test_refusals_are_one_line(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match="not empty .pass --force"):
        export_space(full)
    with pytest.raises(ExportError, match="cannot export into"):
        export_space(PACKAGE_DIR / "space")
    with pytest.raises(ExportError, match="no app.py and space_ui"):
        export_space(tmp_path / "x", app_dir=tmp_path)
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_cli_exports_and_force_replaces(tmp_path, capsys):
    target = tmp_path / "space"
    target.mkdir()
    (target / "old.txt").write_text("stale")
    assert cli.main(["export-space", str(target)]) == 2
    assert "sqsnet: error: " in capsys.readouterr().err
    assert cli.main(["export-space", str(target), "--force"]) == 0
    assert "wrote the Space to" in capsys.readouterr().out
    assert not (target / "old.txt").exists() and (target / "app.py").is_file()
    assert os.access(target / "app.py", os.R_OK)
