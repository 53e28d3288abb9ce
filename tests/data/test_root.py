"""The one data-root lookup: explicit root, SQSNET_DATA (sub-folder or itself), the usual place."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sqsnet.data import DatasetError, find_data_root, resolve_data_root
from sqsnet.data.root import default_data_dir, usual_data_dirs


def test_resolve_data_root(fx: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx.make_ferplus_generated(tmp_path / "ferplus")
    monkeypatch.delenv("SQSNET_DATA", raising=False)
    with pytest.raises(DatasetError, match="SQSNET_DATA"):
        resolve_data_root(None, "ferplus")
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path))
    assert resolve_data_root(None, "ferplus") == tmp_path / "ferplus"
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path / "ferplus"))
    assert resolve_data_root(None, "FERPlus") == tmp_path / "ferplus"
    assert resolve_data_root("/x/y", "ferplus") == Path("/x/y")


def test_find_data_root_needs_the_layout(fx: SimpleNamespace, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook lookup shares the CLI's candidates but keeps only folders that look
    like the dataset; the folder-name table is the one in labels."""
    fx.make_rafdb(tmp_path / "RAF-DB")
    (tmp_path / "ferplus").mkdir()  # an empty folder with the right name is not FERPlus
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert find_data_root("raf-db") == (tmp_path / "RAF-DB").resolve()
    assert find_data_root("rafdb", root=tmp_path / "RAF-DB") == (tmp_path / "RAF-DB").resolve()
    found = find_data_root("ferplus")
    assert found is None or found != (tmp_path / "ferplus").resolve()
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("SQSNET_DATA")
    assert default_data_dir() == usual_data_dirs()[0]
    assert usual_data_dirs()[0].parts[-2:] == ("shared", "data")
