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
(JPEG tiles, one page per level): white background, pink stroma with spindle nuclei, dense
lymphoid tissue of small dark lymphocytes, and tumour regions (polygons) of large, pale,
irregular nuclei with nucleoli. Mean colour does not separate tumour from normal — lymphoid
tissue is darker than tumour, stroma paler, and the stain varies from slide to slide — so a
classifier must see the nuclei. It also writes NCRF-format coordinate lists and JSONs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DatasetFormatError, DownloadSpec, RemoteFile, fetch
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.io import atomic_path, write_json

NAME = "wsi_camelyon16"
GENERATOR_VERSION = 1
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
            mirror_path=f"{NAME}/{REAL_SLIDE}",
        ),
        RemoteFile(
            filename="tumor_valid.txt",
            url=f"{_NCRF}/coords/tumor_valid.txt",
            sha256="4a61749450a8d050ea43f005a0ee0d8d9392430f11dbfb9f63e95d37a72f936b",
            mirror_path=f"{NAME}/ncrf_coords/tumor_valid.txt",
        ),
        RemoteFile(
            filename="normal_valid.txt",
            url=f"{_NCRF}/coords/normal_valid.txt",
            sha256="a8fc51aead48c1346f3acd9e8bc37f3f1794c791684075c2d1a237f33d3880b5",
            mirror_path=f"{NAME}/ncrf_coords/normal_valid.txt",
        ),
        *(
            RemoteFile(
                filename=f"{slide}.json",
                url=f"{_NCRF}/jsons/valid/{slide}.json",
                sha256=sha,
                mirror_path=f"{NAME}/ncrf_jsons_valid/{slide}.json",
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


# ----------------------------------------------------------------------------- readers


def read_coords(path: str | Path, label: int) -> pd.DataFrame:
    """An NCRF coordinate list (``slide,x,y`` per line, no header) with a ``label`` column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"coordinate list not found: {path}")
    df = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    if df.shape[1] != 3:
        raise DatasetFormatError(
            f"{path}: expected 3 comma-separated fields per line (slide_name,x,y), "
            f"got {df.shape[1]} in line 1: {','.join(df.iloc[0])!r}"
        )
    df.columns = ["slide", "x", "y"]
    for col in ("x", "y"):
        values = pd.to_numeric(df[col], errors="coerce")
        if values.isna().any() or (values < 0).any():
            line = int(np.flatnonzero(values.isna() | (values < 0))[0]) + 1
            raise DatasetFormatError(
                f"{path}: line {line}: {col} must be a non-negative pixel coordinate, "
                f"got {df[col].iloc[line - 1]!r}"
            )
        df[col] = values.astype("int64")
    df["slide"] = df["slide"].str.strip()
    return df.assign(label=int(label))


def read_annotation_json(path: str | Path) -> dict[str, list[np.ndarray]]:
    """NCRF polygon JSON -> ``{"positive": [vertices (n, 2)], "negative": [...]}``."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not {"positive", "negative"} <= set(doc):
        raise DatasetFormatError(
            f"{path}: expected an object with 'positive' and 'negative' polygon lists"
        )
    out = {}
    for key in ("positive", "negative"):
        polys = []
        for i, item in enumerate(doc[key]):
            vertices = np.asarray(item.get("vertices", []), dtype=float)
            if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 3:
                raise DatasetFormatError(
                    f"{path}: {key}[{i}] needs 'vertices' as 3 or more [x, y] pairs"
                )
            polys.append(vertices)
        out[key] = polys
    return out


def open_slide(path: str | Path):
    """``openslide.OpenSlide(path)``, with an error that names the file when it cannot be read."""
    import openslide

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"slide not found: {path}")
    try:
        return openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as exc:
        raise DatasetFormatError(f"{path}: OpenSlide cannot read this slide: {exc}") from exc


def fetch_real(config: dict | None = None) -> dict:
    """The real pieces: ``slide`` (the SVS), ``coords`` (tumor/normal lists), ``jsons``."""
    return {
        "slide": fetch(SPEC, REAL_SLIDE, config=config),
        "coords": {k: fetch(SPEC, name, config=config) for k, name in COORD_FILES.items()},
        "jsons": [fetch(SPEC, f"{slide}.json", config=config) for slide in _JSON_SHA],
    }


# ----------------------------------------------------------------------------- synthetic slides


def _smooth_field(rng, shape, scale: int) -> np.ndarray:
    """Smooth random field in [0, 1] of ``shape`` (h, w), features ~``scale`` pixels wide."""
    from PIL import Image

    h, w = shape
    small = rng.random((max(2, h // scale + 2), max(2, w // scale + 2))).astype(np.float32)
    img = Image.fromarray(small).resize((w, h), Image.BICUBIC)
    field = np.asarray(img, dtype=np.float32)
    return (field - field.min()) / max(float(np.ptp(field)), 1e-6)


def _blob_polygon(rng, cx, cy, radius, n=48, wobble=0.25) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in (2, 3, 5):
        r += wobble / k * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    return np.column_stack([cx + radius * r * np.cos(t), cy + radius * r * np.sin(t)])


def _draw_nuclei(draw, rng, centres, radius, colour, elong=1.0, irregular=0.0, nucleolus=None):
    for (x, y), r in zip(centres, radius, strict=True):
        if irregular:
            t = np.linspace(0, 2 * np.pi, 9, endpoint=False)
            rr = r * (1 + irregular * rng.uniform(-1, 1, 9))
            px, py = x + rr * np.cos(t), y + rr * np.sin(t) * 0.85
        else:  # an ellipse, ``elong`` times longer than wide, at a random angle
            a, u = rng.uniform(0, np.pi), np.linspace(0, 2 * np.pi, 8, endpoint=False)
            ex, ey = r * elong * np.cos(u), r * np.sin(u)
            px = x + ex * np.cos(a) - ey * np.sin(a)
            py = y + ex * np.sin(a) + ey * np.cos(a)
        draw.polygon(list(zip(px, py, strict=True)), fill=colour)
        if nucleolus is not None:
            q = max(1.0, r * 0.22)
            draw.ellipse([x - q, y - q, x + q, y + q], fill=nucleolus)


def _points_in(mask: np.ndarray, rng, spacing: float) -> np.ndarray:
    """Jittered grid points (x, y) with the given spacing where ``mask`` is true."""
    h, w = mask.shape
    ys, xs = np.mgrid[spacing / 2 : h : spacing, spacing / 2 : w : spacing]
    jitter = rng.uniform(-0.45, 0.45, (xs.size, 2)) * spacing
    pts = np.column_stack([xs.ravel(), ys.ravel()]) + jitter
    pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
    return pts[mask[pts[:, 1].astype(int), pts[:, 0].astype(int)]]


# Stain optical-density vectors (R, G, B) for haematoxylin and eosin (Ruifrok & Johnston).
H_OD = np.array([0.65, 0.70, 0.29])
E_OD = np.array([0.07, 0.99, 0.11])


def render_slide(size: int, tumours: list[np.ndarray], rng) -> tuple[np.ndarray, ...]:
    """An H&E-like lymph-node section (uint8 RGB), its tissue and tumour masks, ``size`` square.

    Drawn as stain amounts and mixed by the Beer-Lambert law, so every nucleus has haematoxylin's
    hue and every cytoplasm eosin's. Tissue: stroma with sparse spindle nuclei, and lymphoid
    areas crowded with small, dark, round nuclei. Inside ``tumours`` (level-0 polygons): large,
    pale, irregular nuclei with a dark nucleolus. Per patch, the amount of haematoxylin in tumour
    lies between stroma's and lymphoid tissue's, and stain strength varies per slide, so mean
    colour alone does not tell tumour from normal.
    """
    from PIL import Image, ImageDraw, ImageFilter

    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / size
    envelope = 1 - ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.2
    tissue = (envelope + 0.6 * (_smooth_field(rng, (h, w), size // 5) - 0.5)) > 0.35
    lymphoid = tissue & (_smooth_field(rng, (h, w), size // 10) > 0.45)
    tumour = np.zeros((h, w), dtype=bool)
    if tumours:
        tm = Image.new("1", (w, h), 0)
        for poly in tumours:
            ImageDraw.Draw(tm).polygon([tuple(p) for p in poly], fill=1)
        tumour = np.asarray(tm, dtype=bool) & tissue

    # stain amounts in units of 0.01 optical density, drawn as 8-bit images
    texture = _smooth_field(rng, (h, w), 24)
    eosin = np.where(tissue, 26 + 14 * texture, 1).astype(np.uint8)
    eosin_img = Image.fromarray(eosin)
    hema = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(hema)
    stroma_pts = _points_in(tissue & ~lymphoid & ~tumour, rng, 22)
    _draw_nuclei(draw, rng, stroma_pts, rng.uniform(2.0, 3.2, len(stroma_pts)), 75, elong=2.6)
    lymph_pts = _points_in(lymphoid & ~tumour, rng, 9.5)
    for pt, r in zip(lymph_pts, rng.uniform(2.8, 4.2, len(lymph_pts)), strict=True):
        _draw_nuclei(draw, rng, [pt], [r], int(rng.integers(100, 135)))
    tumour_pts = _points_in(tumour, rng, 17)
    for pt, r in zip(tumour_pts, rng.uniform(5.5, 8.5, len(tumour_pts)), strict=True):
        _draw_nuclei(draw, rng, [pt], [r], int(rng.integers(42, 60)), irregular=0.28, nucleolus=140)
    hema = np.asarray(hema.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32) / 100
    eosin = np.asarray(eosin_img.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32) / 100

    h_od = H_OD * rng.uniform(0.85, 1.15, 3)  # per-slide stain variation: hue and strength
    e_od = E_OD * rng.uniform(0.85, 1.15, 3)
    strength = rng.uniform(0.8, 1.2, 2)
    od = hema[..., None] * h_od * strength[0] + eosin[..., None] * e_od * strength[1]
    rgb = 245 * np.exp(-od) + rng.normal(0, 2.5, (h, w, 3))
    return rgb.clip(0, 255).astype(np.uint8), tissue, tumour


def write_pyramid_tiff(path: str | Path, image: np.ndarray, levels: int = 4, tile: int = 256):
    """Write ``image`` as a tiled, JPEG-compressed pyramidal TIFF that OpenSlide reads.

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
                    compressionargs={"level": 90},
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


def _sample_centres(mask: np.ndarray, rng, n: int, margin: int) -> np.ndarray:
    """``n`` random (x, y) with ``mask`` true within ``margin`` around (the patch fully in)."""
    from scipy import ndimage

    inner = ndimage.binary_erosion(mask, iterations=margin) if margin else mask
    ys, xs = np.nonzero(inner)
    if not len(xs):
        return np.empty((0, 2), dtype=int)
    pick = rng.choice(len(xs), size=min(n, len(xs)), replace=False)
    return np.column_stack([xs[pick], ys[pick]])


def generate(
    folder: str | Path,
    n_tumour: int = 4,
    n_normal: int = 2,
    size: int = 4096,
    patches_per_class: int = 150,
    margin: int = 64,
    seed: int = 16,
) -> Path:
    """Write synthetic slides, NCRF coordinate lists and polygon JSONs into ``folder``.

    ``slides/Tumor_00k.tif`` (1-3 tumour regions each) and ``slides/Normal_00k.tif``, pyramidal
    TIFFs of ``size`` px square; ``coords/tumor_valid.txt`` (centres inside tumours, at least
    ``margin`` px from the border) and ``coords/normal_valid.txt`` (centres in normal tissue of
    every slide, ``margin`` px from any tumour), ``patches_per_class`` per slide and class;
    ``jsons/<slide>.json`` with the tumour outlines. Returns ``folder``.
    """
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
            for _ in range(int(rng.integers(1, 4))):
                c = rng.uniform(0.3, 0.7, 2) * size
                tumours.append(_blob_polygon(rng, c[0], c[1], rng.uniform(0.07, 0.13) * size))
        image, tissue, tumour_mask = render_slide(size, tumours, rng)
        write_pyramid_tiff(folder / SLIDES_DIR / f"{name}.tif", image)
        if tumours:
            for x, y in _sample_centres(tumour_mask, rng, patches_per_class, margin):
                lines["tumor"].append(f"{name},{x},{y}")
        near_tumour = tumour_mask
        if tumours:
            near_tumour = ndimage.binary_dilation(tumour_mask, iterations=margin)
        for x, y in _sample_centres(tissue & ~near_tumour, rng, patches_per_class, margin):
            lines["normal"].append(f"{name},{x},{y}")
        doc = {
            "positive": [
                {"name": f"Annotation {i}", "vertices": np.round(p).astype(int).tolist()}
                for i, p in enumerate(tumours)
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
    n_tumour: int = 4,
    n_normal: int = 2,
    size: int = 4096,
    patches_per_class: int = 150,
    margin: int = 64,
    seed: int = 16,
    config: dict | None = None,
) -> dict:
    """Paths for ``source``: ``slides_dir``, ``coords`` {tumor, normal}, ``jsons_dir`` (synthetic)
    or the real pieces (``slide``, ``coords``, ``jsons``) for ``"real"``."""
    if source == "real":
        return fetch_real(config)
    check_source(source)
    params = {
        "margin": margin,
        "n_normal": n_normal,
        "n_tumour": n_tumour,
        "patches_per_class": patches_per_class,
        "seed": seed,
        "size": size,
    }
    folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
    return {
        "slides_dir": folder / SLIDES_DIR,
        "coords": {k: folder / COORDS_DIR / n for k, n in COORD_FILES.items()},
        "jsons_dir": folder / JSONS_DIR,
    }
