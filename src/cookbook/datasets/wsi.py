"""Whole-slide images with tumour annotations (chapter 6): readers, download spec, slide generator.

The original is Camelyon16 (Radboud UMC and UMC Utrecht; CC0): 400 H&E whole-slide images of
lymph node sections, some with breast-cancer metastases outlined by pathologists. Each slide is
a pyramidal TIFF of ~100,000 x 200,000 pixels that OpenSlide reads level by level. The NCRF
project (Baidu Research) published patch lists and annotations in two simple formats, used here:

- **coordinate lists** (``tumor_*.txt``, ``normal_*.txt``): lines ``slide_name,x,y``, the centre
  of a patch in level-0 pixels; normal lists include normal regions of tumour slides;
- **polygon JSON** (``Tumor_101.json``): ``{"positive": [{"name", "vertices": [[x, y], ...]}],
  "negative": [...]}`` — tumour outlines, and normal islands inside them.

The full set is ~700 GB in the challenge's public bucket (see :data:`SPEC`'s notes). The mirror
holds a real Aperio slide (OpenSlide's ``CMU-1-Small-Region.svs`` test file), the NCRF validation
coordinate lists and the NCRF validation JSONs.

:func:`generate` writes a few synthetic lymph-node slides as real pyramidal tiled TIFFs
(JPEG tiles, one page per level), stained by the Beer-Lambert law: lymphoid tissue of small
dark lymphocytes, germinal centres and sinus histiocytes (larger, paler nuclei: the classic
mimics of metastasis), stroma, fat and vessels, and tumour regions (polygons) holding
metastases from high-grade ductal (large, irregular, nucleolated nuclei) to low-grade and
lobular (small cells, close to the mimics), with stroma, fat and lymphocytes inside. Stain,
focus, folds and JPEG quality vary from slide to slide, like slides from several labs. Mean
colour does not separate tumour from normal, so a classifier must see the cells; and the task
is about as hard as real patches are for generic features (random-weight InceptionV3 features
and a logistic regression score a held-out ROC AUC near 0.9, not 1). It also writes NCRF-format
coordinate lists, with normal patches near the tumours, and JSONs.

:func:`prepare` returns a :class:`WsiFiles` for either source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch
from cookbook.datasets._files import check_ends_with_newline, decode_text
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError
from cookbook.io import atomic_path, write_json

NAME = "wsi"
MIRROR_DIR = "wsi_camelyon16"  # the folder in the mirror (shared/data/real)
# 2: realistic difficulty (normal mimics, low-grade and lobular tumours, intratumoral stroma,
# fat and lymphocytes, per-slide stain, focus, folds and JPEG quality) and normal patches in a
# band around the tumours; Euclidean margins to the annotated polygons
GENERATOR_VERSION = 2
# The generator's parameters and their defaults (read-only), for generate() and prepare().
DEFAULTS = MappingProxyType(
    {
        "n_tumour": 8,
        "n_normal": 6,
        "size": 4096,
        "patches_per_class": 100,
        "margin": 149,  # half a 299-px patch
        "near_border": 0.33,
        "seed": 16,
    }
)
REAL_SLIDE = "CMU-1-Small-Region.svs"
COORD_FILES = {"tumor": "tumor_valid.txt", "normal": "normal_valid.txt"}
SLIDES_DIR, COORDS_DIR, JSONS_DIR = "slides", "coords", "jsons"

_NCRF = (
    "https://raw.githubusercontent.com/baidu-research/NCRF/111c7d19fc6c521d2d1a2c285f5bdf525174e73f"
)
_JSON_SHA = {
    "Normal_141": "f8fcae4ba9ce66adde3763ccc45fd577a2e72f4cac5e07ecef8d5baf3dfc6633",
    "Normal_142": "0fe56edfbcf0d4f84a57273f4fa0f40d951e81d38f8455ebc863cee5e35deed0",
    "Normal_143": "aeeb548ea52105311f99d01bee08ee640a7f227850038a8bc2439c114bd983c1",
    "Normal_145": "9c6f2fcf472951f5cd3f999199bf20dd3206761b5a239aa66162ec01bb2d60e8",
    "Normal_146": "e4f64ae2fcce73c59a8a1fc03a73ba08ae4eab81a3441861cff52873d58a3de0",
    "Normal_147": "541ff869448df940f9a686f1b96f063909952e7a91dff61da905fcb49176b760",
    "Normal_148": "acb7225b4721259898c11b92dd2f55d9dc6ffdbd1795182298eccdc48fc5f7e0",
    "Normal_149": "b26f4724056a3ab33ae96a822e0c1f40fb93893a4b0add47c6521a6b257c5190",
    "Normal_150": "1d48037ce3ec3136427462e02110c5a3b6a0bf8c09799776725f3f7f965fa11a",
    "Normal_151": "09b9edb3b93d177b2ca16ec1bb118287263448745c00cfc407c08e3c74fb3bba",
    "Normal_152": "d08c9fcb57838e44e26d2b7c6739bfb09f26ebcd17c72f2e65f9a67ebb38a3c4",
    "Normal_153": "4521d327f87d1661678d9743603941b521b4088d22945c7cd0e4a8806ba6d27b",
    "Normal_154": "16c8e14b4dc61686b2af58ac2ec529c07ea1610357c1b3d0adbf090d63afb982",
    "Normal_155": "8c4df231e8029d5cd88522e9af0df77e025b6fbc0f528af2bddfafe392ed4149",
    "Normal_156": "bdc5104e8b114147ee7fd1d43973ee6cb89b2d488bb7299b110f703f63c4fcf7",
    "Normal_157": "0d3a71a7fb3c8d3ef586301611cd0af9987961bb3130063480de14b40f54b2c2",
    "Normal_158": "a7cea06788f68852dd2494ed595125e2025cfba7494f22c8a2e7b1af329e6213",
    "Normal_159": "10800d155b877f0bd6e9c323a6b5d9de521d7e511092f42ba5d1dea117f31217",
    "Normal_160": "2bd3e12f95a43ea3ad89412bbf53f24d5c63342bf6add78b8e68a17a05d717e2",
    "Tumor_101": "9eb8ea7f536df3bf7d2e417d34088eef344c4325cfafae84888f6bd25f67beb6",
    "Tumor_102": "d9592bea15b23c773678775f1ee10a01d45726b9acc9d49634bec30bfad9feee",
    "Tumor_103": "4e99d3182c6593209156943468fe8c29945c0fd5890f46d30057ea7cc2a6e691",
    "Tumor_104": "1c0e4850e1d1e2c8a2ed60a79667aa66ec2a0cdc40a19fe6b9433613f4458783",
    "Tumor_105": "1fd2d10903004d14d7562a0e4e685ed474ab8cac364fbaa91e04a4dfad9e6466",
    "Tumor_106": "c089879786ae0fcba4076b1d7f2cd8a1647af91686ae9129024778e0ac339703",
    "Tumor_107": "658ed04bc97db5485536c9626782f2d7084d27c99b0c68aa3621ea9b0069e09d",
    "Tumor_108": "661805612834d0365698d80eeea6518ae23b9040f749881676dccf86aa888e79",
    "Tumor_109": "faccd5e9c20fc2723bd1fdef98c34d53432f5219e4f4481ffb137872b82b7e13",
    "Tumor_110": "9f2ee07a6c2251223eaab2df263e028a31035effcecea2e276e3dda301f9f82a",
}
SPEC = DownloadSpec(
    name=NAME,
    title="Camelyon16 whole-slide images (pieces) and NCRF annotations",
    homepage="https://camelyon16.grand-challenge.org/",
    license="Camelyon16: CC0 1.0; NCRF lists: Apache-2.0; CMU-1 test slide: freely redistributable",
    files=(
        RemoteFile(
            filename=REAL_SLIDE,
            url="https://openslide.cs.cmu.edu/download/openslide-testdata/Aperio/CMU-1-Small-Region.svs",
            sha256="ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7",
            mirror_path=f"{MIRROR_DIR}/{REAL_SLIDE}",
        ),
        RemoteFile(
            filename="tumor_valid.txt",
            url=f"{_NCRF}/coords/tumor_valid.txt",
            sha256="4a61749450a8d050ea43f005a0ee0d8d9392430f11dbfb9f63e95d37a72f936b",
            mirror_path=f"{MIRROR_DIR}/ncrf_coords/tumor_valid.txt",
        ),
        RemoteFile(
            filename="normal_valid.txt",
            url=f"{_NCRF}/coords/normal_valid.txt",
            sha256="a8fc51aead48c1346f3acd9e8bc37f3f1794c791684075c2d1a237f33d3880b5",
            mirror_path=f"{MIRROR_DIR}/ncrf_coords/normal_valid.txt",
        ),
        *(
            RemoteFile(
                filename=f"{slide}.json",
                url=f"{_NCRF}/jsons/valid/{slide}.json",
                sha256=sha,
                mirror_path=f"{MIRROR_DIR}/ncrf_jsons_valid/{slide}.json",
            )
            for slide, sha in _JSON_SHA.items()
        ),
    ),
    notes=(
        "The Camelyon16 slides themselves (~700 GB) are in the challenge's public AWS bucket: "
        "aws s3 cp --no-sign-request s3://camelyon-dataset/CAMELYON16/images/ . --recursive "
        "(or one slide at a time); see https://registry.opendata.aws/camelyon/. Put them in "
        "one folder and pass it as SLIDES_DIR with the NCRF coordinate lists."
    ),
)


@dataclass(frozen=True)
class WsiFiles:
    """What :func:`prepare` returns.

    - ``slides_dir``: the folder of slides named in the coordinate lists (synthetic:
      ``slides/Tumor_00k.tif``, ``slides/Normal_00k.tif``); None for the real data, whose
      Camelyon16 slides are not in the mirror (see :data:`SPEC`'s notes);
    - ``slide``: the real Aperio slide ``CMU-1-Small-Region.svs``; None for synthetic data;
    - ``coords_tumor``, ``coords_normal``: the NCRF coordinate lists ``tumor_valid.txt`` and
      ``normal_valid.txt`` (read them with :func:`read_coords`); also as :attr:`coords`;
    - ``jsons``: the polygon JSONs, one per slide, sorted by name (:func:`read_annotation_json`);
    - ``jsons_dir``: the folder holding the synthetic JSONs; None for the real data;
    - ``source``: ``"synthetic"`` or ``"real"``.
    """

    slides_dir: Path | None
    slide: Path | None
    coords_tumor: Path
    coords_normal: Path
    jsons: tuple[Path, ...]
    jsons_dir: Path | None
    source: str

    @property
    def coords(self) -> dict[str, Path]:
        """The coordinate lists keyed like :data:`COORD_FILES`: ``{"tumor": p, "normal": q}``."""
        return {"tumor": self.coords_tumor, "normal": self.coords_normal}


# ----------------------------------------------------------------------------- readers


def read_coords(path: str | Path, label: int) -> pd.DataFrame:
    """An NCRF coordinate list (``slide,x,y`` per line, no header) with a ``label`` column.

    Raises :class:`DatasetFormatError` naming the file and the line for: bytes that are not
    UTF-8, a line without exactly 3 comma-separated fields, a slide name that is empty or not a
    plain name (it is joined onto the slides folder, so ``/``, ``\\`` and ``..`` are refused), a
    coordinate that is not a non-negative whole number, and a last line without its line break
    (a truncated file). Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"coordinate list not found: {path}")
    text = decode_text(path.read_bytes(), str(path))
    check_ends_with_newline(text, str(path))
    rows, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 3:
            raise DatasetFormatError(
                f"{path}: line {number}: expected 3 comma-separated fields (slide_name,x,y), "
                f"got {len(fields)}: {line[:80]!r}"
            )
        rows.append(fields)
        lines.append(number)
    if not rows:
        raise DatasetFormatError(f"{path}: no coordinates (expected lines slide_name,x,y)")
    df = pd.DataFrame(rows, columns=["slide", "x", "y"])
    lines = np.asarray(lines)
    for col in ("x", "y"):
        values = pd.to_numeric(df[col].str.strip(), errors="coerce")
        bad = values.isna() | (values < 0) | (values != values.round()) | np.isinf(values)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DatasetFormatError(
                f"{path}: line {lines[row]}: {col} must be a non-negative pixel coordinate "
                f"(a whole number), got {df[col].iloc[row]!r}"
            )
        df[col] = values.astype("int64")
    df["slide"] = df["slide"].str.strip()
    names = df["slide"].tolist()
    plain = [n not in ("", ".", "..") and not any(c in n for c in "/\\\x00") for n in names]
    if not all(plain):
        row = plain.index(False)
        raise DatasetFormatError(
            f"{path}: line {lines[row]}: slide name {names[row]!r} is not a plain slide name; "
            "expected a name like Tumor_101 (no '/', '\\' or '..': it is joined onto the "
            "slides folder)"
        )
    return df.assign(label=int(label))


# A self-intersecting outline whose vertex order encloses less than this share of the area it
# covers (a figure-eight, whose lobes cancel) is refused: what it outlines is ambiguous. Real
# NCRF outlines cross themselves slightly (the lowest share in the validation set is 0.57).
MIN_AREA_SHARE = 0.25


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def read_annotation_json(path: str | Path) -> dict[str, list[np.ndarray]]:
    """NCRF polygon JSON -> ``{"positive": [vertices (n, 2)], "negative": [...]}``.

    Raises :class:`DatasetFormatError` naming the file and the polygon (``positive[3]``, with
    its name) for: invalid JSON or non-UTF-8 bytes, a missing ``positive``/``negative`` list,
    a polygon that is not an object with ``vertices`` as 3 or more ``[x, y]`` pairs of finite,
    non-negative numbers, a polygon with no area (collinear or repeated vertices) and one that
    crosses itself so that its parts cancel out (a figure-eight; slight self-intersections, as
    real hand-drawn outlines have, are accepted).
    """
    import shapely

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation JSON not found: {path}")
    try:
        doc = json.loads(decode_text(path.read_bytes(), str(path)))
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not {"positive", "negative"} <= set(doc):
        raise DatasetFormatError(
            f"{path}: expected an object with 'positive' and 'negative' polygon lists"
        )
    out = {}
    for key in ("positive", "negative"):
        if not isinstance(doc[key], list):
            raise DatasetFormatError(
                f"{path}: '{key}' must be a list of polygons, got {type(doc[key]).__name__}"
            )
        polys = []
        for i, item in enumerate(doc[key]):
            if not isinstance(item, dict):
                raise DatasetFormatError(
                    f"{path}: {key}[{i}] must be an object with 'name' and 'vertices', got "
                    f"{type(item).__name__} {str(item)[:60]}"
                )
            name = f" (polygon {item['name']!r})" if isinstance(item.get("name"), str) else ""
            raw = item.get("vertices")
            pairs = isinstance(raw, list) and all(
                isinstance(v, list) and len(v) == 2 and all(_is_number(c) for c in v) for v in raw
            )
            if not pairs or len(raw) < 3:
                raise DatasetFormatError(
                    f"{path}: {key}[{i}] needs 'vertices' as 3 or more [x, y] pairs of "
                    f"numbers, got {str(raw)[:80]}{name}"
                )
            vertices = np.asarray(raw, dtype=float)
            if not np.isfinite(vertices).all() or (vertices < 0).any():
                raise DatasetFormatError(
                    f"{path}: {key}[{i}]{name} has a vertex that is negative or not finite; "
                    "expected level-0 pixel coordinates (x, y >= 0)"
                )
            _check_outline(vertices, f"{path}: {key}[{i}]{name}", shapely)
            polys.append(vertices)
        out[key] = polys
    return out


def _check_outline(vertices: np.ndarray, where: str, shapely) -> None:
    x, y = vertices[:, 0], vertices[:, 1]
    signed = abs(0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)))
    polygon = shapely.Polygon(vertices)
    covered = polygon.area if polygon.is_valid else shapely.make_valid(polygon).area
    if covered <= 0:
        raise DatasetFormatError(
            f"{where} has zero area: its {len(vertices)} vertices are collinear or repeated; "
            "expected an outline enclosing a region"
        )
    if signed < MIN_AREA_SHARE * covered:
        raise DatasetFormatError(
            f"{where} crosses itself so that its parts cancel out (a figure-eight: the vertex "
            f"order encloses {signed:.0f} px2 of the {covered:.0f} px2 it covers); expected a "
            "simple outline (re-draw it, or split it into one polygon per lobe)"
        )


# Slides whose tiles open_slide has checked: (path, size, mtime) -> checked once per process.
_CHECKED_SLIDES: set[tuple[str, int, int]] = set()


def open_slide(path: str | Path, check_tiles: int = 4):
    """``openslide.OpenSlide(path)``, with an error that names the file when it cannot be read.

    Before the slide is returned its tiles are checked, once per process and file version:
    for a TIFF-based slide (``.tif``, ``.svs``), that every tile's bytes lie inside the file (a
    truncated slide fails here); then tiles are decoded: every tile of a level of up to
    :data:`ALL_TILES_UP_TO` tiles, and a ``check_tiles`` x ``check_tiles`` grid spread over each
    larger level (``check_tiles=0`` skips both checks). A slide that cannot be opened or
    whose tiles do not decode raises :class:`DatasetFormatError` naming the slide, the level and
    the tile, here rather than later inside a Spark task.
    """
    import openslide

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"slide not found: {path}")
    try:
        slide = openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as exc:
        raise DatasetFormatError(f"{path}: OpenSlide cannot read this slide: {exc}") from exc
    if check_tiles > 0:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _CHECKED_SLIDES:
            try:
                _check_tiff_layout(path, stat.st_size)
                _check_tile_sample(slide, path, check_tiles)
            except DatasetFormatError:
                slide.close()
                raise
            _CHECKED_SLIDES.add(key)
    return slide


def _check_tiff_layout(path: Path, size: int) -> None:
    """Every tile or strip of every page of a TIFF must lie inside the file."""
    import struct

    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            layout = [
                (page.shape, np.asarray(page.dataoffsets, dtype=np.int64), page.databytecounts)
                for page in tif.pages
            ]
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError, struct.error):
        return  # not a TIFF (OpenSlide reads other formats too): the decode sample still runs
    for k, (shape, offsets, counts) in enumerate(layout):
        counts = np.asarray(counts, dtype=np.int64)
        past = np.flatnonzero((counts > 0) & (offsets + counts > size))
        if len(past):
            j = int(past[0])
            raise DatasetFormatError(
                f"{path}: truncated: TIFF page {k} ({shape}) tile/strip {j} needs bytes "
                f"{offsets[j]:,}..{offsets[j] + counts[j]:,} but the file has {size:,} "
                f"({len(past)} tile(s) past the end); download the slide again"
            )


# A level of at most this many tiles is decoded whole by open_slide's check; larger ones are
# sampled on a grid.
ALL_TILES_UP_TO = 64


def _check_tile_sample(slide, path: Path, n: int) -> None:
    """Decode every tile of the small levels and an ``n`` x ``n`` grid of tiles of the others."""
    import openslide

    for level in range(slide.level_count):
        width, height = slide.level_dimensions[level]
        ds = slide.level_downsamples[level]
        props = slide.properties
        tw = int(props.get(f"openslide.level[{level}].tile-width", 256))
        th = int(props.get(f"openslide.level[{level}].tile-height", 256))
        n_cols, n_rows = -(-width // tw), -(-height // th)
        if n_cols * n_rows <= ALL_TILES_UP_TO:
            cols, rows = range(n_cols), range(n_rows)
        else:
            cols = sorted({min(int((k + 0.5) / n * n_cols), n_cols - 1) for k in range(n)})
            rows = sorted({min(int((k + 0.5) / n * n_rows), n_rows - 1) for k in range(n)})
        for row in rows:
            for col in cols:
                x, y = col * tw, row * th
                size = (min(tw, width - x), min(th, height - y))
                try:
                    slide.read_region((int(x * ds), int(y * ds)), level, size)
                except openslide.OpenSlideError as exc:
                    raise DatasetFormatError(
                        f"{path}: the tile at level {level}, column {col}, row {row} (level-0 "
                        f"pixels x={int(x * ds)}, y={int(y * ds)}) does not decode: {exc}; the "
                        "slide is corrupt: download or copy it again"
                    ) from exc


def fetch_real(config: dict | None = None) -> WsiFiles:
    """The real pieces (cache -> ``$COOKBOOK_DATA_MIRROR`` -> pinned download): the Aperio
    ``slide``, the NCRF coordinate lists and the NCRF validation JSONs."""
    return WsiFiles(
        slides_dir=None,
        slide=fetch(SPEC, REAL_SLIDE, config=config),
        coords_tumor=fetch(SPEC, COORD_FILES["tumor"], config=config),
        coords_normal=fetch(SPEC, COORD_FILES["normal"], config=config),
        jsons=tuple(fetch(SPEC, f"{slide}.json", config=config) for slide in sorted(_JSON_SHA)),
        jsons_dir=None,
        source="real",
    )


# ----------------------------------------------------------------------------- synthetic slides


def _smooth_field(rng, shape, scale: int) -> np.ndarray:
    """Smooth random field in about [0, 1] of ``shape`` (h, w), features ~``scale`` pixels wide."""
    from PIL import Image

    h, w = shape
    small = rng.random((max(2, h // scale + 2), max(2, w // scale + 2))).astype(np.float32)
    small = (small - small.min()) / max(float(np.ptp(small)), 1e-6)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)


def _blob_polygon(rng, cx, cy, radius, n=48, wobble=0.25) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in (2, 3, 5):
        r += wobble / k * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    return np.column_stack([cx + radius * r * np.cos(t), cy + radius * r * np.sin(t)])


def _mask_of(polygons, shape) -> np.ndarray:
    """Boolean mask of ``shape`` (h, w), true inside any of ``polygons`` (vertices (n, 2))."""
    from PIL import Image, ImageDraw

    img = Image.new("1", (shape[1], shape[0]), 0)
    for poly in polygons:
        ImageDraw.Draw(img).polygon([tuple(p) for p in poly], fill=1)
    return np.asarray(img, dtype=bool)


def _points_in(mask: np.ndarray, rng, spacing: float, keep=None) -> np.ndarray:
    """Jittered grid points (x, y) with the given spacing where ``mask`` is true; ``keep``: the
    chance to keep each point, a number or an array like ``mask`` (local cellularity)."""
    h, w = mask.shape
    ys, xs = np.mgrid[spacing / 2 : h : spacing, spacing / 2 : w : spacing]
    jitter = rng.uniform(-0.45, 0.45, (xs.size, 2)) * spacing
    pts = np.column_stack([xs.ravel(), ys.ravel()]) + jitter
    pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
    ix, iy = pts[:, 0].astype(int), pts[:, 1].astype(int)
    inside = mask[iy, ix]
    if keep is not None:
        inside &= rng.random(len(pts)) < (keep[iy, ix] if np.ndim(keep) else keep)
    return pts[inside]


def _draw_cells(
    nuclei,
    eosin,
    rng,
    pts,
    radius,
    h_amount,
    elong=(1.0, 1.0),
    irregular=0.0,
    rim=0.0,
    nucleolus=0.0,
    cytoplasm=None,
    k=10,
):
    """Draw a cell at each of ``pts``: its nucleus into ``nuclei`` (an 8-bit image of stain
    amount, in 0.01 optical density) and, given ``cytoplasm=(scale, (lo, hi))``, its body
    (``scale`` times the nucleus) into ``eosin``. ``(lo, hi)`` ranges are drawn per cell:
    ``radius`` (px), ``h_amount``, ``elong`` (long / short axis). ``irregular`` jags the outline;
    ``rim``: vesicular chromatin, a pale centre ``rim`` times the nucleus' size inside a dark
    membrane; ``nucleolus``: the chance of a dark nucleolus."""
    from PIL import ImageDraw

    n = len(pts)
    if not n:
        return
    rad = rng.uniform(*radius, n)
    amount = rng.uniform(*h_amount, n)
    t = np.linspace(0, 2 * np.pi, k, endpoint=False)
    rr = rad[:, None] * (1 + irregular * rng.uniform(-1, 1, (n, k)))
    ex, ey = rr * rng.uniform(*elong, n)[:, None] * np.cos(t), rr * np.sin(t)
    a = rng.uniform(0, np.pi, n)[:, None]
    dx, dy = ex * np.cos(a) - ey * np.sin(a), ex * np.sin(a) + ey * np.cos(a)
    x, y = pts[:, :1], pts[:, 1:2]

    def outlines(scale):
        return np.stack([x + scale * dx, y + scale * dy], axis=-1).reshape(n, -1).tolist()

    if cytoplasm is not None:
        scale, cyto_amount = cytoplasm
        draw = ImageDraw.Draw(eosin)
        fill = rng.uniform(*cyto_amount, n).astype(int).tolist()
        for poly, f in zip(outlines(scale), fill, strict=True):
            draw.polygon(poly, fill=f)
    draw = ImageDraw.Draw(nuclei)
    for poly, f in zip(outlines(1.0), amount.astype(int).tolist(), strict=True):
        draw.polygon(poly, fill=f)
    if rim:
        for poly, f in zip(outlines(rim), (amount * 0.55).astype(int).tolist(), strict=True):
            draw.polygon(poly, fill=f)
    if nucleolus:
        has = np.flatnonzero(rng.random(n) < nucleolus)
        q = np.maximum(1.0, rad[has] * rng.uniform(0.15, 0.28, len(has)))
        off = rng.uniform(-0.3, 0.3, (len(has), 2)) * rad[has, None]
        cx, cy = pts[has, 0] + off[:, 0], pts[has, 1] + off[:, 1]
        for box in np.column_stack([cx - q, cy - q, cx + q, cy + q]).tolist():
            draw.ellipse(box, fill=150)


# Stain optical-density vectors (R, G, B) for haematoxylin and eosin (Ruifrok & Johnston).
H_OD = np.array([0.65, 0.70, 0.29])
E_OD = np.array([0.07, 0.99, 0.11])

# Cells of a lymph node, for _draw_cells: sizes in level-0 pixels, stain amounts in 0.01 optical
# density. (Drawn at about a quarter of the 0.243 µm/px the TIFFs declare, as version 1 was, so
# that a 299-px patch holds a few hundred cells.)
LYMPHOCYTE = {"radius": (2.8, 4.2), "h_amount": (100, 135), "irregular": 0.06}
CENTROCYTE = {"radius": (3.5, 5.0), "h_amount": (70, 100), "irregular": 0.22}  # germinal centre
CENTROBLAST = {"radius": (4.5, 6.8), "h_amount": (62, 88), "rim": 0.6, "nucleolus": 0.6}
HISTIOCYTE = {  # sinus and tingible-body macrophages: pale oval nuclei, abundant cytoplasm
    "radius": (4.0, 6.2),
    "h_amount": (42, 70),
    "elong": (1.2, 1.8),
    "rim": 0.55,
    "nucleolus": 0.25,
    "cytoplasm": (2.4, (34, 48)),
}
FIBROBLAST = {"radius": (2.0, 3.2), "h_amount": (65, 90), "elong": (2.2, 3.2)}
ENDOTHELIUM = {"radius": (3.0, 4.5), "h_amount": (60, 85), "elong": (1.6, 2.4), "rim": 0.5}
ADIPOCYTE = {"radius": (14.5, 16.5), "h_amount": (1, 2), "irregular": 0.12}  # empty, into eosin


def _tumour_cells(rng) -> tuple[dict, float]:
    """One metastasis' cells (for :func:`_draw_cells`) and their spacing (px).

    Ductal type (3 in 4): from low grade (nuclei hardly larger than a centroblast's, few
    nucleoli) to high grade (large, jagged, nucleolated), vesicular or hyperchromatic, with
    eosinophilic cytoplasm. Lobular type: small, uniform, discohesive cells with scant
    cytoplasm, easily taken for lymphocytes or histiocytes.
    """
    if rng.random() < 0.25:
        cells = {
            "radius": (3.3, 4.9),
            "h_amount": (65, 100),
            "irregular": 0.1,
            "nucleolus": 0.1,
            "elong": (1.0, 1.3),
            "cytoplasm": (1.6, (20, 30)),
        }
        return cells, rng.uniform(11.5, 14)
    grade = rng.uniform(0, 1)
    r_lo, r_hi = 3.8 + 2.6 * grade, 5.6 + 3.4 * grade
    dark = rng.uniform(0, 1)  # vesicular (pale) ... hyperchromatic (dark)
    cells = {
        "radius": (r_lo, r_hi),
        "h_amount": (40 + 35 * dark, 65 + 40 * dark),
        "irregular": 0.1 + 0.24 * grade,
        "rim": 0.6 if dark < 0.5 else 0.0,
        "nucleolus": 0.15 + 0.75 * grade,
        "cytoplasm": (rng.uniform(1.6, 2.2), (22, 34)),
    }
    return cells, (r_lo + r_hi) * rng.uniform(1.15, 1.6)


def render_slide(size: int, tumours: list[np.ndarray], rng) -> tuple[np.ndarray, ...]:
    """An H&E-like lymph-node section (uint8 RGB), its tissue and tumour masks, ``size`` square.

    Drawn as stain amounts and mixed by the Beer-Lambert law, so every nucleus has
    haematoxylin's hue and every cytoplasm eosin's. Normal tissue, in proportions that vary
    from node to node: lymphoid tissue crowded with small dark lymphocytes; germinal centres of
    larger, paler centroblasts and centrocytes with tingible-body macrophages; sinuses with pale
    histiocytes (sinus histiocytosis in reactive nodes); collagenous stroma with spindle
    fibroblasts; fat; vessels with red cells and endothelium. Inside ``tumours`` (level-0
    polygons, the annotation): one metastasis each, ductal (low to high grade) or lobular (see
    :func:`_tumour_cells`), with patches of stroma, fat and infiltrating lymphocytes, and less
    cellular in places. The normal mimics and the low-grade and lobular tumours overlap in
    nuclear size, shape and chromatin, as in real nodes. Per slide, like a different lab and
    scanner: stain hue and strength, chromatin grain, white balance, noise and focus (a blur
    that varies across the slide); some slides have a fold (a strip where the section lies
    double). Per patch, tumour is about as dark as lymphoid tissue and darker than stroma, so
    mean colour alone does not tell tumour from normal.
    """
    from PIL import Image, ImageDraw, ImageFilter

    h = w = size
    shape = (h, w)
    y, x = np.ogrid[0:h, 0:w]
    envelope = 1 - ((x / size - 0.5) ** 2 + (y / size - 0.5) ** 2) / 0.2
    tissue = (envelope + 0.6 * (_smooth_field(rng, shape, size // 5) - 0.5)) > 0.35
    del envelope
    lymphoid = tissue & (_smooth_field(rng, shape, size // 10) > rng.uniform(0.35, 0.6))
    reactive = rng.uniform(0, 1)  # reactive changes: germinal centres, sinus histiocytosis
    sinus_width = 0.01 + 0.1 * reactive * rng.uniform(0.3, 1)
    sinus = tissue & (np.abs(_smooth_field(rng, shape, size // 7) - 0.5) < sinus_width)
    fat = tissue & (_smooth_field(rng, shape, size // 9) > rng.uniform(0.8, 0.97))
    n_follicles = int(rng.poisson((2 + 14 * reactive) * (size / 4096) ** 2))
    ly, lx = np.nonzero(lymphoid[::16, ::16])
    pick = rng.choice(len(lx), size=min(n_follicles, len(lx)), replace=False)
    follicles = [
        _blob_polygon(rng, lx[i] * 16, ly[i] * 16, rng.uniform(0.02, 0.07) * size, wobble=0.3)
        for i in pick
    ]
    germinal = _mask_of(follicles, shape) & tissue
    tumour = _mask_of(tumours, shape) & tissue

    # each metastasis: its own cells, with stroma, fat and lymphocytes in it
    tumour_cells = np.zeros(shape, dtype=bool)
    intra_stroma = np.zeros(shape, dtype=bool)
    intra_fat = np.zeros(shape, dtype=bool)
    metastases = []
    for poly in tumours:
        x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(poly.max(axis=0)).astype(int) + 1, size)
        box = (slice(y0, y1), slice(x0, x1))
        region = _mask_of([poly - [x0, y0]], (y1 - y0, x1 - x0)) & tissue[box]
        f1 = _smooth_field(rng, region.shape, int(rng.integers(60, 160)))
        f2 = _smooth_field(rng, region.shape, int(rng.integers(80, 200)))
        stroma_here = region & (f1 > 1 - rng.uniform(0.05, 0.45))
        fat_here = region & ~stroma_here & (f2 > 1 - rng.uniform(0.0, 0.15))
        intra_stroma[box] |= stroma_here
        intra_fat[box] |= fat_here
        cells = np.zeros(shape, dtype=bool)
        cells[box] = region & ~stroma_here & ~fat_here
        tumour_cells |= cells
        kind, spacing = _tumour_cells(rng)
        til, sparse = rng.uniform(0.03, 0.4), rng.uniform(0, 0.7)  # lymphocytes, cellularity
        metastases.append((cells, kind, spacing, til, sparse))

    normal = tissue & ~tumour
    fat = (fat & normal) | intra_fat
    germinal &= normal & ~fat
    sinus &= normal & ~germinal & ~fat
    lymph = lymphoid & normal & ~germinal & ~sinus & ~fat
    stroma = ((tissue & ~lymphoid & normal & ~sinus & ~fat) | intra_stroma) & ~germinal

    # stain amounts in units of 0.01 optical density, drawn as 8-bit images
    texture = _smooth_field(rng, shape, 24)
    eosin = np.full(shape, 1, dtype=np.uint8)
    for mask, lo, hi in (
        (stroma, 32, 50),
        (lymph, 18, 30),
        (germinal, 22, 34),
        (sinus, 12, 22),
        (tumour_cells, 14, 24),
        (fat, 24, 34),  # the membranes between adipocytes, which are drawn empty below
    ):
        eosin[mask] = (lo + (hi - lo) * texture[mask]).astype(np.uint8)
    del texture
    eosin_img = Image.fromarray(eosin)
    hema_img = Image.new("L", (w, h), 0)

    def cells_in(mask, spacing, kind, keep=None):
        _draw_cells(hema_img, eosin_img, rng, _points_in(mask, rng, spacing, keep), **kind)

    _draw_cells(eosin_img, None, rng, _points_in(fat, rng, 34), **ADIPOCYTE)
    density = 0.55 + 0.45 * _smooth_field(rng, shape, 90)  # local cellularity
    cells_in(stroma, 22, FIBROBLAST, keep=density)
    cells_in(lymph, rng.uniform(9.0, 10.5), LYMPHOCYTE, keep=0.75 + 0.25 * density)
    cells_in(germinal, 15, CENTROBLAST, keep=density)
    cells_in(germinal, 15, CENTROCYTE, keep=density)
    cells_in(germinal, 60, HISTIOCYTE)  # tingible-body macrophages
    cells_in(sinus, 15, HISTIOCYTE, keep=density)
    cells_in(sinus, 16, LYMPHOCYTE, keep=0.5 * density)
    for cells, kind, spacing, til, sparse in metastases:
        cells_in(cells, spacing, kind, keep=1 - sparse * (1 - density))  # less cellular in places
        cells_in(cells, 10, LYMPHOCYTE, keep=til)  # tumour-infiltrating lymphocytes
    del density
    # vessels: red cells in a lumen, lined by endothelium
    n_vessels = int(rng.poisson(40 * (size / 4096) ** 2))
    vy, vx = np.nonzero(tissue[::8, ::8])
    draw = ImageDraw.Draw(eosin_img)
    for i in rng.choice(len(vx), size=min(n_vessels, len(vx)), replace=False):
        cx, cy, r = vx[i] * 8, vy[i] * 8, rng.uniform(8, 22)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=int(rng.integers(45, 70)))
        t = np.linspace(0, 2 * np.pi, max(5, int(r / 3)), endpoint=False)
        ring = np.column_stack([cx + (r + 3) * np.cos(t), cy + (r + 3) * np.sin(t)])
        _draw_cells(hema_img, eosin_img, rng, ring, **ENDOTHELIUM)

    # chromatin grain (per slide: fixation, section thickness), then the optics' blur
    grain = rng.uniform(0.2, 0.6)
    hema = np.asarray(hema_img, dtype=np.float32)
    hema *= 1 - grain / 2 + grain * rng.random(shape, dtype=np.float32)
    hema = Image.fromarray(hema.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    hema = np.asarray(hema, dtype=np.float32)
    eosin = np.asarray(eosin_img.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    if rng.random() < 0.4:  # a fold: a strip where the section lies double
        fold = Image.new("L", (w, h), 0)
        p0, a = rng.uniform(0.25, 0.75, 2) * size, rng.uniform(0, np.pi)
        p1 = p0 + rng.uniform(0.15, 0.4) * size * np.array([np.cos(a), np.sin(a)])
        ImageDraw.Draw(fold).line([tuple(p0), tuple(p1)], fill=255, width=int(rng.integers(20, 70)))
        fold = np.asarray(fold.filter(ImageFilter.GaussianBlur(6)), dtype=np.float32)
        fold = 1 + (0.8 / 255) * fold * tissue
        hema *= fold
        eosin *= fold
        del fold

    # per slide, like another lab and scanner: stain hue and strength, white balance, noise, focus
    h_od = (H_OD * rng.uniform(0.8, 1.2, 3) * rng.uniform(0.7, 1.3) / 100).astype(np.float32)
    e_od = (E_OD * rng.uniform(0.8, 1.2, 3) * rng.uniform(0.65, 1.35) / 100).astype(np.float32)
    white = rng.uniform(236, 250) * rng.uniform(0.97, 1.03, 3)
    noise = rng.uniform(1.5, 4)
    rgb = np.empty((h, w, 3), dtype=np.uint8)
    for c in range(3):
        channel = np.exp(-(hema * h_od[c] + eosin * e_od[c]))
        channel *= white[c]
        channel += noise * rng.standard_normal(shape, dtype=np.float32)
        rgb[..., c] = channel.clip(0, 255)
    del hema, eosin, channel
    img = Image.fromarray(rgb)
    blurred = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    focus = _smooth_field(rng, shape, size // 6) * (255 * rng.uniform(0.3, 1))
    img = Image.composite(blurred, img, Image.fromarray(focus.clip(0, 255).astype(np.uint8)))
    return np.asarray(img), tissue, tumour


def write_pyramid_tiff(
    path: str | Path, image: np.ndarray, levels: int = 4, tile: int = 256, quality: int = 90
):
    """Write ``image`` as a tiled, JPEG-compressed (``quality``) pyramidal TIFF that OpenSlide
    reads.

    Each level is a top-level page (reduced levels marked ``subfiletype=1``), halving each time:
    the layout OpenSlide's generic-TIFF reader recognises as a pyramid.
    """
    import tifffile
    from PIL import Image

    with atomic_path(path) as tmp:
        with tifffile.TiffWriter(tmp, bigtiff=False) as tif:
            level = image
            for i in range(levels):
                tif.write(
                    level,
                    tile=(tile, tile),
                    compression="jpeg",
                    compressionargs={"level": quality},
                    photometric="rgb",
                    subfiletype=1 if i else 0,
                    resolution=(1e4 / 0.243 / 2**i,) * 2,  # px/cm: 0.243 µm/px, a 40x scan
                    resolutionunit="CENTIMETER",
                )
                if min(level.shape[:2]) // 2 < tile:
                    break
                half = (level.shape[1] // 2, level.shape[0] // 2)
                level = np.asarray(Image.fromarray(level).resize(half, Image.BOX))
    return Path(path)


def _sample_centres(candidates, width: int, rng, n: int, accept) -> np.ndarray:
    """Up to ``n`` points (x, y), drawn without replacement from ``candidates`` (flat pixel
    indices of an image ``width`` wide), that ``accept`` (a vectorised test of (k, 2) points)."""
    if not n or not len(candidates):
        return np.empty((0, 2), dtype=np.int64)
    pick = rng.choice(len(candidates), size=min(len(candidates), 50 * n), replace=False)
    if len(pick) < len(candidates):
        pts = np.column_stack(np.divmod(candidates[pick], width)[::-1])
        ok = pts[accept(pts)]
        if len(ok) >= n:
            return ok[:n]
        pick = rng.permutation(len(candidates))  # few are accepted: try them all
    pts = np.column_stack(np.divmod(candidates[pick], width)[::-1])
    return pts[accept(pts)][:n]


def _within(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (values >= lo) & (values <= hi)


def generate(
    folder: str | Path,
    n_tumour: int = DEFAULTS["n_tumour"],
    n_normal: int = DEFAULTS["n_normal"],
    size: int = DEFAULTS["size"],
    patches_per_class: int = DEFAULTS["patches_per_class"],
    margin: int = DEFAULTS["margin"],
    near_border: float = DEFAULTS["near_border"],
    seed: int = DEFAULTS["seed"],
) -> Path:
    """Write synthetic slides, NCRF coordinate lists and polygon JSONs into ``folder``.

    ``slides/Tumor_00k.tif`` (1-3 metastases each, the first a macrometastasis) and
    ``slides/Normal_00k.tif``: pyramidal TIFFs of ``size`` px square (see :func:`render_slide`),
    JPEG quality varying by slide. ``jsons/<slide>.json``: the tumour outlines. Coordinate lists,
    ``patches_per_class`` centres per slide and class, each with its ``margin``-px square (half a
    patch: a patch is ``2 * margin`` px) inside the tissue:

    - ``coords/tumor_valid.txt``: inside a tumour outline, at least ``margin`` px from it;
    - ``coords/normal_valid.txt``: on every slide, outside every outline by at least
      ``margin`` px; on tumour slides a share ``near_border`` of them lies in a band near the
      tumour, ``margin`` to ``3 * margin`` px (at least ``margin + 64``) from an outline, so
      that a classifier must tell tumour from its surroundings, not tumour slides from normal
      ones (as the normal patches of Camelyon16's tumour slides). A patch square's corners may
      reach up to ``0.41 * margin`` px into the tumour.

    Distances are Euclidean, in level-0 pixels, to the polygons as written in the JSONs.
    Returns ``folder``.
    """
    import shapely
    from scipy import ndimage

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    for sub in (SLIDES_DIR, COORDS_DIR, JSONS_DIR):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    lines = {"tumor": [], "normal": []}
    names = [f"Tumor_{i:03d}" for i in range(1, n_tumour + 1)]
    names += [f"Normal_{i:03d}" for i in range(1, n_normal + 1)]
    for name in names:
        tumours = []
        if name.startswith("Tumor"):
            for k in range(int(rng.integers(1, 4))):
                c = rng.uniform(0.3, 0.7, 2) * size
                r = rng.uniform(0.09, 0.14) if k == 0 else rng.uniform(0.03, 0.1)
                tumours.append(np.round(_blob_polygon(rng, c[0], c[1], r * size)).astype(int))
        image, tissue, _ = render_slide(size, tumours, rng)
        quality = int(rng.integers(70, 96))
        write_pyramid_tiff(folder / SLIDES_DIR / f"{name}.tif", image, quality=quality)
        del image
        inner = tissue  # centres whose patch square lies in the tissue
        if margin:
            inner = ndimage.binary_erosion(tissue, np.ones((3, 3), bool), iterations=margin)
        candidates = np.flatnonzero(inner)
        del tissue, inner
        area = shapely.union_all([shapely.Polygon(p) for p in tumours]) if tumours else None

        def signed_distance(pts, area=area):  # to the tumour outline, negative inside
            if area is None:
                return np.full(len(pts), np.inf)
            points = shapely.points(pts[:, 0], pts[:, 1])
            d = shapely.distance(area.boundary, points)
            return np.where(shapely.contains(area, points), -d, d)

        if tumours:
            inside = _sample_centres(
                candidates, size, rng, patches_per_class, lambda p: signed_distance(p) <= -margin
            )
            lines["tumor"] += [f"{name},{x},{y}" for x, y in inside]
        near = np.empty((0, 2), dtype=np.int64)
        if tumours and near_border:
            outer = margin + max(2 * margin, 64)
            x0, y0, x1, y1 = area.buffer(outer).bounds
            cy, cx = np.divmod(candidates, size)
            box = candidates[(cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)]
            n_near = round(near_border * patches_per_class)
            near = _sample_centres(
                box, size, rng, n_near, lambda p, hi=outer: _within(signed_distance(p), margin, hi)
            )
        far = patches_per_class - len(near)
        rest = _sample_centres(candidates, size, rng, far, lambda p: signed_distance(p) >= margin)
        lines["normal"] += [f"{name},{x},{y}" for x, y in np.concatenate([near, rest])]
        doc = {
            "positive": [
                {"name": f"Annotation {i}", "vertices": p.tolist()} for i, p in enumerate(tumours)
            ],
            "negative": [],
        }
        write_json(folder / JSONS_DIR / f"{name}.json", doc)
    for kind, name in COORD_FILES.items():
        order = rng.permutation(len(lines[kind]))
        with atomic_path(folder / COORDS_DIR / name) as tmp:
            tmp.write_text("".join(lines[kind][i] + "\n" for i in order))
    return folder


def prepare(
    source: str = "synthetic",
    *,
    n_tumour: int = DEFAULTS["n_tumour"],
    n_normal: int = DEFAULTS["n_normal"],
    size: int = DEFAULTS["size"],
    patches_per_class: int = DEFAULTS["patches_per_class"],
    margin: int = DEFAULTS["margin"],
    near_border: float = DEFAULTS["near_border"],
    seed: int = DEFAULTS["seed"],
    config: dict | None = None,
) -> WsiFiles:
    """The files for ``source``: ``"synthetic"`` (slides rendered once per parameters, cached)
    or ``"real"`` (the Aperio test slide and the NCRF lists and JSONs: cache ->
    ``$COOKBOOK_DATA_MIRROR`` -> pinned download). The generator's parameters (see
    :func:`generate`) are ignored for ``"real"``."""
    if check_source(source) == "real":
        return fetch_real(config)
    params = {
        "margin": margin,
        "n_normal": n_normal,
        "n_tumour": n_tumour,
        "near_border": near_border,
        "patches_per_class": patches_per_class,
        "seed": seed,
        "size": size,
    }
    folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
    return WsiFiles(
        slides_dir=folder / SLIDES_DIR,
        slide=None,
        coords_tumor=folder / COORDS_DIR / COORD_FILES["tumor"],
        coords_normal=folder / COORDS_DIR / COORD_FILES["normal"],
        jsons=tuple(sorted((folder / JSONS_DIR).glob("*.json"), key=lambda p: p.name)),
        jsons_dir=folder / JSONS_DIR,
        source=source,
    )
