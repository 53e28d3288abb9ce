"""sqsnet.faces.framing: the square a framing cuts around a box, its inverse, the crop at the
edges, and the detector's default framing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sqsnet.faces import (
    FER2013_FRAMING,
    FaceDetector,
    FaceFraming,
    crop_faces,
    fit_framing,
    frame_face,
    framing_square,
)
from tests.faces.helpers import needs_detector, photo_with_face


def quadrant_image() -> np.ndarray:
    """200x100 RGB: x < 100 red, x >= 100 blue, with a green square at x 40-60, y 40-60."""
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:, :100, 0] = 255
    rgb[:, 100:, 2] = 255
    rgb[40:60, 40:60] = (0, 255, 0)
    return rgb


def test_framing_square_scales_the_longer_side_and_moves_the_centre():
    box = (100.0, 50.0, 180.0, 150.0)  # 80 wide, 100 tall, centre (140, 100)
    assert framing_square(box, FaceFraming.from_margin(0.25)) == pytest.approx((140, 100, 150))
    assert framing_square(box, FER2013_FRAMING) == pytest.approx((140, 100, 100 * FER2013_FRAMING.scale))
    shifted = FaceFraming(1.0, offset_x=0.1, offset_y=-0.2)
    assert framing_square(box, shifted) == pytest.approx((150, 80, 100))


def test_framing_offset_turns_with_the_face():
    box = (0.0, 0.0, 100.0, 100.0)
    down = FaceFraming(1.0, offset_y=0.2)
    # eye line tilted by +90 degrees: the face's "down" is the image's -x
    cx, cy, _ = framing_square(box, down, angle=90.0)
    assert (cx, cy) == pytest.approx((30.0, 50.0))


def test_fit_framing_inverts_framing_square():
    box = (30.0, 20.0, 90.0, 100.0)
    framing = FaceFraming(0.9, offset_x=0.05, offset_y=-0.1)
    cx, cy, side = framing_square(box, framing)
    frame = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    fitted = fit_framing(box, frame)
    assert (fitted.scale, fitted.offset_x, fitted.offset_y) == pytest.approx((0.9, 0.05, -0.1))


def test_framing_validates_its_numbers():
    for kwargs in ({"scale": 0.0}, {"scale": 10.0}, {"scale": float("nan")},
                   {"scale": 1.0, "offset_x": 3.0}, {"scale": 1.0, "offset_y": -2.5}):
        with pytest.raises(ValueError, match="FaceFraming"):
            FaceFraming(**kwargs)
    with pytest.raises(ValueError, match="margin"):
        FaceFraming.from_margin(-0.1)
    with pytest.raises(ValueError, match="x0 < x1"):
        framing_square((10, 10, 10, 20), FER2013_FRAMING)
    assert FaceFraming.from_margin(0.25).label == "margin 0.25"
    assert FaceFraming(1.2).label == "scale 1.2, offset (0, 0)"


def test_frame_face_cuts_the_expected_rectangle():
    rgb = quadrant_image()
    # the green square's box, margin 0.5: a 40 px square centred on (50, 50) -> x, y 30-70
    crop = np.asarray(frame_face(rgb, (40, 40, 60, 60), FaceFraming.from_margin(0.5)))
    assert crop.shape == (40, 40, 3)
    assert (crop[10:30, 10:30] == (0, 255, 0)).all()  # the green square in the middle
    assert (crop[:8, :] == (255, 0, 0)).all() and (crop[:, :8] == (255, 0, 0)).all()
    sized = frame_face(Image.fromarray(rgb), (40, 40, 60, 60), FaceFraming(1.0), crop_size=16)
    assert sized.size == (16, 16) and sized.mode == "RGB"
    assert (np.asarray(sized)[2:14, 2:14] == (0, 255, 0)).all()


def test_frame_face_pads_at_the_edges_like_the_detector():
    rgb = quadrant_image()
    # a 30x60 box at the right edge: its 60 px square (x 155-215) reaches 15 px past the image
    crop = np.asarray(frame_face(rgb, (170, 20, 200, 80), FaceFraming(1.0)))
    assert crop.shape == (60, 60, 3)
    assert (crop == (0, 0, 255)).all()  # the outside 15 columns replicate the edge, not black
    black = np.asarray(frame_face(rgb, (170, 20, 200, 80), FaceFraming(1.0), border="constant"))
    assert (black[:, 46:] == 0).all() and (black[:, :44] == (0, 0, 255)).all()
    with pytest.raises(ValueError, match="border"):
        frame_face(rgb, (170, 20, 200, 80), border="wrap")


def test_detector_defaults_to_the_fer2013_framing_and_takes_a_margin_or_a_framing():
    assert FaceDetector().framing == FER2013_FRAMING
    assert FaceDetector(margin=0.25).framing == FaceFraming.from_margin(0.25)
    own = FaceFraming(1.1, offset_y=0.05)
    assert FaceDetector(framing=own).framing is own
    with pytest.raises(ValueError, match="not both"):
        FaceDetector(margin=0.1, framing=own)
    with pytest.raises(ValueError, match="FaceFraming"):
        FaceDetector(margin=0.1, framing=0.94)  # type: ignore[arg-type]


@needs_detector
def test_detector_crop_follows_its_framing(fer_faces):
    photo = photo_with_face(fer_faces[0], 200, (300, 120))
    default = crop_faces(photo, align=False)
    if not default.found:
        pytest.skip("face not detected")
    face = default.faces[0]
    assert abs(face.crop.width - FER2013_FRAMING.scale * max(face.width, face.height)) <= 3
    # the crop is the same as frame_face's around the detector's box
    again = frame_face(photo, face.box, FER2013_FRAMING)
    assert abs(again.width - face.crop.width) <= 2
