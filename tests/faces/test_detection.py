"""sqsnet.faces.detection: detector options and errors, detection on real faces, sharing, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from sqsnet.faces import (
    LANDMARK_NAMES,
    FaceDetection,
    FaceDetector,
    FaceDetectorUnavailable,
    ImageLoadError,
    crop_faces,
)
from sqsnet.faces.detection import _shared_detector
from tests.faces.helpers import (
    needs_detector,
    needs_yunet,
    photo_with_face,
    png_header_only,
)


def test_detector_validates_arguments():
    for kwargs in ({"min_face": 0}, {"margin": -0.1}, {"backend": "dlib"}, {"crop_size": 0},
                   {"border": "wrap"}, {"score_threshold": 0.0}):
        with pytest.raises(ValueError):
            FaceDetector(**kwargs)
    with pytest.raises(TypeError):
        crop_faces(np.zeros((10, 10), np.uint8), FaceDetector(), margin=0.1)


def test_missing_yunet_model_is_a_clear_error(tmp_path):
    det = FaceDetector(backend="yunet", model_path=tmp_path / "nope.onnx")
    with pytest.raises(FaceDetectorUnavailable, match="nope.onnx"):
        det.detect(np.zeros((32, 32, 3), np.uint8))


@needs_detector
def test_blank_and_noise_images_have_no_face(detector):
    result = detector.detect(Image.new("RGB", (640, 480), (128, 128, 128)))
    assert isinstance(result, FaceDetection)
    assert result.found is False and result.faces == [] and len(result) == 0
    assert result.image_size == (640, 480) and result.largest is None
    noise = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert not detector.detect(noise).found
    tiny = detector.detect(np.zeros((3, 5, 3), np.uint8))
    assert not tiny.found and tiny.image_size == (5, 3)


@needs_detector
def test_face_found_in_synthetic_photo(detector, fer_faces):
    hits = 0
    for i, path in enumerate(fer_faces[:5]):
        x, y, size = 300, 120, 200
        result = detector.detect(photo_with_face(path, size, (x, y), seed=i))
        if len(result.faces) != 1:
            continue
        face = result.faces[0]
        cx, cy = face.center
        if abs(cx - (x + size / 2)) < size * 0.2 and abs(cy - (y + size / 2)) < size * 0.25:
            hits += 1
            assert x - 30 <= face.box[0] < face.box[2] <= x + size + 30
            assert face.crop.mode == "RGB" and face.crop.width == face.crop.height
            assert not face.whole_image and 0.0 < face.score <= 1.0
            if result.backend == "yunet":
                assert set(face.landmarks) == set(LANDMARK_NAMES)
                assert face.landmarks["left_eye"][0] < face.landmarks["right_eye"][0]
    assert hits >= 4, f"face found at the right place in only {hits}/5 synthetic photos"


@needs_yunet
def test_raw_ferplus_crops_mostly_detected(detector, fer_faces):
    # 48x48 images that *are* a face: upscaled before detection; callers still need the
    # whole-image fallback for the rest.
    found = sum(detector.detect(p).found for p in fer_faces)
    assert found >= int(0.75 * len(fer_faces))


@needs_detector
def test_faces_sorted_largest_first_and_options(fer_faces):
    photo = photo_with_face(fer_faces[0], 120, (40, 60), seed=1)
    big = Image.open(fer_faces[1]).convert("RGB").resize((220, 220), Image.Resampling.BICUBIC)
    photo.paste(big, (360, 200))
    result = FaceDetector(crop_size=96).detect(photo)
    if len(result.faces) < 2:
        pytest.skip("detector found fewer than two of the pasted faces")
    areas = [f.area for f in result.faces]
    assert areas == sorted(areas, reverse=True)
    assert result.faces[0].box[0] >= 300
    assert all(f.crop.size == (96, 96) for f in result.faces)
    assert len(FaceDetector(max_faces=1).detect(photo).faces) == 1
    assert all(f.width >= 150 for f in FaceDetector(min_face=150).detect(photo).faces)


@needs_detector
def test_exif_rotated_photo_boxes_are_in_upright_coordinates(detector, hopper, tmp_path):
    stored = hopper.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera stores
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, "JPEG", exif=exif.tobytes(), quality=92)
    result = detector.detect(path)
    reference = detector.detect(hopper)
    assert result.image_size == hopper.size
    assert result.found and reference.found
    assert np.allclose(result.faces[0].box, reference.faces[0].box, atol=12)


@needs_detector
def test_crop_faces_fallback_and_shared_detector():
    blank = np.full((300, 400, 3), 200, np.uint8)
    plain = crop_faces(blank)
    assert not plain.found and plain.faces == []
    result = crop_faces(blank, fallback=True, crop_size=64)
    assert not result.found and result.used_fallback
    assert result.faces[0].whole_image and result.faces[0].crop.size == (64, 64)
    assert _shared_detector({"crop_size": 64}) is _shared_detector({"crop_size": 64})


@needs_detector
def test_detector_is_thread_safe(fer_faces):
    det = FaceDetector()
    photos = [photo_with_face(p, 160, (100 + 40 * i, 100), seed=i) for i, p in enumerate(fer_faces[:4])]
    serial = [[f.box for f in det.detect(p).faces] for p in photos]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda p: [f.box for f in det.detect(p).faces], photos * 3))
    assert parallel == serial * 3


@needs_detector
def test_detect_refuses_huge_images(detector):
    with pytest.raises(ImageLoadError, match="too large"):
        detector.detect(png_header_only(9000, 9000), name="huge.png")
