"""sqsnet.faces.images: robust image loading (modes, EXIF, 16-bit, arrays, bad and huge inputs)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sqsnet.faces import MAX_IMAGE_PIXELS, ImageLoadError, load_image
from tests.faces.helpers import png_bytes, png_header_only


def test_load_rgba_composites_on_white():
    arr = np.zeros((10, 12, 4), np.uint8)
    arr[..., 0] = 200
    arr[:5, :, 3] = 255  # top half opaque red-ish, bottom half transparent
    out = load_image(png_bytes(Image.fromarray(arr, "RGBA")))
    assert out.mode == "RGB" and out.size == (12, 10)
    px = np.asarray(out)
    assert tuple(px[0, 0]) == (200, 0, 0)
    assert tuple(px[9, 0]) == (255, 255, 255)


def test_load_grayscale_la_and_palette():
    gray = Image.fromarray(np.full((8, 9), 77, np.uint8), "L")
    out = load_image(png_bytes(gray))
    assert out.mode == "RGB" and tuple(np.asarray(out)[0, 0]) == (77, 77, 77)
    la = Image.merge("LA", [gray, Image.new("L", gray.size, 0)])
    assert tuple(np.asarray(load_image(la))[0, 0]) == (255, 255, 255)
    pal = gray.convert("P")
    pal.info["transparency"] = 0
    assert load_image(png_bytes(pal)).mode == "RGB"


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
    out = load_image(png_bytes(img16))
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
    data = png_bytes(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match=r"cut\.png.*truncated"):
        load_image(path)


@pytest.mark.parametrize("width,height", [(8000, 6000), (100_000, 100_000)])
def test_huge_declared_size_is_refused(width, height):
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(png_header_only(width, height), name="bomb.png")
    assert width * height > MAX_IMAGE_PIXELS


def test_max_pixels_applies_to_arrays_and_can_be_lifted():
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(np.zeros((100, 100), np.uint8), max_pixels=5000)
    assert load_image(np.zeros((100, 100), np.uint8), max_pixels=None).size == (100, 100)
