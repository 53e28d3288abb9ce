"""The app's handlers called directly: good photos, bad files, the explorer, the model tab."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sqsnet.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint
from sqsnet.faces import MAX_IMAGE_PIXELS
from tests.app.conftest import (
    BACKGROUND,
    ferplus_faces,
    ferplus_valid_dir,
    photo_with_faces,
    png_bomb,
)
from tests.helpers import tiny_model_config


def _assert_clean_error(result, *words: str) -> None:
    """One clear sentence, no traceback, nothing half-shown."""
    assert result.error
    assert "Traceback" not in result.status and "File \"" not in result.status
    assert not result.faces
    for word in words:
        assert word.lower() in result.status.lower(), result.status


def _assert_faces(result, n_min: int = 1) -> None:
    assert not result.error, result.status
    assert len(result.faces) >= n_min, result.status
    for face in result.faces:
        assert face.label in face.probabilities
        assert math.isclose(sum(face.probabilities.values()), 1.0, rel_tol=1e-4)
        assert face.crop.mode == "RGB"


# ------------------------------------------------------------------------- Predict: good


def test_one_face_photo_gives_label_probabilities_and_gradcam(lab, face_photo):
    result = lab.analyse_photo(str(face_photo))
    _assert_faces(result)
    assert len(result.faces) == 1 and not result.faces[0].whole_image
    face = result.faces[0]
    assert face.cam is not None and face.cam.size == (224, 224)
    assert result.annotated is not None and result.annotated.size == (640, 480)
    assert "1 face" in result.status
    json.dumps(result.as_json())  # the API output is plain JSON


def test_predict_outputs_match_components(app_module, lab, face_photo):
    out = lab.predict(str(face_photo), False, "local")
    assert len(out) == 4 + 4 * app_module.MAX_FACES_SHOWN
    status, annotated, _button, payload = out[:4]
    assert "1 face" in status and annotated is not None
    assert payload["faces"][0]["label"] in lab.predictor().class_names
    row, crop, cam, label_update = out[4:8]  # first face: row, crop, Grad-CAM, Label
    assert row["visible"] and crop["visible"] and cam["visible"]
    assert label_update["visible"] is True and set(label_update["value"]) == set(
        lab.predictor().class_names)
    assert all(u["visible"] is False for u in out[8:])  # unused face slots hidden


def test_gradcam_off_and_every_branch(lab, face_photo):
    assert lab.analyse_photo(str(face_photo), cam_branch="off").faces[0].cam is None
    for branch in ("local", "global"):
        assert lab.analyse_photo(str(face_photo), cam_branch=branch).faces[0].cam is not None


def test_several_faces(lab, tmp_path):
    path = tmp_path / "three.jpg"
    photo_with_faces(ferplus_faces(3), size=(960, 400)).save(path, quality=92)
    result = lab.analyse_photo(str(path))
    _assert_faces(result, 2)
    boxes = [f.box for f in result.faces]
    assert len(set(boxes)) == len(boxes)
    assert "faces" in result.status


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "I;16", "P"])
def test_colour_modes_are_converted(lab, tmp_path, mode):
    photo = photo_with_faces(ferplus_faces(1))
    if mode == "I;16":
        arr = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
        image = Image.fromarray(arr.astype(np.uint16))
        assert image.mode == "I;16"
        path = tmp_path / "sixteen.png"
    elif mode == "RGBA":
        image = photo.convert("RGBA")
        image.putalpha(200)
        path = tmp_path / "alpha.png"
    elif mode == "CMYK":
        image = photo.convert("CMYK")
        path = tmp_path / "cmyk.jpg"
    else:
        image = photo.convert(mode)
        path = tmp_path / f"{mode}.png"
    image.save(path)
    result = lab.analyse_photo(str(path))
    _assert_faces(result)


def test_exif_rotated_photo_is_made_upright(lab, tmp_path):
    upright = photo_with_faces(ferplus_faces(1))
    stored = upright.rotate(90, expand=True)  # pixels on their side (480x640)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    result = lab.analyse_photo(str(path))
    _assert_faces(result)
    assert "640x480" in result.status
    assert result.annotated.size == (640, 480)


def test_bytes_input(lab, face_photo):
    _assert_faces(lab.analyse_photo(face_photo.read_bytes()))


# ----------------------------------------------------------------- Predict: no / tiny face


def test_no_face_says_so_and_offers_the_whole_image(lab, tmp_path):
    path = tmp_path / "wall.png"
    Image.new("RGB", (640, 480), BACKGROUND).save(path)
    result = lab.analyse_photo(str(path))
    assert result.no_face and not result.error and not result.faces
    assert "no face" in result.status.lower() and "whole image" in result.status.lower()
    out = lab.predict(str(path))
    assert out[2]["visible"] is True  # the "Classify the whole image" button
    whole = lab.analyse_photo(str(path), classify_whole_image=True)
    assert len(whole.faces) == 1 and whole.faces[0].whole_image
    assert "whole image" in whole.status.lower()
    assert lab.predict_whole_image(str(path))[3]["faces"][0]["whole_image"] is True


def test_tiny_face_is_not_an_error(lab, tmp_path):
    photo = Image.new("RGB", (640, 480), BACKGROUND)
    photo.paste(ferplus_faces(1)[0].resize((12, 12)), (300, 200))
    path = tmp_path / "tiny.png"
    photo.save(path)
    result = lab.analyse_photo(str(path))
    assert not result.error
    assert result.faces or result.no_face


def test_small_face_crop_is_classified(lab, tmp_path):
    path = tmp_path / "crop48.png"
    ferplus_faces(1)[0].save(path)
    result = lab.analyse_photo(str(path), classify_whole_image=True)
    _assert_faces(result)


# ---------------------------------------------------------------------- Predict: bad files


def test_not_an_image(lab, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a photo")
    _assert_clean_error(lab.analyse_photo(str(path)), "notes.txt", "not a readable image")
    with pytest.warns(UserWarning, match="not a readable image"):  # gr.Warning outside a request
        out = lab.predict(str(path))
    assert out[0].startswith("⚠️") and out[1] is None


def test_empty_and_missing_files(lab, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    _assert_clean_error(lab.analyse_photo(str(empty)), "empty.png")
    _assert_clean_error(lab.analyse_photo(str(tmp_path / "gone.png")), "gone.png")
    assert not lab.analyse_photo(None).error  # nothing uploaded: a hint, not an error


def test_truncated_image(lab, tmp_path):
    path = tmp_path / "cut.jpg"
    Image.new("RGB", (640, 480), (10, 200, 30)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    _assert_clean_error(lab.analyse_photo(str(path)), "cut.jpg", "truncated")


def test_decompression_bomb_is_refused(lab, tmp_path):
    path = png_bomb(tmp_path / "bomb.png")
    assert 20000 * 20000 > MAX_IMAGE_PIXELS
    result = lab.analyse_photo(str(path))
    _assert_clean_error(result, "bomb.png", "too large")


def test_bad_input_does_not_break_the_next_request(lab, tmp_path, face_photo):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert lab.analyse_photo(str(tmp_path / "x.png")).error
    _assert_faces(lab.analyse_photo(str(face_photo)))


def test_upload_component_never_decodes(app_module, tmp_path):
    """The photo component hands over the path untouched (even for a non-image)."""
    from gradio.data_classes import ImageData

    comp = app_module.upload_image(label="x")
    path = tmp_path / "bomb.png"
    png_bomb(path)
    assert comp.preprocess(ImageData(path=str(path), orig_name="bomb.png")) == str(path)
    assert comp.preprocess(None) is None
    assert comp.preprocess(ImageData(url="data:image/png;base64,aGVsbG8=")) == b"hello"


# ------------------------------------------------------------------------------- explorer


def _quad_files(tmp_path: Path) -> list[str]:
    paths = []
    for k, face in enumerate(ferplus_faces(4)):
        p = tmp_path / f"q{k}.png"
        face.save(p)
        paths.append(str(p))
    return paths


def test_quad_maps_from_uploads(lab, tmp_path):
    result = lab.quad_maps(*_quad_files(tmp_path))
    assert not result.error, result.status
    assert result.loss is not None and math.isfinite(result.loss) and result.loss >= 0
    assert result.figure is not None and result.figure.width > 200
    assert [c for _, c in result.overlays] == [
        "S_AP over the anchor", "S_AN1 over the anchor", "S_AN2 over the anchor",
        "R over the anchor"]
    for key in ("S_AP", "S_AN1", "S_AN2", "R = alpha", "Hinge loss"):
        assert key in result.explanation


def test_quad_maps_on_a_photo_crops_the_face(lab, tmp_path, face_photo):
    files = _quad_files(tmp_path)
    result = lab.quad_maps(str(face_photo), *files[1:], labels=["fear", None, None, None])
    assert not result.error, result.status
    assert "anchor: fear" in result.status


def test_quad_maps_missing_and_bad_slots(lab, tmp_path):
    files = _quad_files(tmp_path)
    missing = lab.quad_maps(files[0], None, files[2], None)
    assert not missing.error and "positive" in missing.status and "negative 2" in missing.status
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    result = lab.quad_maps(files[0], files[1], str(bad), files[3])
    assert result.error and "negative 1" in result.status and "Traceback" not in result.status


def test_gallery_random_quad_and_pick(lab):
    if not lab.gallery:
        pytest.skip("no FERPlus data: the gallery is empty")
    quad, message = lab.random_quad()
    assert quad is not None, message
    assert quad[0].label == quad[1].label and quad[2].label == quad[3].label
    assert quad[0].label != quad[2].label
    result = lab.quad_maps(*[q.path for q in quad], labels=[q.label for q in quad])
    assert not result.error, result.status
    assert lab.gallery_item(0, []) is lab.gallery[0]


def test_uploads_join_the_gallery(app_module, lab, tmp_path, face_photo):
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a broken")
    uploads, message = lab.add_uploads([str(face_photo), str(bad)], [])
    assert len(uploads) == 1 and uploads[0].label is None
    assert "Added 1 image" in message and "bad.gif" in message
    value = lab.gallery_value(uploads)
    assert len(value) == len(lab.gallery) + 1 and value[-1][0] == str(face_photo)
    assert lab.gallery_item(len(lab.gallery), uploads) is uploads[0]
    many, _ = lab.add_uploads([str(face_photo)] * (app_module.MAX_SESSION_UPLOADS + 3), [])
    assert len(many) == app_module.MAX_SESSION_UPLOADS


def test_explorer_without_gallery(app_module, lab, tmp_path):
    saved = lab.gallery
    try:
        lab.gallery = []
        quad, message = lab.random_quad()
        assert quad is None and "--gallery" in message
        result = lab.quad_maps(*_quad_files(tmp_path))  # uploads still work
        assert not result.error
    finally:
        lab.gallery = saved


# -------------------------------------------------------------------------------- gallery


def test_load_gallery_ferplus_layouts(app_module, tmp_path):
    valid = ferplus_valid_dir()
    if valid is None:
        pytest.skip("real FERPlus data not found (set SQSNET_DATA)")
    items = app_module.load_gallery(valid, per_class=2, out_dir=tmp_path / "a")
    labels = [it.label for it in items]
    assert 0 < len(items) <= 16 and all(labels.count(c) <= 2 for c in set(labels))
    assert all(Path(it.path).is_file() and it.face_crop for it in items)
    assert not any(str(valid) in it.path for it in items)  # served from copies
    again = app_module.load_gallery(valid.parent, per_class=2, out_dir=tmp_path / "b")
    assert [it.caption for it in again] == [it.caption for it in items]


def test_load_gallery_labelled_folder(app_module, tmp_path):
    root = tmp_path / "faces"
    for cls, color in (("happy", (250, 200, 0)), ("Sad", (0, 0, 200)), ("neutral", (90, 90, 90))):
        (root / cls).mkdir(parents=True)
        for k in range(5):
            Image.new("RGB", (60, 60), color).save(root / cls / f"{k}.jpg")
    (root / "happy" / "readme.txt").write_text("ignored")
    items = app_module.load_gallery(root, per_class=3, out_dir=tmp_path / "out")
    assert len(items) == 9
    assert {it.label for it in items} == {"happiness", "sadness", "neutral"}


def test_load_gallery_errors(app_module, tmp_path):
    with pytest.raises(app_module.GalleryError, match="no such folder"):
        app_module.load_gallery(tmp_path / "missing")
    (tmp_path / "bogus" / "cats").mkdir(parents=True)
    with pytest.raises(app_module.GalleryError, match="cats"):
        app_module.load_gallery(tmp_path / "bogus")


# ----------------------------------------------------------------------- model tab


def test_default_model_card(lab):
    text, header = lab.model_card("default")
    assert "default.safetensors" in text
    assert header["config"]["model"]["num_classes"] == 8
    card_file = DEFAULT_CHECKPOINT.parent / "MODEL_CARD.md"
    if card_file.is_file():
        first = next(line for line in card_file.read_text().splitlines()
                     if line.strip() and not line.startswith("---"))
        assert first.strip() in text
    else:
        assert "ferplus" in text.lower()


def test_checkpoint_folder_scan_switch_and_card(app_module, lab, tmp_path, face_photo):
    import torch
    from safetensors.torch import save_file

    from sqsnet.config import Config
    from sqsnet.models import SQSNet

    folder = tmp_path / "ckpts"
    cfg = Config(name="tiny_test", model=tiny_model_config())
    save_checkpoint(folder / "run1" / "best.safetensors", SQSNet(cfg.model), cfg,
                    {"dataset": "ferplus", "epoch": 3, "metrics": {"val": {"accuracy": 0.5}},
                     "command": "sqsnet train --config tiny"})
    save_file({"w": torch.zeros(2)}, str(folder / "plain_timm.safetensors"))
    (folder / "broken.safetensors").write_bytes(b"not safetensors")
    (folder / ".best.safetensors.123.tmp.safetensors").write_bytes(b"partial")
    found = app_module.find_checkpoints(folder)
    assert list(found) == ["run1/best.safetensors"]

    saved_dir, saved = lab.checkpoints_dir, dict(lab.checkpoints)
    try:
        lab.checkpoints_dir = folder
        lab.rescan_checkpoints()
        assert [k for _, k in lab.checkpoint_choices()] == ["default", "run1/best.safetensors"]
        text, _header = lab.model_card("run1/best.safetensors")
        assert "tiny_test" in text and "sqsnet train --config tiny" in text and "0.5" in text
        result = lab.analyse_photo(str(face_photo), checkpoint="run1/best.safetensors")
        _assert_faces(result)
        assert len(result.faces[0].probabilities) == 4  # the tiny model's classes
        unknown = lab.analyse_photo(str(face_photo), checkpoint="nope.safetensors")
        assert unknown.error and "unknown checkpoint" in unknown.status
    finally:
        lab.checkpoints_dir, lab.checkpoints = saved_dir, saved
        lab._models.pop("run1/best.safetensors", None)


# --------------------------------------------------------------------------- the page / CLI


def test_build_demo_names_every_event(app_module, lab):
    demo = app_module.build_demo(lab=lab)
    names = [dep.api_name for dep in demo.fns.values()]
    assert all(names), names
    assert "predict" in names and "sqs_maps" in names and "model_card" in names
    assert demo._queue.default_concurrency_limit == app_module.DEFAULT_CONCURRENCY
    assert demo.lab is lab


def test_main_parses_arguments(app_module, monkeypatch):
    import gradio.networking
    calls = {}

    class FakeDemo:
        class lab:  # mimics demo.lab
            @staticmethod
            def warmup() -> float:
                return 0.0

        def launch(self, **kwargs):
            calls["launch"] = kwargs
            calls["probe"] = gradio.networking.url_ok

    def fake_build(checkpoint, gallery, checkpoints_dir, **kwargs):
        calls["build"] = (checkpoint, gallery, checkpoints_dir, kwargs)
        return FakeDemo()

    monkeypatch.setattr(app_module, "build_demo", fake_build)
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("SQSNET_GALLERY", raising=False)
    app_module.main(["--checkpoints", "runs", "--port", "7999"])
    assert calls["build"][:3] == ("default", None, "runs")
    assert calls["launch"]["server_name"] == "127.0.0.1"
    assert calls["launch"]["server_port"] == 7999 and calls["launch"]["share"] is False
    assert calls["probe"] is app_module._patient_url_ok
    assert gradio.networking.url_ok is not app_module._patient_url_ok  # restored


def test_main_reports_a_bad_gallery_in_one_line(app_module, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        app_module.main(["--gallery", str(tmp_path / "nowhere")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err


def test_space_files(app_module):
    import gradio

    folder = Path(app_module.__file__).parent
    readme = (folder / "README.md").read_text()
    front = readme.split("---")[1]
    assert "sdk: gradio" in front and "app_file: app.py" in front
    assert f"sdk_version: {gradio.__version__}" in front
    for key in ("title:", "emoji:", "license:"):
        assert key in front
    reqs = (folder / "requirements.txt").read_text()
    assert "gradio" in reqs and "torch" in reqs and "timm" in reqs
    assert not (folder / "app.pyi").exists()  # no Gradio stub written beside the app

