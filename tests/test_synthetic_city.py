"""The synthetic city (cookbook.datasets.synthetic_city): the files and formats of the NYC
originals, a city with islands and a hole, and trips with a known truth."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from cookbook.datasets import nyc_taxi, synthetic_city

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def city():
    """The synthetic city's files (generated once per session: the same parameters as
    test_nyc_taxi.py's, so the cache serves both)."""
    return nyc_taxi.prepare("synthetic", n_trips=20_000, seed=8)


def test_prepare_returns_every_file_of_the_city(city):
    assert isinstance(city, nyc_taxi.NycTaxiFiles) and city.source == "synthetic"
    for field in ("zones_shp", "zones_geojson", "zones_wkt", "boroughs", "lookup", "trips"):
        assert getattr(city, field).is_file(), field
    assert city.truth.is_file() and city.trips.name == nyc_taxi.GREEN_TRIPS
    assert city.zones_shp.parent.name == nyc_taxi.ZONES_DIR
    assert city.trips.parent.parent.name == nyc_taxi.NAME == "nyc_taxi"


def test_building_blocks_are_seeded():
    a, b = synthetic_city.build_city(8), synthetic_city.build_city(8)
    assert all(x.equals_exact(y, 0) for x, y in zip(a.geometry, b.geometry, strict=True))
    assert not synthetic_city.build_city(9).geometry.iloc[0].equals(a.geometry.iloc[0])
    zones = synthetic_city.build_zones(a, n_zones=40, seed=8)
    assert len(zones) == 40 and zones["LocationID"].tolist() == list(range(1, 41))
    one = synthetic_city.simulate_trips(zones, a, 500, seed=8)
    pd.testing.assert_frame_equal(one, synthetic_city.simulate_trips(zones, a, 500, seed=8))


def test_generator_writes_every_format_in_the_original_layout(city):
    shp = city.zones_shp
    for ext in nyc_taxi.SHAPEFILE_PARTS:
        assert shp.with_suffix(ext).is_file(), ext
    from_shp = nyc_taxi.read_zones(shp)
    assert from_shp.crs.to_epsg() == 2263
    assert {"OBJECTID", "Shape_Leng", "Shape_Area", "zone", "LocationID", "borough"} <= set(
        from_shp.columns
    )
    from_json = nyc_taxi.read_zones(city.zones_geojson)
    from_wkt = nyc_taxi.read_zones(city.zones_wkt)
    assert len(from_shp) == len(from_json) == len(from_wkt) == 263
    assert from_shp["LocationID"].is_unique
    # the projected Shapefile and the lon/lat files describe the same polygons
    back = from_shp.to_crs(4326).set_index("LocationID").geometry.to_numpy()
    ref = (
        from_wkt.set_index("LocationID")
        .geometry.reindex(from_shp["LocationID"].to_numpy())
        .to_numpy()
    )
    iou = shapely.area(shapely.intersection(back, ref)) / shapely.area(shapely.union(back, ref))
    assert iou.min() > 0.9999
    lookup = pd.read_csv(city.lookup)
    assert list(lookup.columns) == ["LocationID", "Borough", "Zone", "service_zone"]
    assert city.lookup.read_bytes().count(b"\r\n") == len(lookup) + 1


def test_city_has_islands_a_hole_and_zones_that_tile_it(city):
    boroughs = nyc_taxi.read_boroughs(city.boroughs)
    assert sorted(boroughs["boro_name"]) == sorted(nyc_taxi.BOROUGH_CODES)
    assert set(boroughs["boro_code"]) == {"1", "2", "3", "4", "5"}  # strings, as in the original
    parts = dict(zip(boroughs["boro_name"], boroughs.geometry, strict=True))
    assert len(parts["Manhattan"].geoms) >= 2 and len(parts["Brooklyn"].geoms) >= 2  # islands
    assert any(len(p.interiors) for p in parts["Queens"].geoms)  # a lake: a hole
    land = shapely.union_all(boroughs.geometry.to_numpy())
    assert not parts["Staten Island"].intersects(
        shapely.union_all([parts["Brooklyn"], parts["Manhattan"]])
    )
    zones = nyc_taxi.read_zones(city.zones_geojson)
    tiled = shapely.union_all(zones.geometry.to_numpy())
    assert tiled.symmetric_difference(land).area < 1e-6 * land.area
    pairs = gpd.sjoin(zones, zones, predicate="overlaps")  # slivers from rounded coordinates
    g = zones.geometry
    for i, j in zip(pairs.index, pairs["index_right"], strict=True):
        assert g[i].intersection(g[j]).area < 1e-9 * g[i].area
    assert set(zones["borough"]) == set(boroughs["boro_name"])


def test_trip_file_reproduces_the_green_2013_quirks(city):
    lines = city.trips.read_text().split("\n")
    header = lines[0].split(",")
    assert header == list(nyc_taxi.GREEN_2013_HEADER) and header[-1] == "Trip_type "
    assert lines[1] == ""  # blank second line
    assert all(len(line.split(",")) == 22 for line in lines[2:1000])


def test_truth_matches_a_point_in_polygon_join_and_plants_bad_points(city):
    truth = pd.read_parquet(city.truth)
    trips = pd.read_csv(
        city.trips,
        usecols=["Pickup_longitude"],
        index_col=False,  # data rows have 22 fields under 20 names
        float_precision="round_trip",  # parse as Spark does: the exact double
    )
    assert len(truth) == len(trips) == 20_000
    # the truth holds the coordinates exactly as a reader parses them from the CSV
    np.testing.assert_array_equal(truth["pickup_longitude"], trips["Pickup_longitude"])
    shares = truth["kind"].value_counts(normalize=True)
    assert shares["zero"] == pytest.approx(0.04, abs=0.01)
    assert shares["outside"] == pytest.approx(0.01, abs=0.005)
    assert shares["far"] == pytest.approx(0.005, abs=0.003)
    zones = nyc_taxi.read_zones(city.zones_geojson)
    pts = gpd.GeoDataFrame(
        truth, geometry=gpd.points_from_xy(truth.pickup_longitude, truth.pickup_latitude), crs=4326
    )
    joined = gpd.sjoin(pts, zones[["LocationID", "geometry"]], how="left", predicate="within")
    assert not joined.index.duplicated().any()
    in_zone = joined["kind"] == "zone"
    assert (joined.loc[in_zone, "LocationID"] == joined.loc[in_zone, "true_zone"]).all()
    assert joined.loc[~in_zone, "LocationID"].isna().all()
    assert (
        (truth.loc[truth["kind"] == "zero", ["pickup_longitude", "pickup_latitude"]] == 0)
        .all()
        .all()
    )
    # hotspots: the busiest zones take a far larger share than uniform
    top = truth.loc[truth["kind"] == "zone", "true_zone"].value_counts(normalize=True)
    assert top.iloc[:10].sum() > 5 * 10 / len(zones)
