"""sqsnet.faces.alignment: the whole-image fallback, the crop margin and eye levelling."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sqsnet.faces import Face, FaceDetector, whole_image_face
from tests.faces.helpers import needs_detector, needs_yunet, photo_with_face


def test_whole_image_face_is_center_square():
    face = whole_image_face(Image.new("RGB", (640, 480), (9, 9, 9)))
    assert isinstance(face, Face) and face.whole_image
    assert face.box == (80, 0, 560, 480)
    assert face.crop.size == (480, 480) and face.landmarks is None and face.score == 0.0
    assert whole_image_face(np.zeros((48, 48), np.uint8), crop_size=112).crop.size == (112, 112)


@needs_detector
def test_margin_sets_crop_side(fer_faces):
    photo = photo_with_face(fer_faces[0], 200, (300, 120))
    for margin in (0.0, 0.5):
        result = FaceDetector(margin=margin, align=False).detect(photo)
        if not result.found:
            pytest.skip("face not detected")
        face = result.faces[0]
        expected = max(face.width, face.height) * (1 + 2 * margin)
        assert abs(face.crop.width - expected) <= 3 and face.angle == 0.0


@needs_yunet
def test_real_photo_alignment_levels_the_eyes(hopper):
    # A margin leaves context around the face, so that the crop can be detected again; the
    # default FER2013 framing crops the face so tightly that YuNet's landmarks on the
    # re-detected crop are a few degrees less exact.
    detector = FaceDetector(margin=0.25)
    result = detector.detect(hopper)
    assert len(result.faces) == 1 and result.faces[0].score > 0.8
    upright_angle = result.faces[0].angle
    tilted = hopper.rotate(20, expand=True, fillcolor=(128, 128, 128))  # 20 deg counter-clockwise
    face = detector.detect(tilted).faces[0]
    # The eye line now tilts up to the right: about -20 deg; the crop rotates that back.
    assert -27 < face.angle - upright_angle < -13
    again = detector.detect(face.crop)
    assert again.found and abs(again.faces[0].angle) < 6
