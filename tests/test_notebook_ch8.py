"""Chapter 8 notebook (geospatial joins): executed with papermill in smoke mode, then
what it recorded is checked: metrics.json, the MLflow run (same values), the files it wrote."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from notebook_run import assert_logged, execute, mlflow_run

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def ch8(sandbox):
    return execute("08-geospatial", sandbox, "synthetic")


def _borough_total(r, prefix="borough_count_"):
    return sum(v for k, v in r.items() if k.startswith(prefix))


def test_ch8_cleaning_counts_match_the_planted_bad_points(ch8):
    from cookbook.datasets import nyc_taxi

    _, r = ch8
    truth = pd.read_parquet(nyc_taxi.prepare("synthetic", n_trips=30_000, seed=8).truth)
    kinds = truth["kind"].value_counts()
    assert r["n_trips"] == 30_000 == r["valid_points"] + r["dropped_points"]
    assert r["dropped_points"] == kinds["zero"] + kinds["far"]  # (0, 0) and swapped pairs
    assert r["outside_count"] == kinds["outside"]  # in the water: valid, in no zone
    assert _borough_total(r) + r["outside_count"] == r["valid_points"]
    assert set(k for k in r if k.startswith("borough_count_")) == {
        "borough_count_Manhattan",
        "borough_count_Bronx",
        "borough_count_Brooklyn",
        "borough_count_Queens",
        "borough_count_Staten_Island",
    }


def test_ch8_exact_joins_agree_with_the_truth_and_each_other(ch8):
    _, r = ch8
    assert r["exact_true_zone_share"] >= 0.999
    assert r["truth_matched_points"] == r["valid_points"] - r["outside_count"]
    assert r["spark_vs_geopandas_mismatches"] == 0
    assert r["udf_mismatches"] == 0
    # H3 + a test in border cells is exact, with the exact join's tie rule (lowest id)
    assert r["h3_refined_agreement"] == 1.0
    assert r["h3_refined_lost"] == 0 and r["h3_refined_misassigned"] == 0
    assert 0 < r["h3_border_point_share"] < 1


def test_ch8_h3_agreement_rises_with_resolution(ch8):
    _, r = ch8
    a7, a8, a9 = r["h3_agreement_r7"], r["h3_agreement_r8"], r["h3_agreement_r9"]
    assert 0 < a7 < a8 < a9 < 1
    assert a9 > 0.75  # ~0.1 km2 cells against ~1-3 km2 zones
    assert r["h3_misassigned_r9"] < r["h3_misassigned_r7"] and r["h3_lost_r9"] < r["h3_lost_r7"]
    # the cell-centre H3 join moves points between zones, rarely between boroughs
    assert _borough_total(r, "h3_r9_borough_count_") <= r["valid_points"]
    manhattan = r["borough_count_Manhattan"]
    assert r["h3_r9_borough_count_Manhattan"] == pytest.approx(manhattan, rel=0.1)


def test_ch8_ndvi_per_borough_matches_the_planted_scene(ch8):
    """The generated scene's truth (each zone's NDVI over its clear pixels before the sensor
    noise), summed per borough here, against what the notebook computed from the files."""
    from cookbook.datasets import landsat, nyc_taxi

    _, r = ch8
    zones_file = nyc_taxi.prepare("synthetic", n_trips=30_000, seed=8).zones_shp
    truth = pd.read_csv(landsat.prepare("synthetic", zones_file=zones_file).truth)
    per_borough = truth.groupby("borough")[["ndvi_sum", "clear_pixels"]].sum()
    expected = per_borough["ndvi_sum"] / per_borough["clear_pixels"]
    assert len(expected) == 5
    for borough, value in expected.items():
        assert r[f"ndvi_mean_{borough.replace(' ', '_')}"] == pytest.approx(value, abs=0.002)
    # the planted order (Manhattan greyest, Staten Island greenest) comes back out
    assert r["ndvi_mean_Manhattan"] < r["ndvi_mean_Brooklyn"] < r["ndvi_mean_Staten_Island"]
    assert r["ndvi_pixel_count_mismatches"] == 0
    assert r["ndvi_zone_max_abs_error"] < 0.02
    # masking matters: averaging clouds and shadows in is far off somewhere
    assert r["ndvi_zone_max_abs_error_unmasked"] > 10 * r["ndvi_zone_max_abs_error"]
    assert r["ndvi_zones_no_data"] == int((truth["clear_pixels"] == 0).sum())
    assert 0 < r["ndvi_masked_share"] < 0.3
    assert r["raster_windows"] > 1 and "generated" in r["raster_source"]


@pytest.mark.postgis
def test_ch8_postgis_join_over_jdbc_agrees_with_spark(ch8, record_property):
    from cookbook import postgis

    _, r = ch8
    available, why = postgis.can_run()
    if not available:
        assert "postgis_agreement" not in r
        pytest.skip(f"the notebook skipped its PostGIS section: {why}")
    assert r["postgis_sample"] == 5_000  # the smoke sample, every row read back
    assert r["postgis_agreement"] == 1.0
    record_property(
        "summary",
        f"chapter 8: PostGIS over JDBC agrees with the Spark join on {r['postgis_sample']:,} "
        f"pickups ({why})",
    )


def test_ch8_mlflow_has_the_comparison_and_the_maps(ch8):
    executed, r = ch8
    run = mlflow_run(r)
    assert_logged(r, run)
    assert run.data.params["h3_resolutions"] == "[7, 8, 9]"
    names = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert {
        "dropoff_hexagons.html",
        "dropoff_hexagons.png",
        "pickups_per_zone.html",
        "pickups_per_zone.png",
        "join_comparison.csv",
        "timings.csv",
        "ndvi_scene.png",
        "ndvi_per_zone.png",
        "ndvi_per_zone.csv",
    } <= names
    html = (executed.parent / "dropoff_hexagons.html").read_text()
    assert "leaflet" in html.lower() and '"dropoffs"' in html
    assert "cdn.jsdelivr.net" not in html and "code.jquery.com" not in html  # draws offline
    comparison = pd.read_csv(executed.parent / "join_comparison.csv")
    assert comparison["points_per_s"].gt(0).all() and len(comparison) == 7
    import geopandas as gpd

    zones = gpd.read_parquet(executed.parent / "taxi_zones.parquet")
    assert len(zones) == r["n_zones"] and zones.crs.to_epsg() == 4326


@pytest.mark.realdata
def test_ch8_on_the_real_zones_boroughs_and_green_taxi_month(sandbox):
    from cookbook.datasets import nyc_taxi

    _, r = execute("08-geospatial", sandbox, "real", DATA_SOURCE="real")
    raw = pd.read_csv(
        nyc_taxi.prepare("real").trips,
        usecols=["Pickup_longitude", "Pickup_latitude"],
        index_col=False,
    )
    lon_min, lat_min, lon_max, lat_max = nyc_taxi.NYC_BBOX
    in_box = raw["Pickup_longitude"].between(lon_min, lon_max) & raw["Pickup_latitude"].between(
        lat_min, lat_max
    )
    assert r["n_trips"] == 7_623 and r["valid_points"] == in_box.sum()
    assert r["n_zone_records"] == 263 and r["n_zones"] == 260  # TLC's duplicate ids dissolved
    assert r["shapefile_geojson_min_iou"] > 0.9999
    assert r["spark_vs_geopandas_mismatches"] == 0 and r["h3_refined_agreement"] == 1.0
    assert "exact_true_zone_share" not in r
    assert _borough_total(r) + r["outside_count"] == r["valid_points"]
    # green cabs of 2013 served the outer boroughs and upper Manhattan
    for name in ("Manhattan", "Brooklyn", "Queens", "Bronx"):
        assert r[f"borough_count_{name}"] > 100
        assert r[f"h3_r9_borough_count_{name}"] == pytest.approx(
            r[f"borough_count_{name}"], rel=0.1
        )
    assert r["h3_agreement_r7"] < r["h3_agreement_r9"]
    # no real Landsat scene in the mirror: one is generated over the real zones, and said so
    assert "no real Landsat scene" in r["raster_source"]
    assert r["ndvi_pixel_count_mismatches"] == 0 and r["ndvi_zone_max_abs_error"] < 0.02
    assert r.get("postgis_agreement", 1.0) == 1.0
