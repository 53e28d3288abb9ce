"""Decoding uploads: paths, bytes, base64 data URLs, and the one-line error messages."""

from __future__ import annotations

import base64
import io
import logging

import pytest
from PIL import Image

from sqsnet.checkpoint import CheckpointError
from sqsnet.faces import ImageLoadError
from sqsnet.service.uploads import (
    UploadError,
    decode_data_url,
    is_data_url,
    is_empty_upload,
    load_upload,
    upload_name,
    user_message,
)


def _png_data_url(size: tuple[int, int] = (40, 30)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_decode_data_url_gives_the_bytes():
    assert decode_data_url("data:image/png;base64,aGVsbG8=") == b"hello"
    assert decode_data_url("data:image/png;base64,aGVs\nbG8=") == b"hello"  # line-wrapped


@pytest.mark.parametrize("url, why", [
    ("data:image/png;base64,aGVsbG8", "alphabet or a wrong padding"),  # padding missing
    ("data:image/png;base64,!!not base64!!", "alphabet"),
    ("data:image/png;base64,", "empty"),
    ("data:image/png,aGVsbG8=", "not a base64 data URL"),
    ("data:image/png;base64", "not a base64 data URL"),
])
def test_invalid_base64_is_one_clear_line(url, why):
    with pytest.raises(UploadError) as info:
        decode_data_url(url)
    message = str(info.value)
    assert message.startswith("The upload is not valid base64 image data")
    assert why in message and "\n" not in message


def test_load_upload_decodes_a_data_url_and_names_bad_content():
    image = load_upload(_png_data_url())
    assert image.mode == "RGB" and image.size == (40, 30)
    not_an_image = "data:image/png;base64," + base64.b64encode(b"hello").decode()
    with pytest.raises(ImageLoadError, match="the uploaded image: not a readable image"):
        load_upload(not_an_image)
    with pytest.raises(UploadError, match="not valid base64 image data"):
        load_upload("data:image/png;base64,@@@@")


def test_load_upload_reads_paths_and_bytes(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (20, 10), (255, 0, 0)).save(path)
    assert load_upload(str(path)).size == (20, 10)
    assert load_upload(path.read_bytes()).size == (20, 10)
    with pytest.raises(ImageLoadError, match="gone.png: no such file"):
        load_upload(str(tmp_path / "gone.png"))


def test_names_and_flags(tmp_path):
    assert upload_name(str(tmp_path / "cat.jpg")) == "cat.jpg"
    assert upload_name(b"\x89PNG") == "the uploaded image"
    assert upload_name("data:image/png;base64,aGVsbG8=") == "the uploaded image"
    assert upload_name(Image.new("RGB", (2, 2))) == "the uploaded image"
    assert is_data_url("data:image/png;base64,x") and not is_data_url(str(tmp_path / "x.png"))
    assert not is_data_url(b"data:")
    assert is_empty_upload(None) and is_empty_upload(b"") and not is_empty_upload(b"x")


def test_user_message(tmp_path, caplog):
    cache_path = str(tmp_path / "gradio" / "abc123" / "notes.txt")
    message = user_message(ImageLoadError(cache_path, "not a readable image"), "reading")
    assert message == "notes.txt: not a readable image"  # no server path in the page
    assert user_message(UploadError("The upload is not valid."), "x") == "The upload is not valid."
    assert user_message(CheckpointError("bad.safetensors: corrupt"), "x").startswith(
        "The checkpoint could not be loaded: bad.safetensors")
    with caplog.at_level(logging.ERROR, logger="sqsnet.service.uploads"):
        try:
            raise KeyError("boom")
        except KeyError as exc:
            message = user_message(exc, "reading the photo")
    assert "while reading the photo (KeyError" in message and "still running" in message
    assert "Traceback" not in message and "Traceback" in caplog.text  # logged, not shown
