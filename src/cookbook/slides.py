"""Whole-slide plumbing for chapter 6: which slides can be read, where a patch lies, where the
tissue is, and how a tile map is drawn over a slide.

One rule for pyramid levels everywhere (:func:`usable_level`): a level a slide does not have is
clamped to its coarsest level, with a warning naming the slide, so that discovery, patch cutting
and the heat map always agree on the downsample.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cookbook.datasets import wsi
from cookbook.datasets.errors import DatasetFormatError

log = logging.getLogger(__name__)
SLIDE_SUFFIXES = (".tif", ".tiff", ".svs")


@dataclass(frozen=True)
class SlideInfo:
    """What the notebook needs to know about one readable slide."""

    name: str
    path: str
    width: int  # level-0 pixels
    height: int
    levels: int
    level: int  # the level patches are read at (see usable_level)
    downsample: float  # of that level


def usable_level(levels: int, level: int, name: str = "") -> int:
    """``level`` if the slide has it, else its coarsest level (with a warning)."""
    if level < levels:
        return level
    log.warning(
        "slide %s has %d level(s); reading level %d instead of %d", name, levels, levels - 1, level
    )
    return levels - 1


def describe(path: str | Path, level: int, name: str | None = None) -> SlideInfo:
    """Open a slide (tiles checked, see :func:`cookbook.datasets.wsi.open_slide`) and describe
    it for reading patches at ``level``."""
    path = Path(path)
    name = name or path.stem
    with wsi.open_slide(path) as slide:
        used = usable_level(slide.level_count, level, name)
        return SlideInfo(
            name,
            str(path),
            *slide.dimensions,
            slide.level_count,
            used,
            float(slide.level_downsamples[used]),
        )


@dataclass
class SlideSet:
    """The slides named in the coordinate lists: readable ones, missing ones, unreadable ones."""

    found: dict[str, SlideInfo]
    missing: list[str]
    unreadable: dict[str, str]  # name -> the error

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(info) for info in self.found.values()]).set_index("name")


def find_slides(names, folder: str | Path | None, level: int) -> SlideSet:
    """Look for each named slide in ``folder`` (``.tif``, ``.tiff`` or ``.svs``) and open it.
    A missing slide is listed, an unreadable one (corrupt, or a format OpenSlide does not know)
    is reported with the reason; neither stops the others."""
    found, missing, unreadable = {}, [], {}
    for name in sorted(set(names)):
        candidates = [Path(folder) / f"{name}{s}" for s in SLIDE_SUFFIXES] if folder else []
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(name)
            continue
        try:
            found[name] = describe(path, level, name)
        except DatasetFormatError as exc:
            unreadable[name] = str(exc)
    return SlideSet(found, missing, unreadable)


def patch_inside(coords: pd.DataFrame, slides: SlideSet, patch_size: int) -> np.ndarray:
    """True for each ``(slide, x, y)`` centre whose patch (``patch_size`` pixels at the slide's
    reading level) lies entirely on its slide; slides not found count as outside."""
    info = slides.table().reindex(coords["slide"])
    half = patch_size * info["downsample"].to_numpy(dtype=float) / 2
    x, y = coords["x"].to_numpy(dtype=float), coords["y"].to_numpy(dtype=float)
    inside = (x - half >= 0) & (y - half >= 0)
    inside &= x + half <= info["width"].to_numpy(dtype=float)
    inside &= y + half <= info["height"].to_numpy(dtype=float)
    return np.asarray(inside & info["width"].notna().to_numpy())


def read_patch(slide, x: float, y: float, size: int, level: int):
    """The ``size`` x ``size`` RGB patch centred on level-0 point ``(x, y)``, read at ``level``
    (``read_region`` takes the top-left corner in level-0 pixels and the size at the level)."""
    ds = slide.level_downsamples[level]
    corner = (int(x - size * ds / 2), int(y - size * ds / 2))
    return slide.read_region(corner, level, (size, size)).convert("RGB")


def tissue_mask(thumbnail) -> np.ndarray:
    """Tissue pixels of an RGB thumbnail: coloured (saturation) and not glass-white (value)."""
    hsv = np.asarray(thumbnail.convert("HSV"), dtype=np.float32) / 255
    return (hsv[..., 1] > 0.08) & (hsv[..., 2] < 0.95)


@dataclass
class TileGrid:
    """A grid of patch-sized tiles over a slide, and which of them lie on tissue."""

    info: SlideInfo
    tile: float  # level-0 pixels per tile side
    thumbnail: object  # PIL image
    mask: np.ndarray  # the thumbnail's tissue pixels
    columns: int
    rows: int
    centres: pd.DataFrame  # slide, x, y of the tiles on tissue (level-0 pixels)


def tissue_tiles(
    info: SlideInfo, patch_size: int, min_tissue: float = 0.5, thumbnail_size: int = 1024
) -> TileGrid:
    """Lay patch-sized tiles over the slide and keep those whose thumbnail area is at least
    ``min_tissue`` tissue."""
    with wsi.open_slide(info.path) as slide:
        thumb = slide.get_thumbnail((thumbnail_size, thumbnail_size)).convert("RGB")
    mask = tissue_mask(thumb)
    tile = patch_size * info.downsample
    columns, rows = int(info.width // tile), int(info.height // tile)
    sx, sy = thumb.width / info.width, thumb.height / info.height
    keep = []
    for r in range(rows):
        for c in range(columns):
            x0, y0 = int(c * tile * sx), int(r * tile * sy)
            x1, y1 = max(int((c + 1) * tile * sx), x0 + 1), max(int((r + 1) * tile * sy), y0 + 1)
            if mask[y0:y1, x0:x1].mean() >= min_tissue:
                keep.append((info.name, int((c + 0.5) * tile), int((r + 0.5) * tile)))
    centres = pd.DataFrame(keep, columns=["slide", "x", "y"])
    return TileGrid(info, tile, thumb, mask, columns, rows, centres)


def overlay(grid: TileGrid, scores: pd.DataFrame, outlines=(), cmap: str = "inferno"):
    """The slide's thumbnail with each scored tile (columns x, y, p) coloured by ``p`` and the
    ``outlines`` (level-0 polygons) drawn on top. Returns an RGB PIL image."""
    from matplotlib import colormaps
    from PIL import Image, ImageDraw

    heat = np.full((grid.rows, grid.columns), np.nan)
    rows = ((scores["y"] - grid.tile / 2) // grid.tile).astype(int)
    cols = ((scores["x"] - grid.tile / 2) // grid.tile).astype(int)
    heat[rows, cols] = scores["p"]
    rgba = (colormaps[cmap](np.nan_to_num(heat)) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(np.isnan(heat), 0, 150)
    sx, sy = grid.thumbnail.width / grid.info.width, grid.thumbnail.height / grid.info.height
    size = (int(grid.columns * grid.tile * sx), int(grid.rows * grid.tile * sy))
    image = grid.thumbnail.convert("RGBA")
    image.alpha_composite(Image.fromarray(rgba).resize(size, Image.NEAREST), (0, 0))
    draw = ImageDraw.Draw(image)
    for poly in outlines:
        points = [(x * sx, y * sy) for x, y in poly]
        draw.line([*points, points[0]], fill=(0, 255, 120, 255), width=3)
    return image.convert("RGB")
