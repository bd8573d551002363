import json
import shutil
import warnings

import pandas as pd
import pytest
import shapely

from cookbook.datasets import DatasetFormatError, nyc_taxi

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def city():
    """The synthetic city's files (generated once per session: the same parameters as
    test_synthetic_city.py's, so the cache serves both)."""
    return nyc_taxi.prepare("synthetic", n_trips=20_000, seed=8)


def test_missing_shapefile_sidecars_are_named(city, tmp_path):
    src = city.zones_shp.parent
    for missing in (".shx", ".dbf"):
        folder = tmp_path / missing.strip(".")
        shutil.copytree(src, folder)
        (folder / f"taxi_zones{missing}").unlink()
        with pytest.raises(DatasetFormatError, match=rf"taxi_zones\{missing} missing"):
            nyc_taxi.read_zones(folder / nyc_taxi.ZONES_SHP)
    with pytest.raises(FileNotFoundError, match="shapefile not found"):
        nyc_taxi.read_zones(tmp_path / "nowhere.shp")


def test_geojson_must_be_a_feature_collection(city, tmp_path):
    doc = json.loads(city.boroughs.read_text())
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
    zones = nyc_taxi.read_zones(city.zones_geojson).drop(columns="borough")
    path = tmp_path / "zones.parquet"
    zones.to_parquet(path)
    with pytest.raises(DatasetFormatError, match="missing zone attribute.*borough"):
        nyc_taxi.read_zones(path)
    with pytest.raises(DatasetFormatError, match="unknown zones format '.kml'"):
        nyc_taxi.read_zones(tmp_path / "zones.kml")


@pytest.mark.spark
def test_spark_reads_the_green_layout_into_normalised_columns(city):
    from cookbook.spark import get_spark

    df = nyc_taxi.read_trips_spark(get_spark(), city.trips)
    assert df.columns[:6] == ["pickup_datetime", "dropoff_datetime", *nyc_taxi.COORDINATE_COLUMNS]
    assert dict(df.dtypes)["pickup_longitude"] == "double"
    assert dict(df.dtypes)["pickup_datetime"] == "timestamp"
    assert df.count() == 20_000  # the blank second line is not a trip
    truth = pd.read_parquet(city.truth)
    zeros = df.where("pickup_longitude = 0 AND pickup_latitude = 0").count()
    assert zeros == (truth["kind"] == "zero").sum()


@pytest.mark.realdata
def test_real_files_load_with_their_quirks(mirror, no_mirror, monkeypatch):
    monkeypatch.setenv("COOKBOOK_DATA_MIRROR", str(mirror))
    files = nyc_taxi.prepare("real")
    assert files == nyc_taxi.fetch_real() and files.source == "real"
    assert files.zones_wkt is None and files.truth is None
    shp = nyc_taxi.read_zones(files.zones_shp)
    assert shp.crs.to_epsg() == 2263 and len(shp) == 263
    assert shp["LocationID"].nunique() == 260  # 56 twice, 103 three times (TLC original)
    geojson = nyc_taxi.read_zones(files.zones_geojson).set_index("OBJECTID")
    a = shp.to_crs(4326).set_index("OBJECTID")
    b = geojson.reindex(a.index)
    g1, g2 = a.geometry.to_numpy(), b.geometry.to_numpy()
    iou = shapely.area(shapely.intersection(g1, g2)) / shapely.area(shapely.union(g1, g2))
    assert iou.min() > 0.9999  # the same 263 polygons, record by record
    # ... but the GeoJSON renumbered the TLC's duplicate ids (as the current lookup does)
    renumbered = a.index[a["LocationID"] != b["LocationID"]].tolist()
    assert renumbered == [57, 104, 105] and geojson["LocationID"].nunique() == 263
    boroughs = nyc_taxi.read_boroughs(files.boroughs)
    assert sorted(boroughs["boro_name"]) == sorted(nyc_taxi.BOROUGH_CODES)
    assert (boroughs.geom_type == "MultiPolygon").all()
    mapping = nyc_taxi.trip_columns(files.trips)
    assert mapping["Trip_type "] == "trip_type"
    yellow = nyc_taxi.trip_columns(nyc_taxi.prepare("real", trips=nyc_taxi.YELLOW_TRIPS).trips)
    assert yellow["tpep_pickup_datetime"] == "pickup_datetime" and "_c0" in yellow
