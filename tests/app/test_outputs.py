"""Two visitors, one identical answer at the same moment: each gets complete image files.

Gradio writes a PIL image a handler returns to a cache file named after the hash of its
bytes, in place, so two identical answers at once share a file that is being rewritten and
a download can be truncated (gradio issue #8878; ``benchmarks/app_load.py --same-photo``
showed it). The handlers now return paths of files written atomically, one per image.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import gradio as gr
from gradio import processing_utils

from tests.helpers import decodes_whole

IMAGE_IDS = ("annotated", "face-1-crop", "face-1-cam")
"""The Predict tab's image outputs checked (in :func:`_images` order)."""


def _by_id(demo: gr.Blocks, elem_id: str) -> Any:
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def _images(out: list[Any]) -> list[Any]:
    """The annotated photo, the first face's crop and its Grad-CAM from a /predict answer."""
    return [out[1], out[5]["value"], out[6]["value"]]




def _at_once(n: int, fn: Any) -> list[Any]:
    """``fn(k)`` in ``n`` threads released together; the results in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(k: int) -> None:
        barrier.wait()
        results[k] = fn(k)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_identical_photos_at_once_get_complete_files_of_their_own(app_module, lab):
    from space_ui import predict_tab  # importable once the app is

    photo = str(lab.predict_examples()[0].path)  # a shipped photo (three faces)
    demo = app_module.build_demo(lab=lab)
    handlers = predict_tab.PredictHandlers(lab)
    answers = _at_once(4, lambda _k: handlers.predict(photo, False, "fused"))
    images = [_images(out) for out in answers]
    paths = [p for row in images for p in row]
    assert all(isinstance(p, str) for p in paths), "output images must be files, not PIL images"
    assert len(set(paths)) == len(paths)  # no two requests share a file
    assert all(decodes_whole(p) for p in paths)
    # identical answers: the same bytes under different names
    assert len({Path(row[0]).read_bytes() for row in images}) == 1
    # what the server does with each answer (postprocess, move to its cache), for the four
    # requests at once and many times over, while a download reads every file it handed out
    components = [_by_id(demo, elem_id) for elem_id in IMAGE_IDS]
    served: set[str] = set()
    broken: list[str] = []
    done = threading.Event()

    def serve(k: int) -> None:
        for _ in range(25):
            for comp, value in zip(components, images[k]):
                data = processing_utils.move_files_to_cache(comp.postprocess(value), comp,
                                                            postprocess=True)
                served.add(data["path"])

    def download() -> None:
        while not done.is_set():
            for path in list(served):
                if not decodes_whole(path):
                    broken.append(path)

    reader = threading.Thread(target=download)
    reader.start()
    try:
        _at_once(4, serve)
    finally:
        done.set()
        reader.join()
    assert not broken, f"a download read an incomplete file: {broken[:3]}"
    assert served and all(decodes_whole(p) for p in served)
