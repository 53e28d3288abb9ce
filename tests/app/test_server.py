"""The running app on 127.0.0.1, driven through gradio_client like any API user."""

from __future__ import annotations

import json

import pytest

from tests.service.helpers import png_bomb

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client(server_url):
    return gradio_client.Client(server_url, verbose=False)


def test_api_lists_named_endpoints(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/predict", "/predict_whole_image", "/sqs_maps", "/model_card"):
        assert name in endpoints
    params = [p["parameter_name"] for p in endpoints["/predict"]["parameters"]]
    assert params[0] == "image"


def test_predict_a_face_over_http(client, lab, face_photo):
    from gradio_client import handle_file

    out = client.predict(handle_file(str(face_photo)), api_name="/predict")
    status, _annotated, payload = out[0], out[1], out[2]
    assert "1 face" in status
    label = payload["faces"][0]["label"]
    assert label in lab.predictor().class_names
    bars = out[5]["value"]  # the first face's probability bars (crop, Grad-CAM, bars per face)
    assert f"Face 1: {label}" in bars and all(n in bars for n in lab.predictor().class_names)


def test_bad_files_get_a_message_and_the_app_keeps_serving(client, face_photo, tmp_path):
    from gradio_client import handle_file

    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    out = client.predict(handle_file(str(text)), api_name="/predict")
    assert out[0].startswith("⚠️") and "not a readable image" in out[0]
    bomb = png_bomb(tmp_path / "bomb.png")
    out = client.predict(handle_file(str(bomb)), api_name="/predict")
    assert "too large" in out[0] and out[2]["error"]
    out = client.predict(handle_file(str(face_photo)), api_name="/predict")
    assert out[2]["faces"], out[0]


def test_model_card_endpoint(client):
    text, details, meta = client.predict("default", api_name="/model_card")
    assert "default.safetensors" in text and "config" in meta and details


def test_invalid_base64_over_http_is_named_as_such(server_url):
    """An API client that sends a data URL with bad base64 gets that said, in one line."""
    import httpx

    call = f"{server_url}gradio_api/call/predict"
    image = {"url": "data:image/png;base64,!!!", "meta": {"_type": "gradio.FileData"}}
    event = httpx.post(call, json={"data": [image, False, "off", "default"]}, timeout=60)
    event.raise_for_status()
    with httpx.stream("GET", f"{call}/{event.json()['event_id']}", timeout=60) as stream:
        text = "".join(stream.iter_text())
    assert "event: complete" in text, text[:300]
    data = json.loads(text.split("data: ", 1)[1].splitlines()[0])
    assert data[0].startswith("⚠️ The upload is not valid base64 image data")
    assert data[3]["error"] and not data[3]["faces"]
