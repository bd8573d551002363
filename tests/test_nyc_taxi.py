import json
import shutil
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from cookbook.datasets import DatasetFormatError, nyc_taxi

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    nyc_taxi.generate(folder, n_trips=20_000, seed=8)
    return folder


def test_generator_writes_every_format_in_the_original_layout(city):
    shp = city / nyc_taxi.ZONES_DIR / nyc_taxi.ZONES_SHP
    for ext in nyc_taxi.SHAPEFILE_PARTS:
        assert shp.with_suffix(ext).is_file(), ext
    from_shp = nyc_taxi.read_zones(shp)
    assert from_shp.crs.to_epsg() == 2263
    assert {"OBJECTID", "Shape_Leng", "Shape_Area", "zone", "LocationID", "borough"} <= set(
        from_shp.columns
    )
    from_json = nyc_taxi.read_zones(city / nyc_taxi.ZONES_GEOJSON)
    from_wkt = nyc_taxi.read_zones(city / nyc_taxi.ZONES_WKT)
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
    lookup = pd.read_csv(city / nyc_taxi.LOOKUP)
    assert list(lookup.columns) == ["LocationID", "Borough", "Zone", "service_zone"]
    assert (city / nyc_taxi.LOOKUP).read_bytes().count(b"\r\n") == len(lookup) + 1


def test_city_has_islands_a_hole_and_zones_that_tile_it(city):
    boroughs = nyc_taxi.read_boroughs(city / nyc_taxi.BOROUGHS_GEOJSON)
    assert sorted(boroughs["boro_name"]) == sorted(nyc_taxi.BOROUGH_CODES)
    assert set(boroughs["boro_code"]) == {"1", "2", "3", "4", "5"}  # strings, as in the original
    parts = dict(zip(boroughs["boro_name"], boroughs.geometry, strict=True))
    assert len(parts["Manhattan"].geoms) >= 2 and len(parts["Brooklyn"].geoms) >= 2  # islands
    assert any(len(p.interiors) for p in parts["Queens"].geoms)  # a lake: a hole
    land = shapely.union_all(boroughs.geometry.to_numpy())
    assert not parts["Staten Island"].intersects(
        shapely.union_all([parts["Brooklyn"], parts["Manhattan"]])
    )
    zones = nyc_taxi.read_zones(city / nyc_taxi.ZONES_GEOJSON)
    tiled = shapely.union_all(zones.geometry.to_numpy())
    assert tiled.symmetric_difference(land).area < 1e-6 * land.area
    pairs = gpd.sjoin(zones, zones, predicate="overlaps")  # slivers from rounded coordinates
    g = zones.geometry
    for i, j in zip(pairs.index, pairs["index_right"], strict=True):
        assert g[i].intersection(g[j]).area < 1e-9 * g[i].area
    assert set(zones["borough"]) == set(boroughs["boro_name"])


def test_trip_file_reproduces_the_green_2013_quirks(city):
    lines = (city / nyc_taxi.GREEN_TRIPS).read_text().split("\n")
    header = lines[0].split(",")
    assert header == list(nyc_taxi.GREEN_2013_HEADER) and header[-1] == "Trip_type "
    assert lines[1] == ""  # blank second line
    assert all(len(line.split(",")) == 22 for line in lines[2:1000])


def test_truth_matches_a_point_in_polygon_join_and_plants_bad_points(city):
    truth = pd.read_parquet(city / nyc_taxi.TRUTH)
    trips = pd.read_csv(
        city / nyc_taxi.GREEN_TRIPS,
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
    zones = nyc_taxi.read_zones(city / nyc_taxi.ZONES_GEOJSON)
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


def test_missing_shapefile_sidecars_are_named(city, tmp_path):
    src = city / nyc_taxi.ZONES_DIR
    for missing in (".shx", ".dbf"):
        folder = tmp_path / missing.strip(".")
        shutil.copytree(src, folder)
        (folder / f"taxi_zones{missing}").unlink()
        with pytest.raises(DatasetFormatError, match=rf"taxi_zones\{missing} missing"):
            nyc_taxi.read_zones(folder / nyc_taxi.ZONES_SHP)
    with pytest.raises(FileNotFoundError, match="shapefile not found"):
        nyc_taxi.read_zones(tmp_path / "nowhere.shp")


def test_geojson_must_be_a_feature_collection(city, tmp_path):
    doc = json.loads((city / nyc_taxi.BOROUGHS_GEOJSON).read_text())
    single = tmp_path / "one_feature.geojson"
    single.write_text(json.dumps(doc["features"][0]))
    with pytest.raises(DatasetFormatError, match="expected a GeoJSON FeatureCollection.*'Feature'"):
        nyc_taxi.read_boroughs(single)
    no_names = tmp_path / "no_names.geojson"
    for feature in doc["features"]:
        feature["properties"].pop("boro_name")
    no_names.write_text(json.dumps(doc))
    with pytest.raises(DatasetFormatError, match="boro_name"):
        nyc_taxi.read_boroughs(no_names)
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        nyc_taxi.read_zones(broken)


def test_trip_file_without_coordinates_is_rejected(tmp_path):
    path = tmp_path / "yellow_tripdata_2023-01.csv"
    path.write_text("VendorID,tpep_pickup_datetime,PULocationID,DOLocationID\n1,2023-01-01,4,7\n")
    with pytest.raises(DatasetFormatError, match="pickup_longitude.*PULocationID"):
        nyc_taxi.trip_columns(path)
    mapping = nyc_taxi.trip_columns(
        _write(tmp_path / "g.csv", ",".join(nyc_taxi.GREEN_2013_HEADER) + "\n\n")
    )
    assert mapping["Trip_type "] == "trip_type"
    assert mapping["lpep_pickup_datetime"] == "pickup_datetime"
    assert mapping["Pickup_longitude"] == "pickup_longitude"


def _write(path, text):
    path.write_text(text)
    return path


def test_invalid_polygons_are_repaired_and_reported(tmp_path):
    bowtie = "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"  # self-intersecting
    square = "POLYGON ((2 0, 3 0, 3 1, 2 1, 2 0))"
    path = tmp_path / "zones.csv"
    pd.DataFrame(
        {
            "LocationID": [1, 2],
            "zone": ["a", "b"],
            "borough": ["X", "X"],
            "the_geom": [bowtie, square],
        }
    ).to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zones = nyc_taxi.read_zones(path)
    assert zones.attrs["repaired"] == [0]
    assert zones.geometry.is_valid.all() and zones.geometry.iloc[0].area == pytest.approx(0.5)
    assert any("repaired 1 invalid polygon" in str(w.message) for w in caught)
    line = tmp_path / "line.csv"
    pd.DataFrame(
        {"LocationID": [1], "zone": ["a"], "borough": ["X"], "the_geom": ["LINESTRING (0 0, 1 1)"]}
    ).to_csv(line, index=False)
    with pytest.raises(DatasetFormatError, match="expected Polygon or MultiPolygon"):
        nyc_taxi.read_zones(line)
    no_geom = tmp_path / "attrs.csv"
    pd.DataFrame({"LocationID": [1], "zone": ["a"], "borough": ["X"]}).to_csv(no_geom, index=False)
    with pytest.raises(DatasetFormatError, match="no geometry column.*the_geom"):
        nyc_taxi.read_zones(no_geom)


def test_zone_attributes_are_checked(city, tmp_path):
    zones = nyc_taxi.read_zones(city / nyc_taxi.ZONES_GEOJSON).drop(columns="borough")
    path = tmp_path / "zones.parquet"
    zones.to_parquet(path)
    with pytest.raises(DatasetFormatError, match="missing zone attribute.*borough"):
        nyc_taxi.read_zones(path)
    with pytest.raises(DatasetFormatError, match="unknown zones format '.kml'"):
        nyc_taxi.read_zones(tmp_path / "zones.kml")


@pytest.mark.spark
def test_spark_reads_the_green_layout_into_normalised_columns(city):
    from cookbook.spark import get_spark

    df = nyc_taxi.read_trips_spark(get_spark(), city / nyc_taxi.GREEN_TRIPS)
    assert df.columns[:6] == ["pickup_datetime", "dropoff_datetime", *nyc_taxi.COORDINATE_COLUMNS]
    assert dict(df.dtypes)["pickup_longitude"] == "double"
    assert dict(df.dtypes)["pickup_datetime"] == "timestamp"
    assert df.count() == 20_000  # the blank second line is not a trip
    truth = pd.read_parquet(city / nyc_taxi.TRUTH)
    zeros = df.where("pickup_longitude = 0 AND pickup_latitude = 0").count()
    assert zeros == (truth["kind"] == "zero").sum()


@pytest.mark.realdata
def test_real_files_load_with_their_quirks(mirror, no_mirror, monkeypatch):
    monkeypatch.setenv("COOKBOOK_DATA_MIRROR", str(mirror))
    paths = nyc_taxi.fetch_real()
    shp = nyc_taxi.read_zones(paths["zones_shp"])
    assert shp.crs.to_epsg() == 2263 and len(shp) == 263
    assert shp["LocationID"].nunique() == 260  # 56 twice, 103 three times (TLC original)
    geojson = nyc_taxi.read_zones(paths["zones_geojson"]).set_index("OBJECTID")
    a = shp.to_crs(4326).set_index("OBJECTID")
    b = geojson.reindex(a.index)
    g1, g2 = a.geometry.to_numpy(), b.geometry.to_numpy()
    iou = shapely.area(shapely.intersection(g1, g2)) / shapely.area(shapely.union(g1, g2))
    assert iou.min() > 0.9999  # the same 263 polygons, record by record
    # ... but the GeoJSON renumbered the TLC's duplicate ids (as the current lookup does)
    renumbered = a.index[a["LocationID"] != b["LocationID"]].tolist()
    assert renumbered == [57, 104, 105] and geojson["LocationID"].nunique() == 263
    boroughs = nyc_taxi.read_boroughs(paths["boroughs"])
    assert sorted(boroughs["boro_name"]) == sorted(nyc_taxi.BOROUGH_CODES)
    assert (boroughs.geom_type == "MultiPolygon").all()
    mapping = nyc_taxi.trip_columns(paths["trips"])
    assert mapping["Trip_type "] == "trip_type"
    yellow = nyc_taxi.trip_columns(nyc_taxi.fetch_real(nyc_taxi.YELLOW_TRIPS)["trips"])
    assert yellow["tpep_pickup_datetime"] == "pickup_datetime" and "_c0" in yellow
