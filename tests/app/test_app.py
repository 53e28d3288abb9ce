"""The Gradio layer: the page's tabs and endpoints, handlers adapting service results, main."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import gradio as gr
import pytest
from gradio.data_classes import ImageData
from PIL import Image

from tests.service.helpers import BACKGROUND, png_bomb, quad_files

ENDPOINTS = {
    "predict", "predict_whole_image", "sqs_maps", "sqs_pick", "sqs_random_quad",
    "sqs_random_maps", "sqs_upload_anchor", "sqs_upload_positive", "sqs_upload_negative1",
    "sqs_upload_negative2", "sqs_add_images", "model_card", "rescan_checkpoints",
    "why_not", "why_not_after_predict",
    "load_example",  # gr.Examples' own (undocumented) event: a click loads the photo
}


@pytest.fixture(scope="module")
def ui(app_module):
    """The tab modules of ``apps/sqsnet_space/space_ui`` (importable once the app is)."""
    from space_ui import charts, components, explorer_tab, model_tab, predict_tab

    return type("UI", (), {"components": components, "explorer": explorer_tab,
                           "model": model_tab, "predict": predict_tab, "charts": charts})


def _by_id(demo: gr.Blocks, elem_id: str):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


# ------------------------------------------------------------------------------ the page


def test_build_demo_names_every_event_and_keeps_the_tabs(app_module, lab):
    demo = app_module.build_demo(lab=lab)
    names = [dep.api_name for dep in demo.fns.values()]
    assert all(names), names
    assert set(names) == ENDPOINTS
    tabs = [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert tabs == ["Predict", "SQS explorer", "Model"]
    assert demo._queue.default_concurrency_limit == app_module.DEFAULT_CONCURRENCY
    assert demo._queue.max_size == app_module.QUEUE_SIZE
    assert demo.lab is lab


def test_no_layout_function_is_long(app_module, ui):
    for module in (app_module, ui.predict, ui.explorer, ui.model, ui.components, ui.charts):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__:
                assert len(inspect.getsource(fn).splitlines()) <= 100, name


# ------------------------------------------------------------------------------- Predict


def test_predict_outputs_match_components(app_module, ui, lab, face_photo):
    out = ui.predict.PredictHandlers(lab).predict(str(face_photo), False, "local")
    assert len(out) == 4 + 4 * app_module.MAX_FACES_SHOWN + 1
    status, annotated, _button, payload = out[:4]
    assert "1 face" in status and annotated is not None
    assert payload["faces"][0]["label"] in lab.predictor().class_names
    row, crop, cam, bars = out[4:8]  # first face: row, crop, Grad-CAM, probability bars
    assert row["visible"] and crop["visible"] and cam["visible"]
    assert Image.open(crop["value"]).size == (224, 224)  # a file (see test_outputs.py)
    assert bars["visible"] is True
    names = lab.predictor().class_names
    assert all(f'<span class="sqs-bar-name">{n}</span>' in bars["value"] for n in names)
    assert all(u["visible"] is False for u in out[8:-1])  # unused face slots hidden
    assert out[-1]["visible"] is True  # the Grad-CAM colour bar, shown with an overlay
    off = ui.predict.PredictHandlers(lab).predict(str(face_photo), False, "off")
    assert off[-1]["visible"] is False


def test_why_not_shows_the_quad_the_map_its_colour_bar_and_a_sentence(ui, lab):
    photo = str(lab.predict_examples()[0].path)
    handlers = ui.predict.PredictHandlers(lab)
    status, faces, contrast, legend, sentence = handlers.why_not(photo, 1)
    assert status.startswith("**Why ") and ", not " in status
    shown = re.findall(r'<img src="gradio_api/file=([^"]+)" width="224" height="224" '
                       r'alt="([^"]+)"><figcaption>([^<]+)</figcaption>', faces["value"])
    assert faces["visible"] and [a.split(":")[0] for _, a, _ in shown] == [
        "anchor", "positive", "negative 1", "negative 2"]
    assert all(Image.open(p).size == (224, 224) and a == c for p, a, c in shown)
    assert contrast["visible"] and Image.open(contrast["value"]).size == (224, 224)
    assert legend["visible"] and "the margin m = " in legend["value"]
    assert 'role="img" aria-label="Colour bar from ' in legend["value"]
    assert sentence.startswith("**Reading it.** ") and " grid)" in sentence
    status, faces, contrast, legend, sentence = handlers.why_not(photo, 99)
    assert status.startswith("⚠️ This photo has ") and faces["visible"] is False
    assert legend["visible"] is False and sentence == ""
    assert handlers.why_not(None)[0] == ""  # nothing uploaded: nothing to say


def test_probability_bars_show_all_classes_sorted(ui):
    probs = {"neutral": 0.05, "happiness": 0.7, "surprise": 0.2, "fear": 0.05}
    html = ui.charts.probability_bars_html(probs, "Face 1: happiness")
    names = [n for n in probs if f'<span class="sqs-bar-name">{n}</span>' in html]
    assert len(names) == 4
    order = sorted(probs, key=lambda n: html.index(f'<span class="sqs-bar-name">{n}</span>'))
    assert order == ["happiness", "surprise", "neutral", "fear"]
    assert html.count("sqs-bar-top") == 1 and 'width:70.0%' in html and "70.0%</span>" in html
    assert 'aria-label="Face 1: happiness: happiness 70%, surprise 20%' in html
    assert "<script" not in ui.charts.probability_bars_html({"<script>": 1.0}, "x")


def test_cam_legend_is_a_jet_colour_bar_with_one_sentence(ui):
    from sqsnet.service.explain import CAM_LEGEND, colormap_stops

    html = ui.charts.cam_legend_html()
    assert "linear-gradient(to right, " + ", ".join(colormap_stops()) in html
    assert "low" in html and "high" in html and CAM_LEGEND.split(",")[0] in html


def test_page_opens_with_examples_and_a_drawn_quad(app_module, lab):
    """Issue 28: something to click on Predict; the explorer opens on a quad with maps."""
    demo = app_module.build_demo(lab=lab)
    examples = _by_id(demo, "predict-examples")
    shown = lab.predict_examples()
    assert len(shown) >= 8 and len(examples.samples) == len(shown)
    assert all("muxspace" in e.sources[0] for e in shown)
    quad, opening = lab.opening_quad()
    assert quad is not None and not opening.error
    for slot, item in zip(("anchor", "positive", "negative1", "negative2"), quad):
        assert _by_id(demo, f"slot-{slot}").value is not None, slot
    assert _by_id(demo, "sqs-maps").value is not None
    assert _by_id(demo, "sqs-overlays").value is not None
    assert _by_id(demo, "sqs-status").value.startswith("Quad: anchor: ")
    # "Show SQS maps" on the opening quad: the slots' values come back as the page holds them
    from space_ui.explorer_tab import ExplorerHandlers

    slots = [_by_id(demo, f"slot-{s}") for s in ("anchor", "positive", "negative1", "negative2")]
    held = [slot.preprocess(ImageData(**slot.value)) for slot in slots]
    status, figure, overlays, _ = ExplorerHandlers(lab).show_maps(
        *held, [it.label for it in quad], None)
    assert status == opening.status and figure is not None and len(overlays) == 4


def test_header_states_the_accuracy_as_run_and_the_size_once(app_module, lab):
    demo = app_module.build_demo(lab=lab)
    header = next(b.value for b in demo.blocks.values()
                  if isinstance(b, gr.Markdown) and str(b.value).startswith("# SQSNet lab"))
    assert lab.checkpoint_info_line() in header
    assert "at crop 0.95 (the crop this app uses)" in header and header.count(" MB") == 1


def test_bad_upload_is_one_line_and_a_toast(ui, lab, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a photo")
    handlers = ui.predict.PredictHandlers(lab)
    with pytest.warns(UserWarning, match="not a readable image"):  # gr.Warning outside a request
        out = handlers.predict(str(path))
    assert out[0].startswith("⚠️") and out[1] is None and out[3]["error"]
    with pytest.warns(UserWarning, match="not valid base64 image data"):
        out = handlers.predict("data:image/png;base64,!!!")
    assert out[0].startswith("⚠️ The upload is not valid base64 image data")
    assert "Upload a photo" not in out[0]
    assert handlers.predict(None)[0] == "Upload a photo or take one with the webcam."


def test_no_face_offers_the_whole_image(ui, lab, tmp_path):
    path = tmp_path / "wall.png"
    Image.new("RGB", (640, 480), BACKGROUND).save(path)
    handlers = ui.predict.PredictHandlers(lab)
    assert handlers.predict(str(path))[2]["visible"] is True  # "Classify the whole image"
    out = handlers.predict_whole_image(str(path))
    assert out[3]["faces"][0]["whole_image"] is True and out[2]["visible"] is False


def test_upload_component_never_decodes(ui, tmp_path):
    """The image input hands over the path (even of a bomb) or the data URL untouched."""
    comp = ui.components.upload_image(label="x")
    path = png_bomb(tmp_path / "bomb.png")
    assert comp.preprocess(ImageData(path=str(path), orig_name="bomb.png")) == str(path)
    assert comp.preprocess(None) is None
    url = "data:image/png;base64,aGVsbG8="
    assert comp.preprocess(ImageData(url=url)) == url  # decoded by the service


# -------------------------------------------------------------------------- SQS explorer


def _select(index: int) -> gr.SelectData:
    """A gallery click on item ``index`` as Gradio hands it to the handler."""
    return gr.SelectData(None, {"index": index, "value": None, "selected": True})


def test_explorer_pick_fills_the_slot_and_moves_on(ui, lab):
    if not lab.gallery:
        pytest.skip("no FERPlus data: the gallery is empty")
    handlers = ui.explorer.ExplorerHandlers(lab)
    out = handlers.pick(_select(1), "positive", [None] * 4, [])
    slots, target, labels, status = out[:4], out[4], out[5], out[6]
    assert slots[1] == lab.gallery[1].path and target == "negative 1"
    assert labels == [None, lab.gallery[1].label, None, None]
    assert status.startswith("Positive: ")
    gone = handlers.pick(_select(999), "anchor", [None] * 4, [])
    assert "gone" in gone[-1] and gone[4] == "anchor"


def test_explorer_random_quad_and_maps(ui, lab):
    handlers = ui.explorer.ExplorerHandlers(lab)
    assert lab.gallery  # FERPlus valid faces, or the bundled examples without the data
    out = handlers.random_fill([None] * 4)
    paths, labels, message = out[:4], out[4], out[5]
    assert all(Path(p).is_file() for p in paths) and "Random quad" in message
    status, figure, overlays, explanation = handlers.show_maps(*paths, labels, None)
    assert status.startswith("Quad: anchor: ") and figure is not None and len(overlays) == 4
    assert "Hinge loss" in explanation


def test_explorer_figure_is_shown_at_its_natural_width_with_alt_text(ui, lab):
    quad, _ = lab.opening_quad()
    assert quad is not None
    handlers = ui.explorer.ExplorerHandlers(lab)
    _, figure, overlays, _ = handlers.show_maps(*(it.path for it in quad),
                                                [it.label for it in quad], None)
    m = re.search(r'<img src="gradio_api/file=([^"]+)" width="(\d+)" height="(\d+)" '
                  r'alt="([^"]+)" data-text-px="([\d.]+)">', figure)
    assert m, figure
    path, width, height = m.group(1), int(m.group(2)), int(m.group(3))
    assert Image.open(path).size == (width, height)  # the tag states the natural size
    assert "S_AP" in m.group(4) and "L_SQS" in m.group(4)
    assert float(m.group(5)) >= 11.0  # text at least 11 px at that size
    assert 'class="sqs-scroll"' in figure
    assert all(Path(p).is_file() for p, _ in overlays)


def test_explorer_warns_when_the_quad_is_not_valid(ui, lab):
    quad, _ = lab.opening_quad()
    assert quad is not None
    a, p, n1, n2 = quad
    handlers = ui.explorer.ExplorerHandlers(lab)
    # the positive swapped with a negative: a positive of another class, a negative of A's
    with pytest.warns(UserWarning, match="Not a valid SQS quad: the positive is "):
        status, figure, _, _ = handlers.show_maps(a.path, n1.path, p.path, n2.path,
                                                  [a.label, n1.label, p.label, n2.label], None)
    assert status.startswith("⚠️ **Not a valid SQS quad**: the positive is "
                             f"{n1.label}, not the anchor's class ({a.label}); negative 1 is "
                             f"{a.label}, the anchor's own class.")
    assert figure  # drawn anyway
    ok, _, _, _ = handlers.show_maps(a.path, p.path, n1.path, n2.path,
                                     [a.label, p.label, n1.label, n2.label], None)
    assert ok.startswith("Quad: anchor: ") and "valid" not in ok


def test_explorer_errors_are_shown(ui, lab, tmp_path):
    handlers = ui.explorer.ExplorerHandlers(lab)
    files = quad_files(tmp_path)
    with pytest.warns(UserWarning, match="not valid base64"):
        status, figure, _, _ = handlers.show_maps("data:,oops", *files[1:], [None] * 4, None)
    assert status.startswith("⚠️ The anchor image is not valid base64 image data") and figure == ""


def test_explorer_uploads_join_the_gallery(ui, lab, tmp_path, face_photo):
    handlers = ui.explorer.ExplorerHandlers(lab)
    labels, uploads, entries = handlers.slot_upload(2, str(face_photo), ["a", "b", "c", "d"], [])
    assert labels == ["a", "b", None, "d"] and len(uploads) == 1
    assert entries[-1] == (str(face_photo), "your upload: one_face.png")
    labels, same, _ = handlers.slot_upload(0, "data:image/png;base64,aGVsbG8=", labels, uploads)
    assert labels[0] is None and same == uploads  # a data URL has no file to keep
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a broken")
    with pytest.warns(UserWarning, match="bad.gif"):
        ups, entries, message, cleared = handlers.add_to_gallery([str(bad)], uploads)
    assert ups == uploads and "Skipped" in message and cleared is None
    assert len(entries) == len(lab.gallery) + 1


# --------------------------------------------------------------------------------- Model


def test_model_tab_card_and_rescan(ui, lab, tmp_path, monkeypatch):
    handlers = ui.model.ModelHandlers(lab)
    text, details, header = handlers.show_card("default")
    assert "default.safetensors" in text and "config" in header
    assert "## Details" not in text and details
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    monkeypatch.setitem(lab.store.checkpoints, "broken.safetensors", broken)
    with pytest.warns(UserWarning, match="checkpoint could not be loaded"):
        text, _details, header = handlers.show_card("broken.safetensors")
    assert text.startswith("⚠️ The checkpoint could not be loaded") and header == {}
    monkeypatch.undo()
    update = handlers.rescan("gone.safetensors")
    assert update["value"] == "default" and update["choices"] == lab.checkpoint_choices()


# ---------------------------------------------------------------------------- main, Space


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
    monkeypatch.setattr(app_module, "set_compute_threads",
                        lambda n: calls.setdefault("threads", n) or 2)
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("SQSNET_GALLERY", raising=False)
    app_module.main(["--checkpoints", "runs", "--port", "7999"])
    assert calls["build"][:3] == ("default", None, "runs")
    assert calls["build"][3] == {"gallery_per_class": 6,
                                 "concurrency": app_module.DEFAULT_CONCURRENCY}
    assert calls["threads"] == app_module.DEFAULT_THREADS
    assert calls["launch"]["server_name"] == "127.0.0.1"
    assert calls["launch"]["server_port"] == 7999 and calls["launch"]["share"] is False
    assert calls["probe"] is app_module.patient_url_ok
    assert gradio.networking.url_ok is not app_module.patient_url_ok  # restored


@pytest.mark.parametrize("args, word", [(["--gallery", "nowhere"], "nowhere"),
                                        (["--checkpoint", "missing.safetensors"], "missing")])
def test_main_reports_bad_arguments_in_one_line(app_module, tmp_path, capsys, args, word):
    with pytest.raises(SystemExit) as info:
        app_module.main([a.replace("nowhere", str(tmp_path / "nowhere")) for a in args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("sqsnet-app: error: ") and word in err and "Traceback" not in err


def test_space_files(app_module):
    folder = Path(app_module.__file__).parent
    readme = (folder / "README.md").read_text()
    front = readme.split("---")[1]
    assert "sdk: gradio" in front and "app_file: app.py" in front
    assert f"sdk_version: {gr.__version__}" in front
    for key in ("title:", "emoji:", "license:"):
        assert key in front
    reqs = (folder / "requirements.txt").read_text()
    assert "gradio" in reqs and "torch" in reqs and "timm" in reqs
    assert not list(folder.rglob("*.pyi"))  # no Gradio stub written beside the app
