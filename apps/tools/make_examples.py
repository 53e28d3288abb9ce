"""Rebuild the example images shipped in ``sqsnet/examples/`` from the muxspace collection.

    python apps/tools/make_examples.py [--source ../shared/data/muxspace] [--side 192]

The 24 faces below (three per class) were picked by hand from the muxspace candidates the
face detector finds exactly one clear face in (a seeded sample of each class folder,
ranked by detector score): visible expressions, varied people, no watermark. They were
not picked by what the model predicts. Each is resized to ``--side`` pixels (JPEG), and
three photos with several faces are composed from them (plain background, faces of
different sizes, so that "left to right" and "largest first" differ).

The muxspace collection is Apache-2.0 (its ``LICENSE``, copied beside the images); FERPlus
images are never used here (their terms forbid redistribution). ``manifest.json`` names
each file's class and source file; ``sqsnet/examples/README.md`` states source and licence.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "sqsnet" / "examples"

FACES: dict[str, tuple[str, ...]] = {
    "anger": ("Kim_Clijsters_0001.jpg", "Lindsay_Davenport_0006.jpg", "Javier_Weber_0002.jpg"),
    "contempt": ("Derek_Jeter_0002.jpg", "Mark_Philippoussis_0002.jpg", "Jose_Mourinho_0002.jpg"),
    "disgust": ("David_Nalbandian_0006.jpg", "Sourav_Ganguly_0002.jpg", "Tyler_Hamilton_0001.jpg"),
    "fear": ("Erika_Harold_0002.jpg", "Mirela_Manjani_0001.jpg", "Steve_Nash_0004.jpg"),
    "happiness": ("Eliane_Karp_0003.jpg", "Tubby_Smith_0003.jpg", "Jennifer_Garner_0012.jpg"),
    "neutral": ("Ben_Affleck_0001.jpg", "Thaksin_Shinawatra_0001.jpg", "Dan_Wheldon_0001.jpg"),
    "sadness": ("Andre_Agassi_0014.jpg", "George_W_Bush_0432.jpg", "Nila_Ferran_0001.jpg"),
    "surprise": ("Jorge_Valdano_0002.jpg", "Lleyton_Hewitt_0022.jpg", "Al_Sharpton_0005.jpg"),
}
"""Class -> source files in ``muxspace/<class>/`` (three per class)."""

PHOTOS: dict[str, tuple[tuple[str, int], ...]] = {
    "three_faces.jpg": (("happiness_1", 150), ("surprise_1", 190), ("sadness_2", 150)),
    "four_faces.jpg": (("anger_1", 150), ("neutral_1", 150), ("fear_2", 150), ("happiness_3", 150)),
    "two_faces.jpg": (("neutral_3", 120), ("happiness_2", 200)),
}
"""Composed photos: ``(example face, side in px)`` from left to right."""

BACKGROUND = (214, 219, 224)
QUALITY = 88


def _save_faces(source: Path, side: int) -> list[dict[str, object]]:
    entries = []
    for label, names in FACES.items():
        for k, name in enumerate(names, start=1):
            image = Image.open(source / label / name).convert("RGB")
            image = image.resize((side, side), Image.Resampling.LANCZOS)
            rel = f"faces/{label}_{k}.jpg"
            image.save(OUT / rel, quality=QUALITY, optimize=True)
            entries.append({"file": rel, "label": label, "source": f"muxspace/{label}/{name}"})
    return entries


def _compose(faces: dict[str, dict[str, object]], layout: tuple[tuple[str, int], ...]) -> Image.Image:
    gap = 40
    width = sum(s for _, s in layout) + gap * (len(layout) + 1)
    height = max(s for _, s in layout) + 2 * gap
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    x = gap
    for key, side in layout:
        face = Image.open(OUT / str(faces[key]["file"])).resize((side, side), Image.Resampling.LANCZOS)
        canvas.paste(face, (x, (height - side) // 2))
        x += side + gap
    return canvas


def main() -> None:
    """Write the faces, the composed photos, the licence and the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "muxspace")
    parser.add_argument("--side", type=int, default=192)
    args = parser.parse_args()
    for sub in ("faces", "photos"):
        shutil.rmtree(OUT / sub, ignore_errors=True)
        (OUT / sub).mkdir(parents=True)
    faces = _save_faces(args.source, args.side)
    by_key = {Path(str(f["file"])).stem: f for f in faces}
    photos = []
    for name, layout in PHOTOS.items():
        _compose(by_key, layout).save(OUT / "photos" / name, quality=QUALITY, optimize=True)
        photos.append({"file": f"photos/{name}",
                       "labels": [str(by_key[k]["label"]) for k, _ in layout],
                       "sources": [str(by_key[k]["source"]) for k, _ in layout]})
    shutil.copyfile(args.source / "LICENSE", OUT / "LICENSE")
    manifest = {
        "source": "muxspace facial_expressions (github.com/muxspace/facial_expressions)",
        "license": "Apache-2.0 (see LICENSE)",
        "faces": faces,
        "photos": photos,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(faces)} faces and {len(photos)} photos to {OUT}")


if __name__ == "__main__":
    main()
