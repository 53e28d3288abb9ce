"""The service layer is plain Python: nothing under sqsnet/ imports Gradio."""

from __future__ import annotations

import re

import sqsnet.service
from tests.helpers import REPO

_GRADIO_IMPORT = re.compile(r"^\s*(import|from)\s+gradio(_client)?\b", re.MULTILINE)


def test_no_gradio_import_in_the_package():
    package = REPO / "sqsnet"
    offenders = [str(p.relative_to(REPO)) for p in sorted(package.rglob("*.py"))
                 if _GRADIO_IMPORT.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    assert _GRADIO_IMPORT.search("import gradio as gr\n")  # the pattern does match imports


def test_public_names_are_exported():
    for name in sqsnet.service.__all__:
        assert hasattr(sqsnet.service, name), name
    assert sqsnet.service.LabService.__module__ == "sqsnet.service.lab"
