"""The README's pictures: the demo model's report and a predictions page, drawn by headless
Chromium and saved small (palette PNG) under docs/. Run after `make demo` (`make screenshots` does both).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tests import chromium

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runs" / "demo"


def shrink(png: Path, target: Path, width: int) -> int:
    """``png`` scaled to ``width`` pixels and reduced to a 256-colour palette; returns its bytes."""
    from PIL import Image

    with Image.open(png) as image:
        image = image.convert("RGB")
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(target, optimize=True)
    return target.stat().st_size


def main() -> int:
    browser = chromium.find()
    if browser is None:
        print("no Chromium here: `make browser` installs Debian's package", file=sys.stderr)
        return 1
    if not (DEMO / "report.html").is_file():
        print("no runs/demo/report.html: run `make demo` first", file=sys.stderr)
        return 1
    predictions = DEMO / "predictions.html"
    with predictions.open("w", encoding="utf-8") as out:
        subprocess.run([Path(sys.executable).parent / "ner-bilstm", "predict", "--model", DEMO, ROOT / "data" / "sample" / "text.txt",
                        "--output-format", "html"], stdout=out, check=True)
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for page, name, height in ((DEMO / "report.html", "report.png", 2050), (predictions, "predictions.png", 760)):
            shot = chromium.screenshot(browser, page, Path(tmp) / name, Path(tmp) / "profile", width=1200, height=height)
            size = shrink(shot, docs / name, 900)
            print(f"docs/{name}: {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
