"""Landsat 8 surface reflectance (chapter 8's raster source): the real scene's layout, a reader
that checks it, and a generated scene with a known NDVI per zone.

The original is a **Landsat Collection 2 Level-2** scene, as the USGS distributes it: one
single-band GeoTIFF per band, named ``<product id>_SR_B<n>.TIF`` (``LC08_L2SP_014032_...``:
sensor, level, WRS-2 path/row 014/032 covers New York, acquisition and processing dates),
``uint16`` digital numbers on a 30 m grid in the scene's UTM zone (New York: EPSG:32618, UTM
zone 18N), ``0`` outside the imaged swath (the scene is tilted inside its rectangle, so every
edge has a nodata wedge). Surface reflectance is ``DN * 2.75e-05 - 0.2`` (the ``MTL.txt``
metadata file states the factors per band). ``<product id>_QA_PIXEL.TIF`` flags each pixel
(bit 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow, 5 snow, 6 clear, 7 water, then
two-bit confidences). NDVI needs band 4 (red) and band 5 (near infrared).

:func:`find_scene` locates the three files of one product in a folder; :func:`check_scene` opens
them and insists on what a computation over windows relies on: one band each, ``uint16``, a
CRS, and the same grid (size, transform, CRS) for all three, each problem a
:class:`DatasetFormatError` naming the file and what differs. :func:`windows` tiles the grid,
:func:`read_window` reads one window of reflectance and the QA band, :func:`clear` is the mask.

:func:`generate` writes a scene in that layout over any set of zones (the synthetic city's, or
the real taxi zones), with planted land cover: water outside the zones, an impervious/vegetation
mix per zone (each zone its own vegetation share) and parks, clouds with their shadows and
dilated edges flagged in the QA band, and a nodata wedge. ``ndvi_truth.csv`` holds each zone's
NDVI over its clear pixels before sensor noise, so a computation from the files can be checked.

Getting a real scene (public, no login): the Microsoft Planetary Computer's ``landsat-c2-l2``
STAC collection serves every Collection 2 Level-2 scene as cloud-optimised GeoTIFFs, e.g. with
``pystac-client`` (search the collection over New York, sign the item with
``planetary-computer``, download the ``red``, ``nir08`` and ``qa_pixel`` assets and the
``mtl.txt``); USGS EarthExplorer serves the same files after a free login. Put them in one
folder and point the chapter at it (``LANDSAT_SCENE``), or under ``<mirror>/landsat/``. (So
this module has no download spec and is not among :data:`cookbook.datasets.DATASETS`.)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import mirror_root
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError, DatasetUnavailableError

NAME = "landsat"
GENERATOR_VERSION = 1
DEFAULTS = MappingProxyType({"seed": 15, "clouds": 6})

CRS = "EPSG:32618"  # WGS 84 / UTM zone 18N: New York's Landsat scenes
PIXEL = 30.0  # metres
# Collection 2 Level-2 surface reflectance: reflectance = DN * SCALE + OFFSET (DN 0: no data)
SCALE = 2.75e-05
OFFSET = -0.2
# The valid range of Collection 2 surface reflectance DNs (reflectance 0 to 1); outside it the
# retrieval failed (negative reflectance over dark water, saturation), and NDVI is meaningless.
VALID_DN = (7273, 43636)
BANDS = {"red": "SR_B4", "nir": "SR_B5", "qa": "QA_PIXEL"}
PRODUCT_ID = "LC08_L2SP_014032_20230817_20230825_02_T1"  # generated scenes' name (the layout)
TRUTH = "ndvi_truth.csv"
MIRROR_DIR = "landsat"

# QA_PIXEL bits (Landsat 8-9 Collection 2 Level-2 Science Product Guide, table 6-3)
FILL, DILATED_CLOUD, CIRRUS, CLOUD, SHADOW, SNOW, CLEAR, WATER = (1 << b for b in range(8))
# what NDVI must not average: no data, clouds (thick, thin and their edges), shadows, snow
MASKED = FILL | DILATED_CLOUD | CIRRUS | CLOUD | SHADOW | SNOW
_LOW = (1 << 8) | (1 << 10) | (1 << 12) | (1 << 14)  # cloud/shadow/snow/cirrus confidence: low
QA_CLEAR_LAND = _LOW | CLEAR  # 21824, the value a clear land pixel carries
QA_WATER = QA_CLEAR_LAND | WATER  # 21952
QA_CLOUD = (3 << 8) | (1 << 10) | (1 << 12) | (1 << 14) | CLOUD  # 22280: cloud, high confidence
QA_SHADOW = (1 << 8) | (3 << 10) | (1 << 12) | (1 << 14) | SHADOW  # 23824
QA_DILATED = _LOW | DILATED_CLOUD  # 21762

# Surface reflectance (red, near infrared) of the generated land covers
WATER_SR = (0.030, 0.012)
IMPERVIOUS_SR = (0.130, 0.170)
VEGETATION_SR = (0.040, 0.420)
CLOUD_SR = (0.450, 0.480)
# Mean vegetation share of a borough's zones (New York's order, Manhattan greyest, Staten Island
# greenest; the values are planted, not measured)
BOROUGH_GREEN = {"Manhattan": 0.10, "Brooklyn": 0.18, "Queens": 0.26, "Bronx": 0.30,
                 "Staten Island": 0.45}  # fmt: skip
NOISE_SR = 0.004


@dataclass(frozen=True)
class LandsatScene:
    """The files of one scene, its reflectance factors and where it came from."""

    product_id: str
    red: Path
    nir: Path
    qa: Path
    scale: float = SCALE
    offset: float = OFFSET
    truth: Path | None = None  # generated scenes: ndvi_truth.csv
    description: str = ""

    @property
    def generated(self) -> bool:
        return self.truth is not None


def clear(qa: np.ndarray) -> np.ndarray:
    """True where the QA band flags none of fill, cloud, dilated cloud, cirrus, cloud shadow
    or snow."""
    return (qa.astype(np.uint16) & MASKED) == 0


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """(NIR - red) / (NIR + red) in float32; NaN where both are 0."""
    red, nir = red.astype(np.float32), nir.astype(np.float32)
    total = nir + red
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total != 0, (nir - red) / total, np.nan).astype(np.float32)


# ---------------------------------------------------------------------------- reading


def _read_mtl(path: Path) -> tuple[float, float]:
    """Band 4's reflectance factors from an MTL.txt (bands 4 and 5 must agree)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    # Level-2 files also carry the Level-1 TOA factors (LEVEL1_RADIOMETRIC_RESCALING), under
    # the same names: read the surface-reflectance group only
    group = re.search(
        r"GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS(.*?)"
        r"END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
        text,
        re.DOTALL,
    )
    text = group.group(1) if group else ""
    found = {}
    for band in (4, 5):
        mult = re.search(rf"REFLECTANCE_MULT_BAND_{band}\s*=\s*([-+0-9.Ee]+)", text)
        add = re.search(rf"REFLECTANCE_ADD_BAND_{band}\s*=\s*([-+0-9.Ee]+)", text)
        if not (mult and add):
            raise DatasetFormatError(
                f"{path}: no REFLECTANCE_MULT_BAND_{band}/REFLECTANCE_ADD_BAND_{band}: expected "
                "a Collection 2 Level-2 MTL.txt (LEVEL2_SURFACE_REFLECTANCE_PARAMETERS)"
            )
        found[band] = (float(mult.group(1)), float(add.group(1)))
    if found[4] != found[5]:
        raise DatasetFormatError(f"{path}: bands 4 and 5 have different factors {found}")
    return found[4]


def find_scene(folder: str | Path) -> LandsatScene:
    """The one Collection 2 Level-2 scene in ``folder`` (its SR_B4, SR_B5 and QA_PIXEL files;
    the MTL.txt's factors when it is there, the collection's standard ones otherwise)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetUnavailableError(f"{folder}: no such folder (expected a Landsat scene)")
    products = {}
    for path in sorted(folder.iterdir()):
        m = re.match(
            r"(L[COT]0[89]_L2S[PR]_\d{6}_\d{8}_\d{8}_\d{2}_[A-Z0-9]{2})_(.+)\.TIF$", path.name
        )
        if m:
            products.setdefault(m.group(1), {})[m.group(2)] = path
    if not products:
        raise DatasetUnavailableError(
            f"{folder}: no Landsat 8/9 Collection 2 Level-2 files (expected "
            "LC08|LC09_L2SP|L2SR_<path><row>_<date>_<date>_02_<tier>_SR_B4.TIF, _SR_B5.TIF and "
            "_QA_PIXEL.TIF; Landsat 5/7 number their bands differently)"
        )
    if len(products) > 1:
        raise DatasetFormatError(
            f"{folder}: {len(products)} scenes ({', '.join(products)}); keep one per folder"
        )
    ((product, files),) = products.items()
    missing = [f"{product}_{b}.TIF" for b in BANDS.values() if b not in files]
    if missing:
        raise DatasetFormatError(f"{folder}: {', '.join(missing)} missing (NDVI needs B4, B5, QA)")
    mtl = folder / f"{product}_MTL.txt"
    scale, offset = _read_mtl(mtl) if mtl.is_file() else (SCALE, OFFSET)
    truth = folder / TRUTH
    return LandsatScene(
        product,
        *(files[BANDS[k]] for k in ("red", "nir", "qa")),
        scale=scale,
        offset=offset,
        truth=truth if truth.is_file() else None,
        description=f"{product} in {folder}",
    )


def check_scene(scene: LandsatScene) -> dict:
    """Open the three files and check they can be computed on together; returns the grid
    (``crs``, ``transform``, ``width``, ``height``, ``bounds``)."""
    import rasterio

    grids = {}
    for key in BANDS:
        path = getattr(scene, key)
        try:
            with rasterio.open(path) as src:
                grids[key] = {
                    "count": src.count,
                    "dtype": src.dtypes[0],
                    "crs": src.crs,
                    "transform": src.transform,
                    "width": src.width,
                    "height": src.height,
                    "bounds": src.bounds,
                }
        except rasterio.errors.RasterioIOError as exc:
            raise DatasetFormatError(f"{path}: not a readable GeoTIFF ({exc})") from exc
        g = grids[key]
        if g["count"] != 1 or g["dtype"] != "uint16":
            raise DatasetFormatError(
                f"{path}: {g['count']} band(s) of {g['dtype']}; a Collection 2 band file has one "
                "band of uint16"
            )
        if g["crs"] is None:
            raise DatasetFormatError(
                f"{path}: the GeoTIFF has no CRS, so its pixels cannot be placed on the map "
                f"(Landsat scenes over New York are in {CRS}); a file that lost its georeferencing "
                "cannot be joined to zones"
            )
    ref = grids["red"]
    for key in ("nir", "qa"):
        g = grids[key]
        for attr in ("crs", "transform", "width", "height"):
            if g[attr] != ref[attr]:
                raise DatasetFormatError(
                    f"{getattr(scene, key)}: its grid differs from {scene.red.name}'s ({attr} "
                    f"{g[attr]} vs {ref[attr]}): NDVI needs the bands pixel for pixel on one grid "
                    "(resample one onto the other first, e.g. rasterio.warp.reproject)"
                )
    return {k: ref[k] for k in ("crs", "transform", "width", "height", "bounds")}


def windows(grid: dict, size: int = 512) -> pd.DataFrame:
    """The grid cut into ``size``-pixel square windows (smaller at the right and bottom
    edges): ``window_id, col_off, row_off, width, height``."""
    if size < 16:
        raise ValueError(f"window size {size}: expected at least 16 pixels")
    rows = [
        (col, row, min(size, grid["width"] - col), min(size, grid["height"] - row))
        for row in range(0, grid["height"], size)
        for col in range(0, grid["width"], size)
    ]
    frame = pd.DataFrame(rows, columns=["col_off", "row_off", "width", "height"])
    frame.insert(0, "window_id", np.arange(len(frame), dtype=np.int64))
    return frame


def reflectance(dn: np.ndarray, scene: LandsatScene) -> np.ndarray:
    """Surface reflectance (float32) of digital numbers; NaN for 0 (no data) and for DNs
    outside the valid range :data:`VALID_DN`."""
    refl = dn.astype(np.float32) * np.float32(scene.scale) + np.float32(scene.offset)
    valid = (dn >= VALID_DN[0]) & (dn <= VALID_DN[1])
    return np.where(valid, refl, np.nan).astype(np.float32)


def read_window(scene: LandsatScene, col_off: int, row_off: int, width: int, height: int):
    """One window: ``(red, nir, qa, transform)`` with red and NIR as float32 surface
    reflectance (:func:`reflectance`: NaN where there is no valid value) and the window's own
    affine transform."""
    import rasterio
    from rasterio.windows import Window

    window = Window(col_off, row_off, width, height)
    out = []
    for path in (scene.red, scene.nir):
        with rasterio.open(path) as src:
            dn = src.read(1, window=window)
            transform = src.window_transform(window)
        out.append(reflectance(dn, scene))
    with rasterio.open(scene.qa) as src:
        qa = src.read(1, window=window)
    return out[0], out[1], qa, transform


def overview(scene: LandsatScene, step: int = 8):
    """NDVI on a grid ``step`` times coarser (decimated read), masked pixels NaN: a quick look."""
    import rasterio

    bands = []
    for path in (scene.red, scene.nir, scene.qa):
        with rasterio.open(path) as src:
            shape = (max(1, src.height // step), max(1, src.width // step))
            bands.append(src.read(1, out_shape=shape, resampling=rasterio.enums.Resampling.nearest))
            bounds = src.bounds
    red, nir = (reflectance(b, scene) for b in bands[:2])
    return np.where(clear(bands[2]), ndvi(red, nir), np.nan), bounds


# ---------------------------------------------------------------------------- the generator


def _zones_utm(zones_file: Path):
    from cookbook.datasets.nyc_taxi import read_zones

    zones = read_zones(zones_file)
    zones = zones.dissolve("LocationID", aggfunc={"borough": "first"}).reset_index()
    return zones[["LocationID", "borough", "geometry"]].to_crs(CRS)


def _write_band(path: Path, data: np.ndarray, transform, nodata: int) -> None:
    import rasterio

    profile = {
        "driver": "GTiff",
        "dtype": "uint16",
        "count": 1,
        "width": data.shape[1],
        "height": data.shape[0],
        "crs": CRS,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _disk(shape, centre, radius):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def generate(folder: str | Path, zones_file: str | Path, seed: int, clouds: int) -> Path:
    """Write a scene over ``zones_file``'s zones into ``folder``; returns the folder.

    Planted: water (red 0.030, NIR 0.012) wherever no zone is; in each zone a per-pixel mix of
    impervious surface (0.130, 0.170) and vegetation (0.040, 0.420) whose mean share is the
    zone's own (a Beta around its borough's :data:`BOROUGH_GREEN`), and parks (discs of 95%
    vegetation) in one zone in twelve; ``clouds`` clouds (0.45, 0.48; QA cloud) with a ring
    of dilated cloud and a shadow (reflectance x 0.35; QA shadow) offset to the south-east; a
    nodata wedge (DN 0, QA fill) along the eastern edge, as a tilted swath leaves; sensor
    noise of 0.004. The truth is each zone's mean NDVI over its clear pixels before the noise.
    """
    from rasterio import features
    from rasterio.transform import from_origin

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    zones = _zones_utm(Path(zones_file))
    xmin, ymin, xmax, ymax = zones.total_bounds
    pad = 3_000.0
    x0 = np.floor((xmin - pad) / PIXEL) * PIXEL
    y0 = np.ceil((ymax + pad) / PIXEL) * PIXEL
    width = int(np.ceil((xmax + pad - x0) / PIXEL))
    height = int(np.ceil((y0 - (ymin - pad)) / PIXEL))
    transform = from_origin(x0, y0, PIXEL, PIXEL)
    shape = (height, width)
    zone_id = features.rasterize(
        zip(zones.geometry, zones["LocationID"], strict=True),
        out_shape=shape,
        transform=transform,
        fill=0,
        dtype="int32",
    )
    land = zone_id > 0

    # vegetation share per pixel: a Beta around the zone's share (parks: 0.95)
    ids = zones["LocationID"].to_numpy()
    share = np.zeros(int(ids.max()) + 1)
    borough_mean = zones["borough"].map(BOROUGH_GREEN).fillna(0.25).to_numpy()
    share[ids] = rng.beta(8 * borough_mean, 8 * (1 - borough_mean))
    mean = share[zone_id]
    for location_id in rng.choice(ids, max(1, len(ids) // 12), replace=False):
        rows, cols = np.nonzero(zone_id == location_id)
        if len(rows):
            k = rng.integers(len(rows))
            park = _disk(shape, (rows[k], cols[k]), rng.uniform(8, 25)) & (zone_id == location_id)
            mean = np.where(park, 0.95, mean)
    concentration = 6.0
    a = np.clip(mean * concentration, 1e-3, None)
    b = np.clip((1 - mean) * concentration, 1e-3, None)
    veg = rng.beta(a, b)
    red = np.where(land, veg * VEGETATION_SR[0] + (1 - veg) * IMPERVIOUS_SR[0], WATER_SR[0])
    nir = np.where(land, veg * VEGETATION_SR[1] + (1 - veg) * IMPERVIOUS_SR[1], WATER_SR[1])
    true_ndvi = ndvi(red, nir)
    qa = np.where(land, QA_CLEAR_LAND, QA_WATER).astype(np.uint16)

    # clouds over land, their dilated edges and shadows
    land_rows, land_cols = np.nonzero(land)
    cloud = np.zeros(shape, bool)
    for _ in range(clouds):
        k = rng.integers(len(land_rows))
        cloud |= _disk(shape, (land_rows[k], land_cols[k]), rng.uniform(25, 70))
    dilated = np.zeros(shape, bool)
    shadow = np.zeros(shape, bool)
    for dr, dc in ((3, 0), (-3, 0), (0, 3), (0, -3), (2, 2), (-2, -2), (2, -2), (-2, 2)):
        dilated |= np.roll(np.roll(cloud, dr, 0), dc, 1)
    shadow = np.roll(np.roll(cloud, 40, 0), 30, 1) & ~cloud & ~dilated
    dilated &= ~cloud
    red = np.where(shadow, red * 0.35, red)
    nir = np.where(shadow, nir * 0.35, nir)
    red = np.where(cloud, CLOUD_SR[0], np.where(dilated, red + 0.08, red))
    nir = np.where(cloud, CLOUD_SR[1], np.where(dilated, nir + 0.08, nir))
    qa = np.select(
        [cloud, dilated, shadow], [np.uint16(v) for v in (QA_CLOUD, QA_DILATED, QA_SHADOW)], qa
    )

    # the nodata wedge: a tilted eastern edge
    rows, cols = np.ogrid[:height, :width]
    fill = cols > width * 0.93 - (rows - height / 2) * np.tan(np.deg2rad(13))
    qa = np.where(fill, FILL, qa).astype(np.uint16)

    def to_dn(refl):
        noisy = refl + rng.normal(0, NOISE_SR, shape)
        dn = np.clip(np.round((noisy - OFFSET) / SCALE), 1, 65535).astype(np.uint16)
        return np.where(fill, 0, dn).astype(np.uint16)

    folder.mkdir(parents=True, exist_ok=True)
    _write_band(folder / f"{PRODUCT_ID}_SR_B4.TIF", to_dn(red), transform, nodata=0)
    _write_band(folder / f"{PRODUCT_ID}_SR_B5.TIF", to_dn(nir), transform, nodata=0)
    _write_band(folder / f"{PRODUCT_ID}_QA_PIXEL.TIF", qa, transform, nodata=1)
    (folder / f"{PRODUCT_ID}_MTL.txt").write_text(
        "GROUP = LANDSAT_METADATA_FILE\n  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS\n"
        + "".join(
            f"    REFLECTANCE_MULT_BAND_{b} = {SCALE:.2E}\n"
            f"    REFLECTANCE_ADD_BAND_{b} = {OFFSET:.6f}\n"
            for b in (4, 5)
        )
        + "  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS\nEND_GROUP = LANDSAT_METADATA_FILE\n"
        + "END\n",
        encoding="utf-8",
    )

    ok = land & clear(qa)
    counts = np.bincount(zone_id[ok], minlength=len(share))
    sums = np.bincount(zone_id[ok], weights=true_ndvi[ok], minlength=len(share))
    truth = zones[["LocationID", "borough"]].copy()
    truth["clear_pixels"] = counts[ids]
    truth["zone_pixels"] = np.bincount(zone_id[land], minlength=len(share))[ids]
    with np.errstate(invalid="ignore"):
        truth["ndvi_sum"] = sums[ids]
        truth["ndvi_mean"] = np.where(
            counts[ids] > 0, sums[ids] / np.maximum(counts[ids], 1), np.nan
        )
    truth["vegetation_share"] = share[ids]
    truth.to_csv(folder / TRUTH, index=False)
    return folder


def _digest(path: Path) -> str:
    """A short hash of a zones file and its sidecars (a Shapefile's .dbf and .prj)."""
    digest = hashlib.sha256()
    for part in sorted({path, *path.parent.glob(f"{path.stem}.*")}):
        if part.suffix.lower() in {path.suffix.lower(), ".dbf", ".prj", ".shx"}:
            digest.update(part.read_bytes())
    return digest.hexdigest()[:12]


def prepare(
    source: str = "synthetic",
    *,
    zones_file: str | Path,
    folder: str | Path | None = None,
    seed: int = DEFAULTS["seed"],
    clouds: int = DEFAULTS["clouds"],
    config: dict | None = None,
) -> LandsatScene:
    """The scene to compute on.

    ``"synthetic"``: a scene generated over ``zones_file``'s zones (cached per zones file and
    parameters). ``"real"``: the scene in ``folder``, else in ``<mirror>/landsat``; when neither
    holds one, a scene generated over ``zones_file`` (the real zones), said so in its
    ``description``: the pipeline runs, but its NDVI values are planted, not observed.
    """
    zones_file = Path(zones_file)
    if check_source(source) == "real":
        candidates = [Path(folder)] if folder else []
        mirror = mirror_root(config)
        if mirror is not None:
            candidates.append(mirror / MIRROR_DIR)
        tried = []
        for candidate in candidates:
            try:
                return find_scene(candidate)
            except DatasetUnavailableError as exc:
                tried.append(str(exc))
        if folder:
            raise DatasetUnavailableError("; ".join(tried))
        reason = "; ".join(tried) or "no LANDSAT_SCENE folder given and no data mirror"
    params = {"seed": seed, "clouds": clouds, "zones": _digest(zones_file)}
    out = ensure_generated(
        NAME,
        params,
        lambda f, **p: generate(f, zones_file, p["seed"], p["clouds"]),
        config,
        version=GENERATOR_VERSION,
    )
    scene = find_scene(out)
    what = f"generated over the zones of {zones_file.name} (planted land cover, seed {seed})"
    if source == "real":
        what = (
            f"no real Landsat scene ({reason}): a scene {what}; its NDVI is planted, not observed"
        )
    return LandsatScene(**{**scene.__dict__, "description": what})
