"""The Landsat scene reader and generator (chapter 8's raster source)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from cookbook.datasets import DatasetFormatError, DatasetUnavailableError, landsat

pytestmark = pytest.mark.unit


def _square(lon, lat, size):
    return [
        [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    ]


@pytest.fixture(scope="module")
def zones_file(tmp_path_factory):
    """Four square zones (0.025 degrees a side, 0.005 degrees apart) in two boroughs."""
    folder = tmp_path_factory.mktemp("zones")
    features = []
    for i, (lon, lat, borough) in enumerate(
        [
            (-74.00, 40.70, "Manhattan"),
            (-73.97, 40.70, "Manhattan"),
            (-74.00, 40.73, "Staten Island"),
            (-73.97, 40.73, "Staten Island"),
        ],
        start=1,
    ):
        features.append(
            {
                "type": "Feature",
                "properties": {"OBJECTID": i, "LocationID": i, "zone": f"z{i}", "borough": borough},
                "geometry": {"type": "Polygon", "coordinates": _square(lon, lat, 0.025)},
            }
        )
    path = folder / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture(scope="module")
def scene_dir(zones_file, tmp_path_factory):
    return landsat.generate(tmp_path_factory.mktemp("scene"), zones_file, seed=3, clouds=2)


def _copy_scene(scene_dir, tmp_path):
    target = tmp_path / "scene"
    shutil.copytree(scene_dir, target)
    return target


def test_generated_scene_has_the_collection_2_layout(scene_dir):
    import rasterio

    scene = landsat.find_scene(scene_dir)
    assert scene.product_id == landsat.PRODUCT_ID and scene.generated
    assert scene.red.name.endswith("_SR_B4.TIF") and scene.nir.name.endswith("_SR_B5.TIF")
    assert (scene.scale, scene.offset) == (2.75e-05, -0.2)  # read back from the MTL.txt
    grid = landsat.check_scene(scene)
    assert grid["crs"].to_epsg() == 32618 and grid["transform"].a == 30.0
    with rasterio.open(scene.red) as src:
        dn = src.read(1)
        assert src.nodata == 0 and src.profile["tiled"]
    with rasterio.open(scene.qa) as src:
        qa = src.read(1)
    assert ((dn == 0) == (qa == landsat.FILL)).all()  # the nodata wedge, in both
    assert 0 < (qa == landsat.FILL).mean() < 0.2
    values = set(np.unique(qa))
    assert {landsat.QA_CLEAR_LAND, landsat.QA_WATER, landsat.QA_CLOUD} <= values
    # reflectance of water and land in the ranges the generator plants
    refl = dn.astype(float) * scene.scale + scene.offset
    assert abs(np.median(refl[qa == landsat.QA_WATER]) - landsat.WATER_SR[0]) < 0.01


def test_truth_is_each_zones_clear_pixel_ndvi(scene_dir, zones_file):
    truth = pd.read_csv(scene_dir / landsat.TRUTH)
    assert list(truth["LocationID"]) == [1, 2, 3, 4]
    assert (truth["clear_pixels"] <= truth["zone_pixels"]).all()
    from cookbook.datasets import nyc_taxi

    zones = nyc_taxi.read_zones(zones_file).to_crs(landsat.CRS)
    assert truth["zone_pixels"].to_numpy() == pytest.approx(zones.area / 900, rel=0.01)
    ok = truth["clear_pixels"] > 0
    assert truth.loc[ok, "ndvi_mean"].between(0.1, 0.9).all()
    assert truth.loc[~ok, "ndvi_mean"].isna().all()  # no clear pixel: no NDVI, not 0


def test_ndvi_from_windows_matches_the_truth(scene_dir, zones_file):
    """The chapter's computation without Spark: windows, mask, rasterised zones, bincount."""
    from rasterio import features

    from cookbook.datasets import nyc_taxi

    scene = landsat.find_scene(scene_dir)
    grid = landsat.check_scene(scene)
    zones = nyc_taxi.read_zones(zones_file).to_crs(grid["crs"])
    tiles = landsat.windows(grid, 64)
    assert (tiles["width"] * tiles["height"]).sum() == grid["width"] * grid["height"]
    sums, counts = np.zeros(5), np.zeros(5)
    for w in tiles.itertuples():
        red, nir, qa, transform = landsat.read_window(
            scene, w.col_off, w.row_off, w.width, w.height
        )
        zone = features.rasterize(
            zip(zones.geometry, zones["LocationID"], strict=True), red.shape, transform=transform
        )
        ok = (zone > 0) & landsat.clear(qa)
        sums += np.bincount(zone[ok], landsat.ndvi(red, nir)[ok], minlength=5)
        counts += np.bincount(zone[ok], minlength=5)
    truth = pd.read_csv(scene_dir / landsat.TRUTH).set_index("LocationID")
    assert (counts[1:] == truth["clear_pixels"].to_numpy()).all()
    measured = sums[1:] / np.where(counts[1:] > 0, counts[1:], np.nan)
    assert np.nanmax(np.abs(measured - truth["ndvi_mean"].to_numpy())) < 0.01


def test_qa_mask_drops_fill_cloud_cirrus_shadow_snow_and_cloud_edges():
    # QA_PIXEL values as USGS scenes carry them (Landsat 8-9 C2 L2 product guide): clear land,
    # clear water, high-confidence cloud, shadow (with the clear bit set), high-confidence
    # cirrus (clear bit set too), snow, dilated cloud, fill
    qa = np.array([21824, 21952, 22280, 23888, 54596, 30048, 21762, 1], dtype=np.uint16)
    assert landsat.clear(qa).tolist() == [True, True] + [False] * 6
    assert landsat.QA_CLEAR_LAND == 21824 and landsat.QA_CLOUD == 22280
    assert np.isnan(landsat.ndvi(np.array([0.0]), np.array([0.0])))[0]


def test_reflectance_outside_the_valid_range_is_no_data():
    scene = landsat.LandsatScene("x", *(3 * [None]))
    dn = np.array([0, 7000, 7273, 20000, 43636, 50000], dtype=np.uint16)
    refl = landsat.reflectance(dn, scene)
    assert np.isnan(refl[[0, 1, 5]]).all()  # no data, negative reflectance, saturated
    assert refl[2] == pytest.approx(0.0, abs=1e-4) and refl[4] == pytest.approx(1.0, abs=1e-4)
    # dark water with a slightly negative red would otherwise give an NDVI far outside [-1, 1]
    assert np.isnan(landsat.ndvi(landsat.reflectance(np.array([7000]), scene), np.array([0.012])))[
        0
    ]


def test_landsat_9_and_l2sr_products_are_found(scene_dir, tmp_path):
    folder = tmp_path / "l9"
    folder.mkdir()
    product = "LC09_L2SR_014032_20240620_20240622_02_T1"
    for src in sorted(scene_dir.glob(f"{landsat.PRODUCT_ID}_*")):
        shutil.copy(src, folder / src.name.replace(landsat.PRODUCT_ID, product))
    scene = landsat.find_scene(folder)
    assert scene.product_id == product and scene.qa.name == f"{product}_QA_PIXEL.TIF"
    assert not scene.generated  # no truth file: treated as a real scene
    landsat.check_scene(scene)


def test_mtl_factors_come_from_the_surface_reflectance_group(scene_dir, tmp_path):
    folder = _copy_scene(scene_dir, tmp_path)
    # a real Level-2 MTL also holds the Level-1 TOA factors under the same names, first here
    (folder / f"{landsat.PRODUCT_ID}_MTL.txt").write_text(
        "GROUP = LANDSAT_METADATA_FILE\n"
        "  GROUP = LEVEL1_RADIOMETRIC_RESCALING\n"
        "    REFLECTANCE_MULT_BAND_4 = 2.0000E-05\n    REFLECTANCE_ADD_BAND_4 = -0.100000\n"
        "    REFLECTANCE_MULT_BAND_5 = 2.0000E-05\n    REFLECTANCE_ADD_BAND_5 = -0.100000\n"
        "  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING\n"
        "  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS\n"
        "    REFLECTANCE_MULT_BAND_4 = 2.75E-05\n    REFLECTANCE_ADD_BAND_4 = -0.200000\n"
        "    REFLECTANCE_MULT_BAND_5 = 2.75E-05\n    REFLECTANCE_ADD_BAND_5 = -0.200000\n"
        "  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS\nEND_GROUP = LANDSAT_METADATA_FILE\n"
    )
    scene = landsat.find_scene(folder)
    assert (scene.scale, scene.offset) == (2.75e-05, -0.2)


def _damaged_scene(scene_dir, tmp_path, band: str, change):
    """A copy of the scene whose ``band`` file is rewritten with ``change(profile)``."""
    import rasterio

    folder = _copy_scene(scene_dir, tmp_path)
    path = getattr(landsat.find_scene(folder), band)
    with rasterio.open(path) as src:
        data, profile = src.read(1), src.profile
    change(profile)
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(profile["dtype"]), 1)
    return folder


def test_a_band_without_crs_is_refused(scene_dir, tmp_path):
    folder = _damaged_scene(scene_dir, tmp_path, "nir", lambda profile: profile.pop("crs"))
    with pytest.raises(DatasetFormatError, match=r"_SR_B5\.TIF: the GeoTIFF has no CRS"):
        landsat.check_scene(landsat.find_scene(folder))


def test_bands_on_different_grids_are_refused(scene_dir, tmp_path):
    from rasterio.transform import Affine

    def one_pixel_east(profile):
        profile["transform"] = profile["transform"] @ Affine.translation(1, 0)

    folder = _damaged_scene(scene_dir, tmp_path, "qa", one_pixel_east)
    with pytest.raises(DatasetFormatError, match=r"QA_PIXEL\.TIF: its grid differs .*transform"):
        landsat.check_scene(landsat.find_scene(folder))


def test_wrong_band_type_missing_band_and_two_scenes_are_refused(scene_dir, tmp_path):
    folder = _damaged_scene(scene_dir, tmp_path, "red", lambda p: p.update(dtype="float32"))
    red = landsat.find_scene(folder).red
    with pytest.raises(DatasetFormatError, match=r"_SR_B4\.TIF: 1 band\(s\) of float32"):
        landsat.check_scene(landsat.find_scene(folder))
    other = folder / red.name.replace("20230817", "20230902")
    shutil.copy(red, other)
    with pytest.raises(DatasetFormatError, match="2 scenes"):
        landsat.find_scene(folder)
    other.unlink()
    landsat.find_scene(folder).qa.unlink()
    with pytest.raises(DatasetFormatError, match="_QA_PIXEL.TIF missing"):
        landsat.find_scene(folder)


def test_mtl_without_reflectance_factors_is_refused(scene_dir, tmp_path):
    folder = _copy_scene(scene_dir, tmp_path)
    (folder / f"{landsat.PRODUCT_ID}_MTL.txt").write_text("GROUP = LANDSAT_METADATA_FILE\nEND\n")
    with pytest.raises(DatasetFormatError, match="REFLECTANCE_MULT_BAND_4"):
        landsat.find_scene(folder)


def test_real_source_without_a_scene(zones_file, tmp_path):
    config = {"data": {"cache_dir": str(tmp_path / "cache"), "mirror": None}}
    with pytest.raises(DatasetUnavailableError, match="no Landsat 8/9 Collection 2 Level-2 files"):
        landsat.prepare("real", zones_file=zones_file, folder=tmp_path, config=config)
    # no folder and no mirror: a generated scene, and the description says so
    scene = landsat.prepare("real", zones_file=zones_file, clouds=1, config=config)
    assert scene.generated and "no real Landsat scene" in scene.description
    assert "planted, not observed" in scene.description


def test_windows_tile_the_grid_without_overlap():
    tiles = landsat.windows({"width": 1000, "height": 700}, 256)
    covered = np.zeros((700, 1000), int)
    for w in tiles.itertuples():
        covered[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] += 1
    assert (covered == 1).all() and len(tiles) == 4 * 3
    with pytest.raises(ValueError, match="window size 8"):
        landsat.windows({"width": 10, "height": 10}, 8)
