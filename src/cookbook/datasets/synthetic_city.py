"""The synthetic city of chapter 8: boroughs, taxi zones and trips, written as the NYC originals.

:func:`generate` writes a seeded city in the files and formats of :mod:`cookbook.datasets.nyc_taxi`
(whose readers load it, and whose :func:`~cookbook.datasets.nyc_taxi.prepare` calls it): five
boroughs (:func:`build_city`: islands, a hole, water between them), zones tiling them
(:func:`build_zones`), and trips from hotspots with planted bad coordinates
(:func:`simulate_trips`), plus ``trips_truth.parquet`` holding every trip's true pickup zone.

File names, constants, the defaults (:data:`~cookbook.datasets.nyc_taxi.DEFAULTS`) and the
generator's version (:data:`~cookbook.datasets.nyc_taxi.GENERATOR_VERSION`, bump it when this
module's output changes) live in :mod:`cookbook.datasets.nyc_taxi`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cookbook.datasets.nyc_taxi import (
    BOROUGH_CODES,
    BOROUGHS_GEOJSON,
    DEFAULTS,
    GREEN_2013_HEADER,
    GREEN_TRIPS,
    LOOKUP,
    PROJECTED_CRS,
    TRUTH,
    ZONES_DIR,
    ZONES_GEOJSON,
    ZONES_SHP,
    ZONES_WKT,
    _polygonal_part,
)
from cookbook.io import atomic_open, atomic_path


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


def build_city(seed: int = DEFAULTS["seed"]):
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


def build_zones(boroughs, n_zones: int = DEFAULTS["n_zones"], seed: int = DEFAULTS["seed"]):
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
    seed: int = DEFAULTS["seed"],
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
    folder: str | Path,
    n_trips: int = DEFAULTS["n_trips"],
    n_zones: int = DEFAULTS["n_zones"],
    seed: int = DEFAULTS["seed"],
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
