"""Looking at our pages as a user would: headless Chromium loads a page, and we read back the DOM
it built and a screenshot of what it drew. Also a small DOM reader for the serialised DOM."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
         "--mute-audio", "--disable-dev-shm-usage"]


def find() -> str | None:
    """The Chromium (or Chrome) executable on PATH, if any."""
    return next((p for p in map(shutil.which, NAMES) if p), None)


def _run(exe: str, args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)


def dump_dom(exe: str, page: Path, profile: Path) -> str:
    """The DOM Chromium built from ``page``, serialised after load."""
    done = _run(exe, ["--dump-dom", page.resolve().as_uri()], profile)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(exe: str, page: Path, target: Path, profile: Path, width: int = 1200, height: int = 1600) -> Path:
    """A PNG of the first ``width`` x ``height`` pixels of ``page`` as Chromium draws it."""
    done = _run(exe, [f"--screenshot={target}", f"--window-size={width},{height}", page.resolve().as_uri()], profile)
    assert done.returncode == 0 and target.is_file(), done.stderr[-2000:]
    return target


def pixels(png: Path):
    """The screenshot as an (height, width, 3) uint8 array."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        return np.asarray(image.convert("RGB"))


def drawn_share(png: Path) -> tuple[float, int]:
    """The share of pixels that are not the white page, and the number of distinct colours."""
    import numpy as np

    rgb = pixels(png)
    flat = rgb.reshape(-1, 3)
    return float((flat < 245).any(axis=1).mean()), len(np.unique(flat, axis=0))


def has_colour(png: Path, hex_colour: str, at_least: int = 50, below: int = 0) -> bool:
    """Whether at least ``at_least`` pixels of the screenshot, ``below`` the given row, have exactly ``hex_colour``."""
    rgb = pixels(png)[below:]
    want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return int((rgb == want).all(axis=2).sum()) >= at_least


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list = field(default_factory=list)  # Node or str

    def text(self, skip_class: str | None = None) -> str:
        """The text content, leaving out elements of class ``skip_class``."""
        parts = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif skip_class is None or skip_class not in child.attrs.get("class", "").split():
                parts.append(child.text(skip_class))
        return "".join(parts)

    def iter(self, tag: str | None = None):
        if tag is None or self.tag == tag:
            yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter(tag)

    def by_id(self, id_: str) -> Node | None:
        return next((n for n in self.iter() if n.attrs.get("id") == id_), None)

    def with_class(self, name: str) -> list[Node]:
        return [n for n in self.iter() if name in n.attrs.get("class", "").split()]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    """A serialised DOM as a tree of Nodes."""
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
