"""The shared service: one model lock for every use of a model, checkpoint switching."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.service.helpers import ferplus_faces, photo_with_faces, quad_files
from tests.service.test_store import save_tiny


def test_every_model_use_waits_for_the_one_model_lock(lab, face_photo, tmp_path):
    """With the store's lock held elsewhere, prediction and SQS maps wait for it."""
    files = quad_files(tmp_path)
    done: dict[str, object] = {}
    calls = {
        "photo": lambda: lab.analyse_photo(str(face_photo), cam_branch="off"),
        "gradcam": lambda: lab.analyse_photo(str(face_photo), cam_branch="fused"),
        "quad": lambda: lab.quad_maps(*files),
    }
    threads = [threading.Thread(target=lambda k=k, f=f: done.__setitem__(k, f()))
               for k, f in calls.items()]
    with lab.store.model_lock:
        for t in threads:
            t.start()
        time.sleep(1.5)
        assert not done, f"{sorted(done)} ran a model without the service's model lock"
    for t in threads:
        t.join(timeout=120)
    assert sorted(done) == ["gradcam", "photo", "quad"]
    assert all(not r.error for r in done.values())  # type: ignore[attr-defined]


def test_concurrent_requests_never_overlap_in_the_model(lab, face_photo, tmp_path):
    """Eight mixed requests from four threads: no two forward passes at once, and every
    answer (probabilities and Grad-CAM) equals the one computed alone."""
    three = tmp_path / "three.png"
    photo_with_faces(ferplus_faces(3), size=(960, 400)).save(three)
    photos = [str(face_photo), str(three)] * 3
    alone = [lab.analyse_photo(p) for p in photos[:2]]
    files = quad_files(tmp_path)
    quad_alone = lab.quad_maps(*files)

    model = lab.predictor().model
    state = {"active": 0, "most": 0}
    counter = threading.Lock()

    def enter(module, args):
        with counter:
            state["active"] += 1
            state["most"] = max(state["most"], state["active"])
        time.sleep(0.01)  # widen the window in which an overlap would be seen

    def leave(module, args, output):
        with counter:
            state["active"] -= 1

    branch = model.local_branch
    handles = [branch.register_forward_pre_hook(enter), branch.register_forward_hook(leave)]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lab.analyse_photo, photos))
            quads = list(pool.map(lambda _: lab.quad_maps(*files), range(2)))
    finally:
        for h in handles:
            h.remove()
    assert state["most"] == 1, "two forward passes ran at once on the shared model"
    for k, result in enumerate(results):
        ref = alone[k % 2]
        assert not result.error and len(result.faces) == len(ref.faces)
        for face, ref_face in zip(result.faces, ref.faces):
            assert face.label == ref_face.label
            assert np.allclose(list(face.probabilities.values()),
                               list(ref_face.probabilities.values()), atol=1e-5)
            diff = np.abs(np.asarray(face.cam, np.int16) - np.asarray(ref_face.cam, np.int16))
            assert diff.max() <= 2, "a Grad-CAM map differs from the one computed alone"
    assert all(q.loss == pytest.approx(quad_alone.loss, abs=1e-6) for q in quads)


def test_switch_to_another_checkpoint(lab, tmp_path, face_photo):
    folder = tmp_path / "ckpts"
    save_tiny(folder / "run1" / "best.safetensors")
    saved = lab.store.checkpoints_dir
    try:
        lab.store.checkpoints_dir = folder
        lab.rescan_checkpoints()
        assert [k for _, k in lab.checkpoint_choices()] == ["default", "run1/best.safetensors"]
        text = lab.model_card("run1/best.safetensors")[0].summary
        assert "tiny_test" in text and "sqsnet train --config tiny" in text and "0.5" in text
        result = lab.analyse_photo(str(face_photo), checkpoint="run1/best.safetensors")
        assert not result.error, result.status
        assert len(result.faces[0].probabilities) == 4  # the tiny model's classes
        assert "Model: **run1/best.safetensors**" in lab.checkpoint_info_line("run1/best.safetensors")
    finally:
        lab.store.checkpoints_dir = saved
        lab.rescan_checkpoints()
    assert [k for _, k in lab.checkpoint_choices()] == ["default"]
    assert lab.predictor().model.num_classes == 8  # the default is still served


def test_warmup_runs_every_stage(lab):
    assert lab.warmup() > 0
