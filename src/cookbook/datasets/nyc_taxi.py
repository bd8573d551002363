"""NYC taxi trips, taxi zones and boroughs (chapter 8): loaders, download spec, synthetic city.

The originals:

- **Taxi zones** (NYC TLC): 263 polygons with ``OBJECTID, Shape_Leng, Shape_Area, zone,
  LocationID, borough``, as a Shapefile in EPSG:2263 (NAD83 / New York Long Island, US feet) and
  as a GeoJSON in EPSG:4326. 263 records hold only 260 distinct LocationIDs (56 twice, 103 three
  times): dissolve by LocationID before a join.
- **Borough boundaries** (NYC Department of City Planning): a GeoJSON FeatureCollection of five
  MultiPolygons with string properties ``boro_code`` ("1".."5"), ``boro_name``.
- **Trips** (TLC trip records): green taxi from Aug 2013 and yellow taxi in 2015 carry pickup and
  dropoff longitude/latitude. The green 2013 files have a blank second line, 22 fields under a
  20-name header and a trailing space in ``Trip_type``; coordinates are 0 when the meter had no
  fix. Yellow files spell the same columns in lower case.

:func:`read_zones` reads zones from any of the four formats the chapter shows (Shapefile,
GeoJSON, WKT CSV, GeoParquet), checking what a reader gets wrong most often: a Shapefile
without its ``.shx``/``.dbf``, a GeoJSON that is not a FeatureCollection, missing attribute
columns, invalid polygons (repaired with :func:`shapely.make_valid` and reported).
:func:`read_trips_spark` reads either TLC trip layout into one set of column names.

:func:`generate` writes a seeded synthetic city in the same files and formats: five boroughs
(with islands, a hole and water between them), zones tiling them, and trips from hotspots with
planted bad coordinates, plus ``trips_truth.parquet`` holding every trip's true pickup zone.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DatasetFormatError, DownloadSpec, RemoteFile, fetch
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.io import atomic_open, atomic_path

NAME = "nyc_taxi_geo"
GENERATOR_VERSION = 1

ZONES_DIR = "taxi_zones"
ZONES_SHP = "taxi_zones.shp"
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj")
ZONES_GEOJSON = "taxi_zones_wgs84.geojson"
ZONES_WKT = "taxi_zones_wkt.csv"
BOROUGHS_GEOJSON = "borough_boundaries.geojson"
LOOKUP = "taxi_zone_lookup.csv"
GREEN_TRIPS = "green_tripdata_2013-08.csv"
YELLOW_TRIPS = "yellow_tripdata_2015-01_head1000.csv"
TRUTH = "trips_truth.parquet"

ZONE_COLUMNS = ("LocationID", "zone", "borough")
BOROUGH_COLUMNS = ("boro_code", "boro_name")
BOROUGH_CODES = {
    "Manhattan": "1",
    "Bronx": "2",
    "Brooklyn": "3",
    "Queens": "4",
    "Staten Island": "5",
}
PROJECTED_CRS = "EPSG:2263"  # the TLC shapefile's CRS (US feet)
# What the chapter treats as a plausible NYC coordinate; (0, 0) and swapped pairs fall outside.
NYC_BBOX = (-74.30, 40.45, -73.65, 40.95)  # lon_min, lat_min, lon_max, lat_max

# The green taxi header of 2013, trailing space included; data rows carry two extra fields.
GREEN_2013_HEADER = (
    "VendorID", "lpep_pickup_datetime", "Lpep_dropoff_datetime", "Store_and_fwd_flag",
    "RateCodeID", "Pickup_longitude", "Pickup_latitude", "Dropoff_longitude", "Dropoff_latitude",
    "Passenger_count", "Trip_distance", "Fare_amount", "Extra", "MTA_tax", "Tip_amount",
    "Tolls_amount", "Ehail_fee", "Total_amount", "Payment_type", "Trip_type ",
)  # fmt: skip
# Lower-cased TLC names -> the names the chapter uses.
TRIP_COLUMN_ALIASES = {
    "lpep_pickup_datetime": "pickup_datetime",
    "tpep_pickup_datetime": "pickup_datetime",
    "lpep_dropoff_datetime": "dropoff_datetime",
    "tpep_dropoff_datetime": "dropoff_datetime",
}
COORDINATE_COLUMNS = (
    "pickup_longitude",
    "pickup_latitude",
    "dropoff_longitude",
    "dropoff_latitude",
)
NUMERIC_TRIP_COLUMNS = (
    "passenger_count",
    "trip_distance",
    "fare_amount",
    "tip_amount",
    "total_amount",
)


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


_TODD = ("toddwschneider/nyc-taxi-data", "c65ad8332a44f49770644b11576c0529b40bbc76")
_SHP_SHA = {
    ".shp": "70a5ec90bf0b6a4609b0846638e5331fee861830633cf29c4f6ed846d5d4c2ea",
    ".shx": "830c7309d34c9a617757a3c821f9fc3868c9442a239ea855cd4e49f3b566597c",
    ".dbf": "8aada81ec3f00bdfdf1f7c21302d0f7f45d1b99e8f8b1f60e40ef9180c42a523",
    ".prj": "496a9166511a534dc8eff570dac27cdc91c817fe605e463b7ca70b25e94fbfd9",
}
SPEC = DownloadSpec(
    name=NAME,
    title="NYC taxi zones, borough boundaries and TLC trip records with coordinates",
    homepage="https://www.nyc.gov/site/tlc/about/tlc-trip-record-data.page",
    license="NYC Open Data terms of use (public data, no restrictions on use)",
    files=(
        *(
            RemoteFile(
                filename=f"taxi_zones{ext}",
                url=_gh(*_TODD, f"shapefiles/taxi_zones/taxi_zones{ext}"),
                sha256=sha,
                mirror_path=f"nyc_geo/taxi_zones/taxi_zones{ext}",
            )
            for ext, sha in _SHP_SHA.items()
        ),
        RemoteFile(
            filename=ZONES_GEOJSON,
            url=_gh(
                "hackbuilder/uber-nyc-dashboard",
                "b22d1aeda1242f3a88c2940f51c105af3b5c4bd9",
                "taxi_zones.geojson",
            ),
            sha256="409eaf50c52a390fd6de5cd9b1895860849ea3684d78894c21ce70dd222d0279",
            mirror_path=f"nyc_geo/{ZONES_GEOJSON}",
        ),
        RemoteFile(
            filename=LOOKUP,
            url=_gh(
                "hackbuilder/uber-nyc-dashboard",
                "b22d1aeda1242f3a88c2940f51c105af3b5c4bd9",
                "taxi_zone_lookup.csv",
            ),
            sha256="1a99e105092230f8620f301edcca7f80d3080642ff404d28ed957d3fa222c8ed",
            mirror_path=f"nyc_geo/{LOOKUP}",
        ),
        RemoteFile(
            filename=BOROUGHS_GEOJSON,
            url=_gh(
                "AjJan2020/Coursera_Capstone-Project",
                "424d7ef9c95764283501445007f9332b66fe3e65",
                "Borough%20Boundaries.geojson",
            ),
            sha256="9f1758a90e858ba108359278d1fe5edb6591d3bbe0c61694425b47b3a3456c35",
            mirror_path=f"nyc_geo/{BOROUGHS_GEOJSON}",
        ),
        RemoteFile(
            filename=GREEN_TRIPS,
            url=_gh(
                "HarshaLaxman/NYCBoroTaxiAnalysis",
                "9ea1322009857f59c11745448b55fd2a58039f27",
                GREEN_TRIPS,
            ),
            sha256="c3789064dff0a72047d72c630613bd16c69b73cb2573febf27fc889f81375c6f",
            mirror_path=f"nyc_taxi_trips/{GREEN_TRIPS}",
        ),
        RemoteFile(
            filename=YELLOW_TRIPS,
            url=_gh(
                "shaileshvedula/NYC-Taxi-Trips-Analysis",
                "a5db9dc34bf07c7fb38e38530094575eac66a008",
                "yellow_tripdata_sample.csv",
            ),
            sha256="b98022deb581cb97d16ac43d23b665f9d20a8403610dd384efa8307bcafd529f",
            mirror_path=f"nyc_taxi_trips/{YELLOW_TRIPS}",
        ),
    ),
    notes=(
        "Pinned copies of the official files (checksummed). The official sources: TLC taxi zones "
        "https://d37ci6vzurychx.cloudfront.net/misc/taxi_zones.zip and the zone lookup "
        "https://d37ci6vzurychx.cloudfront.net/misc/taxi_zone_lookup.csv; borough boundaries "
        "from NYC Open Data (dataset 'Borough Boundaries'); trip records from the TLC page above "
        "(2009-2016 files carry coordinates; later ones only zone IDs)."
    ),
)


# ----------------------------------------------------------------------------- readers


def check_shapefile(path: str | Path) -> Path:
    """Check that a ``.shp`` has the sidecar files a reader needs; name the missing ones."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"shapefile not found: {path}")
    missing = [
        path.with_suffix(ext).name
        for ext in (".shx", ".dbf")
        if not (path.with_suffix(ext).is_file() or path.with_suffix(ext.upper()).is_file())
    ]
    if missing:
        raise DatasetFormatError(
            f"{path}: a Shapefile is several files; {', '.join(missing)} missing beside it "
            "(.shx holds the record index, .dbf the attributes). Copy or unzip all parts "
            "(.shp .shx .dbf .prj) into the same folder."
        )
    if not (path.with_suffix(".prj").is_file() or path.with_suffix(".PRJ").is_file()):
        warnings.warn(f"{path}: no .prj beside it, so the CRS is unknown", stacklevel=2)
    return path


def check_feature_collection(path: str | Path) -> dict:
    """Parse a GeoJSON file and check it is a FeatureCollection of features with geometries."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GeoJSON file not found: {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(f"{path}: not valid JSON: {exc}") from exc
    kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
    if kind != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise DatasetFormatError(
            f'{path}: expected a GeoJSON FeatureCollection (an object with "type": '
            f'"FeatureCollection" and a "features" list), got type {kind!r}'
        )
    for i, feature in enumerate(doc["features"]):
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise DatasetFormatError(f"{path}: feature {i} has no geometry object")
    return doc


def _read_wkt_csv(path: Path):
    import geopandas as gpd
    import shapely

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    geom_col = next((c for c in ("the_geom", "geometry", "wkt", "WKT") if c in frame.columns), None)
    if geom_col is None:
        raise DatasetFormatError(
            f"{path}: no geometry column; expected one of the_geom, geometry, wkt holding WKT "
            f"(columns are {', '.join(frame.columns)})"
        )
    try:
        geoms = shapely.from_wkt(frame[geom_col].to_numpy(), on_invalid="raise")
    except shapely.errors.GEOSException as exc:
        raise DatasetFormatError(
            f"{path}: column {geom_col} holds text that is not WKT: {exc}"
        ) from exc
    return gpd.GeoDataFrame(frame.drop(columns=[geom_col]), geometry=geoms, crs="EPSG:4326")


def repair_polygons(gdf, label: str):
    """Repair invalid polygons with :func:`shapely.make_valid`, keeping their polygonal parts.

    Returns ``(gdf, repaired_index_values)``; raises :class:`DatasetFormatError` when a geometry
    is empty, not polygonal, or has no area left after repair.
    """
    import shapely

    geoms = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    repaired = gdf.index[invalid].tolist()
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        # make_valid can return a GeometryCollection with slivers of lines: keep polygons only
        fixed = np.array([_polygonal_part(g) for g in fixed], dtype=object)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        gdf = gdf.set_geometry(geoms)
    bad = gdf.geometry.is_empty | ~gdf.geom_type.isin(["Polygon", "MultiPolygon"])
    if bad.any():
        raise DatasetFormatError(
            f"{label}: row(s) {gdf.index[bad].tolist()[:10]} have no polygon (empty, or a "
            f"{gdf.geom_type[bad].iloc[0]} after repair); expected Polygon or MultiPolygon"
        )
    if repaired:
        warnings.warn(
            f"{label}: repaired {len(repaired)} invalid polygon(s), rows {repaired[:10]}",
            stacklevel=3,
        )
    return gdf, repaired


def _polygonal_part(geom):
    import shapely

    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def read_zones(path: str | Path, to_crs: str | None = None):
    """Read taxi zones from a Shapefile, GeoJSON, WKT CSV or GeoParquet; validate and repair.

    Returns a GeoDataFrame with at least ``LocationID`` (int), ``zone``, ``borough`` and the
    geometry, in the file's CRS or ``to_crs``. Invalid polygons are repaired and listed in
    ``gdf.attrs["repaired"]``.
    """
    import geopandas as gpd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".shp":
        check_shapefile(path)
        gdf = gpd.read_file(path, engine="pyogrio")
    elif suffix in (".geojson", ".json"):
        check_feature_collection(path)
        gdf = gpd.read_file(path, engine="pyogrio")
    elif suffix == ".csv":
        if not path.is_file():
            raise FileNotFoundError(f"zones CSV not found: {path}")
        gdf = _read_wkt_csv(path)
    elif suffix == ".parquet":
        if not path.is_file():
            raise FileNotFoundError(f"GeoParquet file not found: {path}")
        gdf = gpd.read_parquet(path)
    else:
        raise DatasetFormatError(
            f"{path}: unknown zones format {suffix!r}; "
            "expected .shp, .geojson, .csv (WKT) or .parquet"
        )
    missing = [c for c in ZONE_COLUMNS if c not in gdf.columns]
    if missing:
        raise DatasetFormatError(
            f"{path}: missing zone attribute(s) {', '.join(missing)}; expected "
            f"{', '.join(ZONE_COLUMNS)} (columns are {', '.join(map(str, gdf.columns))})"
        )
    ids = pd.to_numeric(gdf["LocationID"], errors="coerce")
    if ids.isna().any():
        raise DatasetFormatError(
            f"{path}: column LocationID must hold integers; "
            f"found {gdf['LocationID'][ids.isna()].iloc[0]!r}"
        )
    gdf["LocationID"] = ids.astype("int64")
    if gdf.crs is None:
        raise DatasetFormatError(f"{path}: no CRS (a Shapefile needs its .prj)")
    gdf, repaired = repair_polygons(gdf, str(path))
    if to_crs is not None:
        gdf = gdf.to_crs(to_crs)
    gdf.attrs["repaired"] = repaired
    return gdf


def read_boroughs(path: str | Path):
    """Read the borough boundaries GeoJSON (``boro_code``, ``boro_name``), validated, EPSG:4326."""
    import geopandas as gpd

    path = Path(path)
    check_feature_collection(path)
    gdf = gpd.read_file(path, engine="pyogrio")
    missing = [c for c in BOROUGH_COLUMNS if c not in gdf.columns]
    if missing:
        raise DatasetFormatError(
            f"{path}: missing borough propert(ies) {', '.join(missing)}; "
            "expected boro_code, boro_name"
        )
    gdf, repaired = repair_polygons(gdf, str(path))
    gdf = gdf.to_crs("EPSG:4326")
    gdf.attrs["repaired"] = repaired
    return gdf


def trip_columns(path: str | Path) -> dict[str, str]:
    """Map a TLC trip file's header to the chapter's names; check the coordinate columns.

    Returns ``{name in file: normalised name}``: lower-cased, stripped of spaces (``Trip_type ``),
    pickup/dropoff times under one name for green (``lpep_``) and yellow (``tpep_``) files.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trip file not found: {path}")
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline().rstrip("\r\n").split(",")
    mapping = {}
    for i, name in enumerate(header):
        norm = name.strip().lower() or f"_c{i}"
        mapping[name if name else f"_c{i}"] = TRIP_COLUMN_ALIASES.get(norm, norm)
    missing = [c for c in COORDINATE_COLUMNS if c not in mapping.values()]
    if missing:
        raise DatasetFormatError(
            f"{path}: no coordinate column(s) {', '.join(missing)} (any case); a TLC trip file "
            "with coordinates (green 2013-2016, yellow 2009-2016) has Pickup_longitude, "
            "Pickup_latitude, Dropoff_longitude, Dropoff_latitude. Later files only carry "
            "PULocationID/DOLocationID: they are already zoned."
        )
    return mapping


def read_trips_spark(spark, path: str | Path):
    """Read a TLC trip CSV (green 2013 or yellow 2015 layout) with Spark, columns normalised.

    Coordinates and amounts become doubles (unparseable values become null, which the chapter's
    cleaning step counts); times become timestamps. Spark skips the green files' blank second
    line and ignores the two unnamed trailing fields.
    """
    from pyspark.sql import functions as F

    mapping = trip_columns(path)
    raw = spark.read.option("header", True).csv(str(Path(path).resolve()))
    df = raw.select([F.col(f"`{c}`").alias(mapping.get(c, c.strip().lower())) for c in raw.columns])
    for c in COORDINATE_COLUMNS + NUMERIC_TRIP_COLUMNS:
        if c in df.columns:
            df = df.withColumn(c, F.col(c).try_cast("double"))
    for c in ("pickup_datetime", "dropoff_datetime"):
        if c in df.columns:
            df = df.withColumn(c, F.col(c).try_cast("timestamp"))
    keep = [
        c
        for c in ("pickup_datetime", "dropoff_datetime", *COORDINATE_COLUMNS, *NUMERIC_TRIP_COLUMNS)
        if c in df.columns
    ]
    return df.select(keep)


# ----------------------------------------------------------------------------- real data


def fetch_real(trips: str = GREEN_TRIPS, config: dict | None = None) -> dict[str, Path | None]:
    """Paths of the real files (cache -> ``$COOKBOOK_DATA_MIRROR`` -> pinned download)."""
    parts = [fetch(SPEC, f"taxi_zones{ext}", config=config) for ext in SHAPEFILE_PARTS]
    if len({p.parent for p in parts}) != 1:
        raise DatasetFormatError(
            "the taxi-zone shapefile parts resolved to different folders "
            f"({', '.join(map(str, parts))}); "
            f"clear the cache folder {parts[0].parent} and fetch again"
        )
    return {
        "zones_shp": parts[0],
        "zones_geojson": fetch(SPEC, ZONES_GEOJSON, config=config),
        "zones_wkt": None,
        "boroughs": fetch(SPEC, BOROUGHS_GEOJSON, config=config),
        "lookup": fetch(SPEC, LOOKUP, config=config),
        "trips": fetch(SPEC, trips, config=config),
        "truth": None,
    }


# ----------------------------------------------------------------------------- synthetic city


def _blob(rng, cx, cy, a, b, angle_deg=0.0, n=160, wobble=0.08):
    """A closed wobbly ellipse (lon/lat), smooth random radius variation along the outline."""
    import shapely

    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = np.ones(n)
    for k in (2, 3, 5, 8, 13):
        radius += wobble / k**0.7 * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    x, y = a * radius * np.cos(t), b * radius * np.sin(t)
    th = np.deg2rad(angle_deg)
    xr, yr = x * np.cos(th) - y * np.sin(th), x * np.sin(th) + y * np.cos(th)
    return shapely.make_valid(shapely.Polygon(np.column_stack([cx + xr, cy + yr])))


def _largest(geom):
    if geom.geom_type == "Polygon":
        return geom
    return max(geom.geoms, key=lambda g: g.area)


def build_city(seed: int = 8):
    """Five boroughs as a GeoDataFrame (EPSG:4326): water between them, islands and a hole.

    Manhattan is a long island with a small river island beside it; the Bronx is across a narrow
    river; Brooklyn and Queens share a land border, Brooklyn has small islands in its bay and
    Queens a lake (a hole); Staten Island sits across a wider channel.
    """
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    river = 0.004
    manhattan = _largest(_blob(rng, -73.968, 40.782, 0.016, 0.095, angle_deg=-29, wobble=0.05))
    bronx = _blob(rng, -73.862, 40.855, 0.072, 0.048, wobble=0.10)
    bronx = _largest(bronx.difference(manhattan.buffer(river)))
    west_li = _blob(rng, -73.86, 40.675, 0.165, 0.095, angle_deg=8, wobble=0.07)
    west_li = _largest(west_li.difference(shapely.union(manhattan, bronx).buffer(river)))
    # Brooklyn | Queens along a wiggly line from the East River to the southern shore
    ys = np.linspace(40.80, 40.52, 40)
    xs = -73.955 + (40.80 - ys) * 0.55 + 0.004 * np.sin(ys * 400)
    cut = shapely.Polygon([(-74.2, 40.85), *zip(xs, ys, strict=True), (-74.2, 40.50)])
    brooklyn = _largest(west_li.intersection(cut))
    queens = west_li.difference(cut)
    queens = _largest(queens)
    lake_centre = queens.representative_point()
    lake = _blob(rng, lake_centre.x, lake_centre.y, 0.012, 0.006, wobble=0.05)
    if queens.buffer(-0.004).contains(lake):
        queens = queens.difference(lake)  # a hole: water inside the borough
    land = shapely.union_all([manhattan, bronx, brooklyn, queens])
    staten = _blob(rng, -74.150, 40.585, 0.080, 0.065, wobble=0.09)
    staten = _largest(staten.difference(land.buffer(0.02)))
    land = shapely.union(land, staten)

    def islands(centres, a, b):
        out = []
        for cx, cy in centres:
            isle = _blob(rng, cx, cy, a, b, wobble=0.05).difference(land.buffer(0.0015))
            if not isle.is_empty and isle.area > 0.2 * np.pi * a * b:
                out.append(_largest(isle))
        return out

    # a thin island in the river beside Manhattan, and islands off Brooklyn's south shore
    river_isles = []
    for frac in np.linspace(0.05, 0.95, 19):
        edge = manhattan.exterior.interpolate(frac, normalized=True)
        for dx in (0.0065, -0.0065):
            river_isles = islands([(edge.x + dx, edge.y)], 0.0015, 0.005)
            if river_isles:
                break
        if river_isles:
            break
    south = brooklyn.bounds
    bay_isles = islands(
        [(south[0] + 0.03 + 0.025 * i, south[1] - 0.008) for i in range(3)], 0.005, 0.003
    )
    shapes = {
        "Manhattan": shapely.MultiPolygon([manhattan, *river_isles]),
        "Bronx": shapely.MultiPolygon([bronx]),
        "Brooklyn": shapely.MultiPolygon([brooklyn, *bay_isles]),
        "Queens": shapely.MultiPolygon([queens]),
        "Staten Island": shapely.MultiPolygon([staten]),
    }
    return gpd.GeoDataFrame(
        {"boro_code": [BOROUGH_CODES[n] for n in shapes], "boro_name": list(shapes)},
        geometry=list(shapes.values()),
        crs="EPSG:4326",
    )


_ZONE_WORDS_A = (
    "Harbor", "Maple", "Cedar", "Union", "Liberty", "Park", "River", "Bay", "Hill", "Garden",
    "Station", "Market", "Mill", "Ferry", "Lake", "Forest", "Beacon", "Crown", "Elm", "Willow",
)  # fmt: skip
_ZONE_WORDS_B = (
    "Heights", "Square", "Point", "Village", "Slope", "Gardens", "Junction", "Terrace", "Flats",
    "Landing", "Yards", "Commons", "Park", "Ridge", "Hollow", "Court", "Place", "Row",
)  # fmt: skip


def build_zones(boroughs, n_zones: int = 263, seed: int = 8):
    """Zones tiling each borough: Voronoi cells of random seeds, clipped to the borough.

    Manhattan gets three times the zones its area would give (dense, small zones, as in the
    real city). Returns a GeoDataFrame with the TLC attributes, EPSG:4326.
    """
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed + 1)
    weight = boroughs.to_crs(PROJECTED_CRS).geometry.area * np.where(
        boroughs["boro_name"] == "Manhattan", 3.0, 1.0
    )
    counts = np.maximum(2, np.floor(weight / weight.sum() * n_zones).astype(int)).to_numpy()
    counts[np.argmax(counts)] += n_zones - counts.sum()
    rows = []
    for (_, boro), k in zip(boroughs.iterrows(), counts, strict=True):
        shape = boro.geometry
        seeds = _uniform_points_in(shape, k, rng)
        cells = shapely.voronoi_polygons(
            shapely.MultiPoint(seeds), extend_to=shape.envelope.buffer(0.05)
        )
        for cell in cells.geoms:
            part = cell.intersection(shape)
            part = _polygonal_part(part)
            if not part.is_empty:
                rows.append((boro["boro_name"], part))
    used = set()
    names = []
    for _ in rows:
        while True:
            name = f"{rng.choice(_ZONE_WORDS_A)} {rng.choice(_ZONE_WORDS_B)}"
            if name not in used:
                used.add(name)
                names.append(name)
                break
    zones = gpd.GeoDataFrame(
        {
            "zone": names,
            "LocationID": np.arange(1, len(rows) + 1, dtype="int64"),
            "borough": [b for b, _ in rows],
        },
        geometry=[shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for _, g in rows],
        crs="EPSG:4326",
    )
    return zones


def _uniform_points_in(shape, n: int, rng, float32: bool = False) -> np.ndarray:
    """``n`` points uniformly inside ``shape`` (rejection sampling in its bounding box)."""
    import shapely

    x0, y0, x1, y1 = shape.bounds
    shapely.prepare(shape)
    out = np.empty((0, 2))
    while len(out) < n:
        m = max(64, int((n - len(out)) * 1.3 * shape.envelope.area / max(shape.area, 1e-12)))
        pts = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        if float32:  # what a TLC file stores: the point must stay inside after rounding
            pts = pts.astype(np.float32).astype(np.float64)
        out = np.vstack([out, pts[shapely.contains_xy(shape, pts[:, 0], pts[:, 1])]])
    return out[:n]


HOTSPOTS = (  # lon, lat, weight: midtown, downtown, an airport in Queens, central Brooklyn
    (-73.980, 40.755, 3.0),
    (-74.005, 40.715, 1.5),
    (-73.785, 40.645, 1.0),
    (-73.950, 40.680, 1.0),
)


def _zone_weights(zones) -> np.ndarray:
    c = zones.geometry.representative_point()
    w = np.full(len(zones), 0.05)
    for lon, lat, weight in HOTSPOTS:
        d2 = (c.x.to_numpy() - lon) ** 2 + (c.y.to_numpy() - lat) ** 2
        w += weight * np.exp(-d2 / (2 * 0.03**2))
    return w / w.sum()


def simulate_trips(
    zones,
    boroughs,
    n_trips: int,
    seed: int = 8,
    zero_share: float = 0.04,
    outside_share: float = 0.01,
    far_share: float = 0.005,
) -> pd.DataFrame:
    """Trips between zones drawn by hotspot weight; points uniform inside the zone.

    Planted bad coordinates: ``zero_share`` of trips have 0 for every coordinate (no GPS fix),
    ``outside_share`` start in the water or across the river (inside the NYC box, in no
    borough), ``far_share`` have latitude and longitude swapped. Returns the trips with
    ``true_zone`` (LocationID or <NA>) and ``kind`` (zone/zero/outside/far).
    """
    import shapely

    rng = np.random.default_rng(seed + 2)
    w = _zone_weights(zones)
    geoms = zones.geometry.to_numpy()
    pick = rng.choice(len(zones), size=n_trips, p=w)
    drop = rng.choice(len(zones), size=n_trips, p=w)
    pickup = np.empty((n_trips, 2))
    dropoff = np.empty((n_trips, 2))
    for z in np.unique(np.concatenate([pick, drop])):
        idx = np.flatnonzero(pick == z)
        pickup[idx] = _uniform_points_in(geoms[z], len(idx), rng, float32=True)
        idx = np.flatnonzero(drop == z)
        dropoff[idx] = _uniform_points_in(geoms[z], len(idx), rng, float32=True)
    true_zone = pd.array(zones["LocationID"].to_numpy()[pick], dtype="Int64")
    kind = np.full(n_trips, "zone", dtype=object)

    u = rng.random(n_trips)
    zero = u < zero_share
    outside = (u >= zero_share) & (u < zero_share + outside_share)
    far = (u >= zero_share + outside_share) & (u < zero_share + outside_share + far_share)
    land = shapely.union_all(boroughs.geometry.to_numpy())
    water = shapely.box(-74.12, 40.55, -73.72, 40.90).difference(
        land
    )  # rivers, bays, the Jersey shore
    pickup[outside] = _uniform_points_in(water, int(outside.sum()), rng, float32=True)
    pickup[far] = pickup[far][:, ::-1]
    pickup[zero] = 0.0
    dropoff[zero] = 0.0
    true_zone[zero | outside | far] = pd.NA
    kind[zero], kind[outside], kind[far] = "zero", "outside", "far"

    start = pd.Timestamp("2013-08-01").value // 10**9
    t0 = np.sort(rng.integers(start, start + 31 * 86400, n_trips))
    km = np.hypot((pickup[:, 0] - dropoff[:, 0]) * 84.3, (pickup[:, 1] - dropoff[:, 1]) * 111.2)
    miles = np.where(zero, rng.exponential(2.5, n_trips), km * 1.3 / 1.609)
    duration = (miles * rng.uniform(150, 400, n_trips) + 60).astype(np.int64)
    fare = np.round(2.5 + 2.5 * miles + duration / 60 * 0.2, 1)
    tip = np.round(
        np.where(rng.random(n_trips) < 0.4, fare * rng.uniform(0.1, 0.25, n_trips), 0), 2
    )
    return pd.DataFrame(
        {
            "pickup_ts": t0,
            "dropoff_ts": t0 + duration,
            "pickup_longitude": pickup[:, 0],
            "pickup_latitude": pickup[:, 1],
            "dropoff_longitude": dropoff[:, 0],
            "dropoff_latitude": dropoff[:, 1],
            "passenger_count": rng.choice([1, 1, 1, 1, 2, 2, 3, 5], n_trips),
            "trip_distance": np.round(miles, 2),
            "fare_amount": fare,
            "tip_amount": tip,
            "payment_type": np.where(tip > 0, 1, 2),
            "true_zone": true_zone,
            "kind": kind,
        }
    )


def _coord(values: np.ndarray) -> np.ndarray:
    # float32 values printed the way the 2013 files show them: -73.844169616699219, or 0
    text = np.char.mod("%.15f", values.astype(np.float32).astype(np.float64))
    return np.where(values == 0, "0", text)


def write_green_2013(path: str | Path, trips: pd.DataFrame) -> Path:
    """Write trips in the exact layout of ``green_tripdata_2013-08.csv`` (quirks included)."""
    n = len(trips)
    fmt_ts = lambda s: pd.to_datetime(s, unit="s").dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()  # noqa: E731
    total = trips["fare_amount"] + 0.5 + trips["tip_amount"]
    cols = [
        np.full(n, "2"),
        fmt_ts(trips["pickup_ts"]),
        fmt_ts(trips["dropoff_ts"]),
        np.full(n, "N"),
        np.full(n, "1"),
        _coord(trips["pickup_longitude"].to_numpy()),
        _coord(trips["pickup_latitude"].to_numpy()),
        _coord(trips["dropoff_longitude"].to_numpy()),
        _coord(trips["dropoff_latitude"].to_numpy()),
        trips["passenger_count"].astype(str).to_numpy(),
        np.char.mod("%.2f", trips["trip_distance"].to_numpy()),
        np.char.mod("%g", trips["fare_amount"].to_numpy()),
        np.full(n, "0"),
        np.full(n, "0.5"),
        np.char.mod("%g", trips["tip_amount"].to_numpy()),
        np.full(n, "0"),
        np.full(n, ""),
        np.char.mod("%g", np.round(total.to_numpy(), 2)),
        trips["payment_type"].astype(str).to_numpy(),
        np.full(n, ""),
        np.full(n, ""),
        np.full(n, ""),
    ]
    body = pd.DataFrame(dict(enumerate(cols)))
    with atomic_open(path, "w", newline="", encoding="ascii") as fh:
        fh.write(",".join(GREEN_2013_HEADER) + "\n\n")
        body.to_csv(fh, header=False, index=False, lineterminator="\n")
    return Path(path)


def write_zone_files(folder: str | Path, zones, boroughs) -> None:
    """Write zones as a Shapefile (EPSG:2263), GeoJSON and WKT CSV, boroughs as GeoJSON."""
    import shapely

    folder = Path(folder)
    zones = zones.copy()
    projected = zones.to_crs(PROJECTED_CRS)
    zones.insert(0, "OBJECTID", np.arange(1, len(zones) + 1))
    zones["Shape_Leng"] = shapely.length(
        zones.geometry.to_numpy()
    )  # degrees, as in the TLC GeoJSON
    zones["Shape_Area"] = shapely.area(zones.geometry.to_numpy())
    attrs = ["OBJECTID", "Shape_Leng", "Shape_Area", "zone", "LocationID", "borough"]
    zones = zones[[*attrs, "geometry"]]
    shp = projected.assign(
        OBJECTID=zones["OBJECTID"].to_numpy(),
        Shape_Leng=projected.geometry.length,
        Shape_Area=projected.geometry.area,
    )[[*attrs, "geometry"]]
    # a Shapefile is several files: write them into a temporary folder, then move each in
    tmp = Path(tempfile.mkdtemp(prefix=".taxi_zones.", dir=folder))
    try:
        shp.to_file(tmp / ZONES_SHP, engine="pyogrio")
        target = folder / ZONES_DIR
        target.mkdir(exist_ok=True)
        for part in tmp.iterdir():
            part.replace(target / part.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with atomic_path(folder / ZONES_GEOJSON) as tmp_json:
        zones.to_file(tmp_json, driver="GeoJSON", engine="pyogrio")
    wkt = pd.DataFrame(
        {
            "OBJECTID": zones["OBJECTID"],
            "Shape_Leng": zones["Shape_Leng"],
            "the_geom": shapely.to_wkt(zones.geometry.to_numpy(), rounding_precision=7),
            "Shape_Area": zones["Shape_Area"],
            "zone": zones["zone"],
            "LocationID": zones["LocationID"],
            "borough": zones["borough"],
        }
    )
    with atomic_open(folder / ZONES_WKT, "w", newline="", encoding="utf-8") as fh:
        wkt.to_csv(fh, index=False)
    lookup = pd.DataFrame(
        {
            "LocationID": zones["LocationID"],
            "Borough": zones["borough"],
            "Zone": zones["zone"],
            "service_zone": np.where(zones["borough"] == "Manhattan", "Yellow Zone", "Boro Zone"),
        }
    )
    with atomic_open(folder / LOOKUP, "w", newline="", encoding="utf-8") as fh:
        lookup.to_csv(fh, index=False, quoting=1, lineterminator="\r\n")
    b = boroughs.copy()
    areas = b.to_crs(PROJECTED_CRS).geometry
    b["shape_area"] = [f"{a:.3f}" for a in areas.area]
    b["shape_leng"] = [f"{v:.6f}" for v in areas.length]
    with atomic_path(folder / BOROUGHS_GEOJSON) as tmp_json:
        b[["boro_code", "boro_name", "shape_area", "shape_leng", "geometry"]].to_file(
            tmp_json, driver="GeoJSON", engine="pyogrio"
        )


def generate(
    folder: str | Path, n_trips: int = 1_000_000, n_zones: int = 263, seed: int = 8
) -> Path:
    """Write the synthetic city and its trips into ``folder``; returns the trips CSV path.

    Files, named and formatted like the originals: ``taxi_zones/taxi_zones.{shp,shx,dbf,prj,cpg}``
    (EPSG:2263), ``taxi_zones_wgs84.geojson``, ``taxi_zones_wkt.csv`` (NYC Open Data's CSV
    export: WKT in ``the_geom``), ``taxi_zone_lookup.csv``, ``borough_boundaries.geojson`` and
    ``green_tripdata_2013-08.csv``; plus ``trips_truth.parquet``: each trip's true pickup zone
    in file order, with the coordinates as written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    boroughs = build_city(seed)
    zones = build_zones(boroughs, n_zones=n_zones, seed=seed)
    write_zone_files(folder, zones, boroughs)
    trips = simulate_trips(zones, boroughs, n_trips, seed=seed)
    path = write_green_2013(folder / GREEN_TRIPS, trips)
    truth = trips[["pickup_longitude", "pickup_latitude", "true_zone", "kind"]].copy()
    for c in ("pickup_longitude", "pickup_latitude"):  # exactly what a reader parses back
        truth[c] = _coord(truth[c].to_numpy()).astype(np.float64)
    with atomic_path(folder / TRUTH) as tmp:
        truth.to_parquet(tmp, index=False)
    return path


def prepare(
    source: str = "synthetic",
    n_trips: int = 1_000_000,
    seed: int = 8,
    trips: str = GREEN_TRIPS,
    config: dict | None = None,
) -> dict[str, Path | None]:
    """Paths of the zone, borough and trip files for ``source`` (``"synthetic"`` or ``"real"``).

    Keys: ``zones_shp``, ``zones_geojson``, ``zones_wkt`` (synthetic only), ``boroughs``,
    ``lookup``, ``trips``, ``truth`` (synthetic only). ``trips`` picks the real trip file.
    """
    if source == "real":
        return fetch_real(trips, config)
    check_source(source)
    folder = ensure_generated(
        NAME, {"n_trips": n_trips, "seed": seed}, generate, config, version=GENERATOR_VERSION
    )
    return {
        "zones_shp": folder / ZONES_DIR / ZONES_SHP,
        "zones_geojson": folder / ZONES_GEOJSON,
        "zones_wkt": folder / ZONES_WKT,
        "boroughs": folder / BOROUGHS_GEOJSON,
        "lookup": folder / LOOKUP,
        "trips": folder / GREEN_TRIPS,
        "truth": folder / TRUTH,
    }
