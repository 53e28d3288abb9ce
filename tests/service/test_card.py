"""Model cards: the bundled card, cards written from metadata, the one-line summary."""

from __future__ import annotations

from pathlib import Path

from sqsnet.checkpoint import DEFAULT_CHECKPOINT
from sqsnet.service.card import (
    accuracy_as_run,
    card_from_header,
    info_line,
    model_card,
    read_card_file,
    split_card,
    val_accuracy,
)
from sqsnet.service.store import read_checkpoint_header
from tests.service.test_store import save_tiny

HEADER = {
    "config": {"name": "tiny_test",
               "model": {"img_size": 32, "fusion": "cross_attention", "fused_dim": 32,
                         "use_global": False, "local_branch": {"name": "resnet10t"},
                         "sqs": {"tau": 1.0, "margin": 0.2}},
               "data": {"dataset": "ferplus", "batch_size": 8},
               "train": {"epochs": 2, "lr": 0.001, "seed": 1}},
    "meta": {"epoch": 2, "metrics": {"val": {"accuracy": 0.5}, "test": 0.25}},
}


def test_default_model_card(lab):
    card, header = lab.model_card("default")
    text = card.summary
    assert "default.safetensors" in text and "loaded" in text
    assert header["config"]["model"]["num_classes"] == 8
    card_file = DEFAULT_CHECKPOINT.parent / "MODEL_CARD.md"
    if card_file.is_file():
        first = next(line for line in card_file.read_text().splitlines()
                     if line.strip() and not line.startswith("---"))
        assert first.strip() in text
    else:
        assert "ferplus" in text.lower()
    assert lab.model_card("nope")[0].summary.startswith("⚠️ Unknown checkpoint")


def test_card_from_header():
    text = card_from_header(Path("/runs/x/best.safetensors"), HEADER)
    assert text.startswith("## tiny_test")
    assert "| file | `best.safetensors` |" in text and "| global branch | off |" in text
    assert "| local branch | resnet10t |" in text and "cross_attention (d3 = 32)" in text
    assert "| val | accuracy | 0.5 |" in text and "| test | | 0.25 |" in text
    assert "sqsnet train --config tiny_test --data-root PATH" in text  # reconstructed
    assert "**SQS settings:** tau 1, margin 0.2" in text
    assert "**Training:** epochs 2, lr 0.001, batch 8" in text


def test_model_card_of_a_run_with_a_note(tmp_path):
    path = save_tiny(tmp_path / "best.safetensors", note="trained on 10 images")
    header = read_checkpoint_header(path)
    card = model_card(path, header, loaded=False)
    text = card.summary
    assert text.startswith("> ⚠️ **Note:** trained on 10 images")
    assert "sqsnet train --config tiny" in text and "loads on first use" in text
    assert f"{path.stat().st_size / 1e6:.1f} MB" in text and card.details == ""


def test_info_line_and_accuracy():
    assert val_accuracy(HEADER["meta"]) == 0.5
    assert val_accuracy({"metrics": {"valid": {"accuracy": 1}}}) == 1.0
    assert val_accuracy({"metrics": {"val": 0.3}}) is None and val_accuracy({}) is None
    line = info_line("run/best.safetensors", {"meta": {"dataset": "ferplus", **HEADER["meta"]}})
    assert line == "Model: **run/best.safetensors**, trained on ferplus, validation accuracy 50.00%."
    line = info_line("x", {"meta": {}}, size_bytes=21_001_332)
    assert line == "Model: **x**, 21.0 MB."


def test_accuracy_as_run_follows_the_evaluation_crop():
    """A crop set after training: the header gives the figure at the crop the model runs."""
    header = {"config": {"model": {"crop_pct": 0.95}},
              "meta": {"metrics": {"val": {"accuracy": 0.8756}},
                       "eval_crop": {"crop_pct": 0.95, "after": {"val": {"accuracy": 0.8831}}}}}
    assert accuracy_as_run(header) == (0.8831, 0.95)
    header["config"]["model"]["crop_pct"] = 1.0  # the recorded crop is not the one in use
    assert accuracy_as_run(header) == (0.8756, 1.0)
    assert accuracy_as_run({"meta": {}}) == (None, None)


def test_header_line_and_card_state_the_numbers_the_app_runs(lab):
    """Issue 28: the header states the accuracy at the app's crop and the size, once; the
    card's summary agrees (the numbers come from the checkpoint's metadata)."""
    header = read_checkpoint_header(DEFAULT_CHECKPOINT)
    acc, crop = accuracy_as_run(header)
    assert crop == lab.predictor().model.cfg.crop_pct  # the crop the app's transform uses
    assert acc == header["meta"]["eval_crop"]["after"]["val"]["accuracy"]
    line = lab.checkpoint_info_line()
    size = f"{DEFAULT_CHECKPOINT.stat().st_size / 1e6:.1f} MB"
    assert f"{acc:.2%} at crop {crop:g}" in line and line.count(" MB") == 1 and size in line
    card, _ = lab.model_card("default")
    if (DEFAULT_CHECKPOINT.parent / "MODEL_CARD.md").is_file():
        assert f"{acc:.2%}" in card.summary and size in card.summary
        assert card.summary.count(" MB") == card.summary.count(size)  # one size throughout
        assert card.details and "## Details" not in card.summary
        assert len(card.summary.splitlines()) < 60  # fits a screen; the rest is folded


def test_split_card():
    card = split_card("# T\n\nsummary\n\n## Details\n\n### A\n\nmore\n")
    assert card.summary == "# T\n\nsummary" and card.details == "### A\n\nmore"
    assert split_card("# T\n\nonly").details == ""


def test_read_card_file_drops_front_matter(tmp_path):
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("---\nlicense: mit\n---\n\n# SQSNet\n\nText.\n")
    assert read_card_file(card) == "# SQSNet\n\nText."
