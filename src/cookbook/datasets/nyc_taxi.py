"""NYC taxi trips, taxi zones and boroughs (chapter 8): loaders, download spec, the synthetic city.

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
planted bad coordinates, plus ``trips_truth.parquet`` holding every trip's true pickup zone. The
city itself is built in :mod:`cookbook.datasets.synthetic_city`. :func:`prepare` returns a
:class:`NycTaxiFiles` for either source.
"""

from __future__ import annotations

import json
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch
from cookbook.datasets._files import (
    check_file_ends_with_newline,
    decode_text,
    read_text_table,
)
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError

NAME = "nyc_taxi"
# The version of the synthetic city (cookbook.datasets.synthetic_city): bump it when its output
# changes, so cached synthetic files are regenerated.
GENERATOR_VERSION = 1
# The generator's parameters and their defaults (read-only), for generate() and prepare().
DEFAULTS = MappingProxyType({"n_trips": 1_000_000, "n_zones": 263, "seed": 8})

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
# Where the zone and borough readers expect every geometry (lon/lat degrees, generous: the five
# boroughs and Newark airport lie well inside): a geometry outside is a wrong CRS or bad data.
NYC_REGION = (-74.60, 40.30, -73.40, 41.10)

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


@dataclass(frozen=True)
class NycTaxiFiles:
    """What :func:`prepare` returns.

    - ``zones_shp``: the taxi zones Shapefile ``taxi_zones.shp`` (EPSG:2263), its ``.shx``,
      ``.dbf`` and ``.prj`` beside it (read it with :func:`read_zones`);
    - ``zones_geojson``: the taxi zones as GeoJSON, EPSG:4326 (``taxi_zones_wgs84.geojson``);
    - ``zones_wkt``: the taxi zones as a WKT CSV (``taxi_zones_wkt.csv``); None for the real
      data (the mirror has no such file: write one from the GeoJSON);
    - ``boroughs``: the borough boundaries GeoJSON (:func:`read_boroughs`);
    - ``lookup``: ``taxi_zone_lookup.csv``;
    - ``trips``: a TLC trip CSV with coordinates (:func:`read_trips_spark`);
    - ``truth``: ``trips_truth.parquet``, each synthetic trip's true pickup zone; None for the
      real data;
    - ``source``: ``"synthetic"`` or ``"real"``.
    """

    zones_shp: Path
    zones_geojson: Path
    zones_wkt: Path | None
    boroughs: Path
    lookup: Path
    trips: Path
    truth: Path | None
    source: str


# ----------------------------------------------------------------------------- readers


def _sidecar(path: Path, ext: str) -> Path | None:
    for candidate in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if candidate.is_file():
            return candidate
    return None


def _shape_header(path: Path) -> int:
    """Check a ``.shp``/``.shx`` header (file code 9994, declared length); return the length."""
    data = path.read_bytes()[:100]
    if len(data) < 100 or struct.unpack(">i", data[:4])[0] != 9994:
        raise DatasetFormatError(
            f"{path}: not a Shapefile part (expected a 100-byte header starting with the file "
            f"code 9994, found {data[:8]!r})"
        )
    declared, actual = struct.unpack(">i", data[24:28])[0] * 2, path.stat().st_size
    if actual < declared:
        raise DatasetFormatError(
            f"{path}: truncated: its header declares {declared:,} bytes but the file has "
            f"{actual:,} ({actual / declared:.0%}); copy or download the Shapefile again"
        )
    return declared


def _dbf_records(path: Path) -> int:
    """Check a ``.dbf``'s header against its size; return its record count."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) < 12:
        raise DatasetFormatError(f"{path}: truncated: shorter than a dBASE header (12 bytes)")
    n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
    declared, actual = header_len + n_records * record_len, path.stat().st_size
    if actual < declared:
        complete = max(0, (actual - header_len) // record_len) if record_len else 0
        raise DatasetFormatError(
            f"{path}: truncated: its header declares {n_records} records ({declared:,} bytes) "
            f"but the file has {actual:,} bytes ({complete} complete records); copy or "
            "download the Shapefile again"
        )
    return n_records


def check_shapefile(path: str | Path) -> Path:
    """Check that a ``.shp`` has the sidecar files a reader needs, and that none is truncated.

    Names the missing sidecars; checks each part's header against its size (a ``.shp`` or
    ``.shx`` shorter than its declared length, a ``.dbf`` with fewer bytes than its records
    need) and that ``.shx`` and ``.dbf`` count the same records. GDAL would otherwise read a
    truncated ``.shp`` as records without geometry, or fail with a message that does not say
    which file is short.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"shapefile not found: {path}")
    missing = [path.with_suffix(ext).name for ext in (".shx", ".dbf") if not _sidecar(path, ext)]
    if missing:
        raise DatasetFormatError(
            f"{path}: a Shapefile is several files; {', '.join(missing)} missing beside it "
            "(.shx holds the record index, .dbf the attributes). Copy or unzip all parts "
            "(.shp .shx .dbf .prj) into the same folder."
        )
    if not _sidecar(path, ".prj"):
        warnings.warn(f"{path}: no .prj beside it, so the CRS is unknown", stacklevel=2)
    shx, dbf = _sidecar(path, ".shx"), _sidecar(path, ".dbf")
    _shape_header(path)
    n_index = (_shape_header(shx) - 100) // 8
    n_records = _dbf_records(dbf)
    if n_index != n_records:
        raise DatasetFormatError(
            f"{path}: {shx.name} indexes {n_index} shapes but {dbf.name} holds {n_records} "
            "records; expected one attribute record per shape (parts from different copies?)"
        )
    return path


def _check_position(pos, where: str, path: Path) -> None:
    if (
        not isinstance(pos, list)
        or not 2 <= len(pos) <= 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)
    ):
        raise DatasetFormatError(
            f"{path}: {where}: expected a position [x, y] of numbers, got {str(pos)[:80]}"
        )
    if not all(np.isfinite(pos)):
        raise DatasetFormatError(f"{path}: {where}: position {pos} is not finite")


def _check_polygon(rings, where: str, path: Path) -> None:
    if not isinstance(rings, list) or not rings:
        raise DatasetFormatError(
            f"{path}: {where}: expected a list of linear rings, got {str(rings)[:80]}"
        )
    for k, ring in enumerate(rings):
        at = f"{where}, ring {k}"
        if not isinstance(ring, list) or len(ring) < 4:
            raise DatasetFormatError(
                f"{path}: {at}: expected a closed ring of 4 or more positions, got "
                f"{len(ring) if isinstance(ring, list) else type(ring).__name__}"
            )
        for j, pos in enumerate(ring):
            _check_position(pos, f"{at}, position {j}", path)
        if ring[0][:2] != ring[-1][:2]:
            raise DatasetFormatError(
                f"{path}: {at} is not closed: it starts at {ring[0]} and ends at {ring[-1]}; "
                "expected the last position to repeat the first (GeoJSON linear ring)"
            )


def check_feature_collection(path: str | Path) -> dict:
    """Parse a GeoJSON file and check it is a FeatureCollection of features with geometries.

    (Multi)polygon coordinates are checked as GeoJSON defines them: lists of closed rings of
    four or more finite ``[x, y]`` positions. Errors name the file, the feature and the ring.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GeoJSON file not found: {path}")
    try:
        doc = json.loads(decode_text(path.read_bytes(), str(path)))
    except json.JSONDecodeError as exc:
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
        geometry = feature["geometry"]
        coords = geometry.get("coordinates")
        if geometry.get("type") == "Polygon":
            _check_polygon(coords, f"feature {i} (Polygon)", path)
        elif geometry.get("type") == "MultiPolygon":
            if not isinstance(coords, list) or not coords:
                raise DatasetFormatError(
                    f"{path}: feature {i} (MultiPolygon): expected a list of polygons, got "
                    f"{str(coords)[:80]}"
                )
            for k, rings in enumerate(coords):
                _check_polygon(rings, f"feature {i} (MultiPolygon), polygon {k}", path)
    return doc


def _read_wkt_csv(path: Path):
    import geopandas as gpd
    import shapely

    frame, label = read_text_table(path, "zones CSV")
    geom_col = next((c for c in ("the_geom", "geometry", "wkt", "WKT") if c in frame.columns), None)
    if geom_col is None:
        raise DatasetFormatError(
            f"{path}: no geometry column; expected one of the_geom, geometry, wkt holding WKT "
            f"(columns are {', '.join(frame.columns)})"
        )
    text = frame[geom_col].to_numpy()
    geoms = shapely.from_wkt(text, on_invalid="ignore")
    bad = np.flatnonzero(pd.isna(geoms))
    if len(bad):
        row = int(bad[0])
        try:
            shapely.from_wkt(text[row], on_invalid="raise")
            reason = "empty"
        except shapely.errors.GEOSException as exc:
            reason = str(exc)
        hint = " (an unclosed ring)" if "closed linestring" in reason else ""
        raise DatasetFormatError(
            f"{label}: data row {row + 1}: column {geom_col} does not hold valid WKT: "
            f"{reason}{hint}; got {text[row][:60]!r} ({len(bad)} such row(s))"
        )
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


def _read_with_gdal(path: Path):
    """``geopandas.read_file`` (pyogrio), with GDAL's errors naming the file."""
    import geopandas as gpd
    import pyogrio.errors

    try:
        return gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise DatasetFormatError(f"{path}: GDAL cannot read this file: {exc}") from exc
    except (pyogrio.errors.FeatureError, pyogrio.errors.GeometryError) as exc:
        raise DatasetFormatError(f"{path}: GDAL cannot read a record: {exc}") from exc
    except pyogrio.errors.FieldError as exc:
        raise DatasetFormatError(f"{path}: GDAL cannot read an attribute: {exc}") from exc


def _row_name(gdf, i: int) -> str:
    key = next((c for c in ("LocationID", "boro_name", "zone") if c in gdf.columns), None)
    if key is None:
        return f"row {i}"
    value = gdf[key].iloc[i]
    return f"row {i} ({key} {value.item() if isinstance(value, np.generic) else value!r})"


def check_coordinates(gdf, label: str, region: tuple[float, float, float, float] | None):
    """Check every geometry is present, finite, within the CRS's range and inside ``region``.

    ``region`` is ``(lon_min, lat_min, lon_max, lat_max)`` in degrees (None: no region check).
    Longitudes outside -180..180 or latitudes outside -90..90 (in a geographic CRS), records
    without a geometry, coordinates that lie in ``region`` only with x and y exchanged (all, or
    some rows: latitude first), and rows outside ``region`` while others are inside raise
    :class:`DatasetFormatError` naming the row. When no geometry at all lies in ``region``
    (another city, or a wrong CRS) a warning says so.
    """
    import shapely

    geoms = gdf.geometry.to_numpy()
    missing = np.flatnonzero(pd.isna(geoms) | shapely.is_empty(geoms))
    if len(missing):
        raise DatasetFormatError(
            f"{label}: {_row_name(gdf, int(missing[0]))} has no geometry ({len(missing)} "
            "such row(s)); expected a polygon for every record (a truncated .shp, or a "
            '"geometry": null, leaves records without one)'
        )
    bounds = shapely.bounds(geoms)  # (n, 4): xmin, ymin, xmax, ymax
    bad = np.flatnonzero(~np.isfinite(bounds).all(axis=1))
    if len(bad):
        raise DatasetFormatError(
            f"{label}: {_row_name(gdf, int(bad[0]))} has coordinates that are not finite numbers"
        )
    geographic = gdf.crs is not None and gdf.crs.is_geographic
    if geographic:
        out = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (np.abs(bounds[:, [1, 3]]) > 90).any(
            axis=1
        )
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise DatasetFormatError(
                f"{label}: {_row_name(gdf, i)} spans longitude {bounds[i, 0]:g}..{bounds[i, 2]:g}"
                f", latitude {bounds[i, 1]:g}..{bounds[i, 3]:g}; expected longitudes in "
                f"-180..180 and latitudes in -90..90 ({int(out.sum())} row(s) out of range)"
            )
    if region is None or gdf.crs is None:
        return
    if not geographic:
        import geopandas as gpd

        boxes = gpd.GeoSeries(shapely.box(*bounds.T), crs=gdf.crs).to_crs("EPSG:4326")
        bounds = shapely.bounds(boxes.to_numpy())
    x0, y0, x1, y1 = region

    def inside(b):
        return (b[:, 0] >= x0) & (b[:, 2] <= x1) & (b[:, 1] >= y0) & (b[:, 3] <= y1)

    ok = inside(bounds)
    if ok.all():
        return
    where = f"longitude {x0:g}..{x1:g}, latitude {y0:g}..{y1:g}"
    swapped = ~ok & inside(bounds[:, [1, 0, 3, 2]]) if geographic else np.zeros_like(ok)
    if swapped.all():
        raise DatasetFormatError(
            f"{label}: the coordinates are swapped: every geometry lies inside the expected "
            f"region ({where}) only when x and y are exchanged; expected [longitude, latitude] "
            "order (x first)"
        )
    i = int(np.flatnonzero(~ok)[0])
    span = (
        f"longitude {bounds[i, 0]:.4f}..{bounds[i, 2]:.4f}, "
        f"latitude {bounds[i, 1]:.4f}..{bounds[i, 3]:.4f}"
    )
    if swapped.any():
        i = int(np.flatnonzero(swapped)[0])
        raise DatasetFormatError(
            f"{label}: {_row_name(gdf, i)} has swapped coordinates: it lies inside the "
            f"expected region ({where}) only with x and y exchanged ({int(swapped.sum())} such "
            "row(s)); expected [longitude, latitude] order (x first)"
        )
    if ok.any():
        raise DatasetFormatError(
            f"{label}: {_row_name(gdf, i)} lies at {span}, outside the region of the others "
            f"({where}; {int((~ok).sum())} of {len(ok)} rows outside); expected every geometry "
            "in NYC: check its coordinates"
        )
    warnings.warn(
        f"{label}: no geometry lies in the expected region ({where}); the first is at {span}. "
        "Not NYC data, or a wrong CRS (check the .prj)? Pass region=None to silence this.",
        stacklevel=3,
    )


def _check_location_ids(gdf, label: str) -> None:
    ids = pd.to_numeric(gdf["LocationID"], errors="coerce")
    bad = ids.isna() | ~np.isfinite(ids) | (ids != ids.round()) | (ids < 1)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        value = gdf["LocationID"].iloc[i]
        value = value.item() if isinstance(value, np.generic) else value
        raise DatasetFormatError(
            f"{label}: column LocationID must hold whole numbers from 1; row {i} has "
            f"{value!r} ({int(bad.sum())} such row(s))"
        )
    gdf["LocationID"] = ids.astype("int64")
    # the TLC file repeats LocationIDs 56 and 103 for parts of one zone: allowed, if they agree
    for col in ("zone", "borough"):
        names = gdf.groupby("LocationID")[col].nunique()
        if (names > 1).any():
            loc = int(names.index[names > 1][0])
            rows = np.flatnonzero(gdf["LocationID"].to_numpy() == loc).tolist()
            values = sorted(set(gdf[col].iloc[rows].astype(str)))
            raise DatasetFormatError(
                f"{label}: LocationID {loc} is used by rows {rows} with different {col} values "
                f"{values}; expected rows that share a LocationID to be parts of one zone"
            )
    if "OBJECTID" in gdf.columns and gdf["OBJECTID"].duplicated().any():
        dup = gdf["OBJECTID"][gdf["OBJECTID"].duplicated()].iloc[0]
        raise DatasetFormatError(f"{label}: OBJECTID {dup!r} appears twice; expected unique ids")


def read_zones(
    path: str | Path,
    to_crs: str | None = None,
    region: tuple[float, float, float, float] | None = NYC_REGION,
):
    """Read taxi zones from a Shapefile, GeoJSON, WKT CSV or GeoParquet; validate and repair.

    Returns a GeoDataFrame with at least ``LocationID`` (int), ``zone``, ``borough`` and the
    geometry, in the file's CRS or ``to_crs``. Invalid polygons are repaired and listed in
    ``gdf.attrs["repaired"]``. Raises :class:`DatasetFormatError` naming the file (and the row)
    for: a missing or truncated Shapefile part, a GeoJSON that is not a FeatureCollection of
    closed rings, WKT that does not parse, a file GDAL cannot read, missing attributes, a
    LocationID that is not a whole number from 1 (or shared by rows of different zones), a
    record without geometry, coordinates that are not finite, out of range, swapped or outside
    ``region`` where the other rows are inside (lon/lat degrees, default :data:`NYC_REGION`;
    None skips that check; a file wholly outside it gets a warning), no CRS.
    """
    import geopandas as gpd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".shp":
        check_shapefile(path)
        gdf = _read_with_gdal(path)
    elif suffix in (".geojson", ".json"):
        check_feature_collection(path)
        gdf = _read_with_gdal(path)
    elif suffix == ".csv":
        if not path.is_file():
            raise FileNotFoundError(f"zones CSV not found: {path}")
        gdf = _read_wkt_csv(path)
    elif suffix == ".parquet":
        if not path.is_file():
            raise FileNotFoundError(f"GeoParquet file not found: {path}")
        try:
            gdf = gpd.read_parquet(path)
        except (OSError, ValueError, TypeError) as exc:  # pyarrow's errors derive from these
            raise DatasetFormatError(f"{path}: not a readable GeoParquet file: {exc}") from exc
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
    _check_location_ids(gdf, str(path))
    if gdf.crs is None:
        raise DatasetFormatError(f"{path}: no CRS (a Shapefile needs its .prj)")
    check_coordinates(gdf, str(path), region)
    gdf, repaired = repair_polygons(gdf, str(path))
    if to_crs is not None:
        gdf = gdf.to_crs(to_crs)
    gdf.attrs["repaired"] = repaired
    return gdf


def read_boroughs(path: str | Path, region: tuple[float, float, float, float] | None = NYC_REGION):
    """Read the borough boundaries GeoJSON (``boro_code``, ``boro_name``), validated, EPSG:4326.

    Checks as :func:`read_zones` does (structure, coordinates inside ``region``), and that no
    borough code or name appears twice.
    """
    path = Path(path)
    check_feature_collection(path)
    gdf = _read_with_gdal(path)
    missing = [c for c in BOROUGH_COLUMNS if c not in gdf.columns]
    if missing:
        raise DatasetFormatError(
            f"{path}: missing borough propert(ies) {', '.join(missing)}; "
            "expected boro_code, boro_name"
        )
    for col in BOROUGH_COLUMNS:
        if gdf[col].duplicated().any():
            dup = gdf[col][gdf[col].duplicated()].iloc[0]
            raise DatasetFormatError(
                f"{path}: {col} {dup!r} appears in more than one feature; expected one feature "
                "per borough (a MultiPolygon for its islands)"
            )
    if gdf.crs is None:
        raise DatasetFormatError(f"{path}: no CRS")
    check_coordinates(gdf, str(path), region)
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
    line and ignores the two unnamed trailing fields. A file whose last row has no line break
    (cut mid-row: a truncated copy) raises :class:`DatasetFormatError` before Spark reads it.
    """
    from pyspark.sql import functions as F

    mapping = trip_columns(path)
    check_file_ends_with_newline(path)
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


def fetch_real(trips: str = GREEN_TRIPS, config: dict | None = None) -> NycTaxiFiles:
    """The real files (cache -> ``$COOKBOOK_DATA_MIRROR`` -> pinned download); ``trips`` names
    the trip file (:data:`GREEN_TRIPS` or :data:`YELLOW_TRIPS`)."""
    parts = [fetch(SPEC, f"taxi_zones{ext}", config=config) for ext in SHAPEFILE_PARTS]
    if len({p.parent for p in parts}) != 1:
        raise DatasetFormatError(
            "the taxi-zone shapefile parts resolved to different folders "
            f"({', '.join(map(str, parts))}); "
            f"clear the cache folder {parts[0].parent} and fetch again"
        )
    return NycTaxiFiles(
        zones_shp=parts[0],
        zones_geojson=fetch(SPEC, ZONES_GEOJSON, config=config),
        zones_wkt=None,
        boroughs=fetch(SPEC, BOROUGHS_GEOJSON, config=config),
        lookup=fetch(SPEC, LOOKUP, config=config),
        trips=fetch(SPEC, trips, config=config),
        truth=None,
        source="real",
    )


# ----------------------------------------------------------------------------- synthetic city


def generate(
    folder: str | Path,
    n_trips: int = DEFAULTS["n_trips"],
    n_zones: int = DEFAULTS["n_zones"],
    seed: int = DEFAULTS["seed"],
) -> Path:
    """Write the synthetic city and its trips into ``folder``; returns the trips CSV path.

    See :func:`cookbook.datasets.synthetic_city.generate`, which this calls.
    """
    from cookbook.datasets import synthetic_city

    return synthetic_city.generate(folder, n_trips=n_trips, n_zones=n_zones, seed=seed)


def prepare(
    source: str = "synthetic",
    *,
    n_trips: int = DEFAULTS["n_trips"],
    n_zones: int = DEFAULTS["n_zones"],
    seed: int = DEFAULTS["seed"],
    trips: str = GREEN_TRIPS,
    config: dict | None = None,
) -> NycTaxiFiles:
    """The zone, borough and trip files for ``source``: ``"synthetic"`` (the city generated
    once per parameters, cached) or ``"real"`` (``trips`` picks the real trip file). The
    generator's parameters apply to ``"synthetic"`` only, ``trips`` to ``"real"`` only."""
    if check_source(source) == "real":
        return fetch_real(trips, config)
    params = {"n_trips": n_trips, "n_zones": n_zones, "seed": seed}
    folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
    return NycTaxiFiles(
        zones_shp=folder / ZONES_DIR / ZONES_SHP,
        zones_geojson=folder / ZONES_GEOJSON,
        zones_wkt=folder / ZONES_WKT,
        boroughs=folder / BOROUGHS_GEOJSON,
        lookup=folder / LOOKUP,
        trips=folder / GREEN_TRIPS,
        truth=folder / TRUTH,
        source=source,
    )
