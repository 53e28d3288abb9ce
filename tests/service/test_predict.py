"""Predict as plain Python: good photos, bad files, no face, Grad-CAM, the JSON output."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from sqsnet.faces import MAX_IMAGE_PIXELS
from sqsnet.inference import FacePrediction
from sqsnet.service.examples import load_examples
from sqsnet.service.explain import WHOLE_IMAGE_CAUTION
from sqsnet.service.predict import (
    FaceView,
    PhotoResult,
    add_gradcam,
    annotate,
    number_left_to_right,
)
from tests.service.helpers import BACKGROUND, ferplus_faces, photo_with_faces, png_bomb


def assert_clean_error(result, *words: str) -> None:
    """One clear sentence, no traceback, nothing half-shown."""
    assert result.error
    assert "Traceback" not in result.status and "File \"" not in result.status
    assert "\n" not in result.status
    assert not result.faces
    for word in words:
        assert word.lower() in result.status.lower(), result.status


def assert_faces(result, n_min: int = 1) -> None:
    assert not result.error, result.status
    assert len(result.faces) >= n_min, result.status
    for face in result.faces:
        assert face.label in face.probabilities
        assert math.isclose(sum(face.probabilities.values()), 1.0, rel_tol=1e-4)
        assert face.crop.mode == "RGB"


# ------------------------------------------------------------------------------- good


def test_one_face_photo_gives_label_probabilities_and_gradcam(lab, face_photo):
    result = lab.analyse_photo(str(face_photo))
    assert_faces(result)
    assert len(result.faces) == 1 and not result.faces[0].whole_image
    face = result.faces[0]
    assert face.cam is not None and face.cam.size == (224, 224)
    assert result.annotated is not None and result.annotated.size == (640, 480)
    assert "1 face" in result.status
    assert set(result.timings_ms) == {"load", "detect", "model", "detect_and_classify", "gradcam"}
    payload = json.loads(json.dumps(result.as_json()))  # the API output is plain JSON
    assert payload["faces"][0]["label"] == face.label and payload["error"] is None


def test_gradcam_off_and_every_branch(lab, face_photo):
    off = lab.analyse_photo(str(face_photo), cam_branch="off")
    assert off.faces[0].cam is None and "gradcam" not in off.timings_ms
    for branch in ("local", "global"):
        assert lab.analyse_photo(str(face_photo), cam_branch=branch).faces[0].cam is not None


def test_several_faces(lab, tmp_path):
    path = tmp_path / "three.jpg"
    photo_with_faces(ferplus_faces(3), size=(960, 400)).save(path, quality=92)
    result = lab.analyse_photo(str(path))
    assert_faces(result, 2)
    boxes = [f.box for f in result.faces]
    assert len(set(boxes)) == len(boxes)
    assert "faces" in result.status


def test_one_model_pass_gives_the_probabilities_and_every_faces_gradcam(lab):
    """A photo with Grad-CAM runs the model once; each face (numbered left to right, not
    in the model's largest-first order) gets its own map, equal to a separate Grad-CAM."""
    photo = max(load_examples().photos, key=lambda e: len(e.labels))
    model = lab.predictor().model
    calls: list[int] = []
    handle = model.register_forward_hook(lambda m, i, o: calls.append(1))
    try:
        result = lab.analyse_photo(str(photo.path))
    finally:
        handle.remove()
    assert calls == [1] and len(result.faces) >= 3, result.status
    for face in result.faces:
        alone = FaceView(face.index, face.box, face.crop, {}, "", 0.0, 0.0, False)
        add_gradcam(lab.store, lab.predictor(), [alone], "fused")
        diff = np.abs(np.asarray(face.cam, np.int16) - np.asarray(alone.cam, np.int16))
        assert diff.max() <= 2, f"face {face.index} got another face's Grad-CAM"


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
    assert_faces(lab.analyse_photo(str(path)))


def test_exif_rotated_photo_is_made_upright(lab, tmp_path):
    upright = photo_with_faces(ferplus_faces(1))
    stored = upright.rotate(90, expand=True)  # pixels on their side (480x640)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    result = lab.analyse_photo(str(path))
    assert_faces(result)
    assert "640x480" in result.status
    assert result.annotated.size == (640, 480)


def test_bytes_and_data_url_input(lab, face_photo):
    data = face_photo.read_bytes()
    assert_faces(lab.analyse_photo(data))
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert_faces(lab.analyse_photo(url))


# ------------------------------------------------------------------------ no / tiny face


def test_no_face_says_so_and_the_whole_image_can_be_classified(lab, tmp_path):
    path = tmp_path / "wall.png"
    Image.new("RGB", (640, 480), BACKGROUND).save(path)
    result = lab.analyse_photo(str(path))
    assert result.no_face and not result.error and not result.faces
    assert "no face" in result.status.lower() and "whole image" in result.status.lower()
    assert result.annotated is not None and result.as_json()["no_face"] is True
    whole = lab.analyse_photo(str(path), classify_whole_image=True)
    assert len(whole.faces) == 1 and whole.faces[0].whole_image
    assert "whole image" in whole.status.lower()
    assert whole.as_json()["faces"][0]["whole_image"] is True


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
    assert_faces(lab.analyse_photo(str(path), classify_whole_image=True))


# ---------------------------------------------------------------------------- bad files


def test_not_an_image(lab, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a photo")
    result = lab.analyse_photo(str(path))
    assert_clean_error(result, "notes.txt", "not a readable image")
    assert result.as_json()["error"] == result.status


def test_empty_and_missing_files(lab, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert_clean_error(lab.analyse_photo(str(empty)), "empty.png")
    assert_clean_error(lab.analyse_photo(str(tmp_path / "gone.png")), "gone.png")
    for nothing in (None, b""):  # nothing uploaded: a hint, not an error
        hint = lab.analyse_photo(nothing)
        assert not hint.error and "upload a photo" in hint.status.lower()


def test_invalid_base64_upload_says_so(lab):
    """Issue 29: invalid base64 is answered as such, not with 'Upload a photo'."""
    for url in ("data:image/png;base64,!!!", "data:image/png;base64,", "data:image/png;base64,aGk"):
        result = lab.analyse_photo(url)
        assert_clean_error(result, "not valid base64 image data")
        assert "upload a photo" not in result.status.lower()


def test_truncated_image(lab, tmp_path):
    path = tmp_path / "cut.jpg"
    Image.new("RGB", (640, 480), (10, 200, 30)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    assert_clean_error(lab.analyse_photo(str(path)), "cut.jpg", "truncated")


def test_decompression_bomb_is_refused(lab, tmp_path):
    path = png_bomb(tmp_path / "bomb.png")
    assert 20000 * 20000 > MAX_IMAGE_PIXELS
    assert_clean_error(lab.analyse_photo(str(path)), "bomb.png", "too large")


def test_bad_input_does_not_break_the_next_request(lab, tmp_path, face_photo):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert lab.analyse_photo(str(tmp_path / "x.png")).error
    assert_faces(lab.analyse_photo(str(face_photo)))


def test_unknown_checkpoint_is_one_line(lab, face_photo):
    result = lab.analyse_photo(str(face_photo), checkpoint="nope.safetensors")
    assert_clean_error(result, "unknown checkpoint")


# ------------------------------------------------------------------------------ drawing


def test_annotate_draws_boxes_on_a_display_sized_copy():
    photo = Image.new("RGB", (2048, 1024), (0, 0, 0))
    face = FaceView(1, (100, 100, 500, 500), photo, {"happiness": 1.0}, "happiness", 1.0,
                    0.9, False)
    shown = annotate(photo, [face])
    assert shown.size == (1024, 512) and photo.getpixel((50, 50)) == (0, 0, 0)
    assert shown.getpixel((50, 100)) != (0, 0, 0)  # the box outline at the scaled corner


# ------------------------------------------------------------- explaining the answer


def test_faces_are_numbered_left_to_right(lab):
    """Issue 28: the example photo's largest face is in the middle; it is face 2."""
    ex = next(p for p in load_examples().photos if p.path.name == "three_faces.jpg")
    result = lab.analyse_photo(str(ex.path), cam_branch="off")
    assert_faces(result, 3)
    assert [f.index for f in result.faces] == [1, 2, 3]
    centres = [(f.box[0] + f.box[2]) / 2 for f in result.faces]
    assert centres == sorted(centres)
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in result.faces]
    assert areas.index(max(areas)) == 1  # the middle face is the largest, and is "2"
    assert [f["index"] for f in result.as_json()["faces"]] == [1, 2, 3]
    assert "left to right" in result.status


def test_only_the_largest_faces_are_shown_but_all_are_numbered():
    boxes = [(0, 0, 10, 10), (100, 0, 200, 100), (300, 0, 340, 40)]  # largest first below
    order = sorted(range(3), key=lambda k: -(boxes[k][2] - boxes[k][0]))
    preds = [FacePrediction(boxes[k], Image.new("RGB", (8, 8)), {"fear": 1.0}, "fear", 0.9)
             for k in order]
    faces = number_left_to_right(preds, shown=2)
    assert [f.box for f in faces] == boxes
    assert [f.shown for f in faces] == [False, True, True]
    result = PhotoResult(status="", faces=faces)
    assert [f.index for f in result.shown_faces] == [2, 3]


def test_a_flat_gradcam_map_is_noted(lab, monkeypatch):
    import sqsnet.service.predict as predict

    def flat(model, x, branch):
        with torch.no_grad():
            return model(x), np.zeros((len(x), 6, 6))

    monkeypatch.setattr(predict, "predict_with_gradcam", flat)
    ex = load_examples().faces[0]
    result = lab.analyse_photo(str(ex.path), cam_branch="local")
    assert result.faces[0].cam is not None and result.faces[0].cam_flat
    assert "**local** Grad-CAM map is flat for face 1" in result.status
    assert result.as_json()["faces"][0]["gradcam_flat"] is True
    monkeypatch.undo()
    fine = lab.analyse_photo(str(ex.path), cam_branch="fused")
    assert not fine.faces[0].cam_flat and "flat" not in fine.status


def test_whole_image_answers_carry_a_caution(lab, tmp_path):
    path = tmp_path / "grey.png"
    Image.new("RGB", (640, 480), (128, 128, 128)).save(path)
    result = lab.analyse_photo(str(path), classify_whole_image=True)
    assert result.faces[0].whole_image
    assert WHOLE_IMAGE_CAUTION in result.status
