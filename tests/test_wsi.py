import json

import numpy as np
import pytest

from cookbook.datasets import DatasetFormatError, wsi

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wsi")
    return wsi.generate(folder, n_tumour=2, n_normal=1, size=1024, patches_per_class=30, margin=32)


def test_openslide_reads_the_synthetic_slides_as_pyramids(slides):
    with wsi.open_slide(slides / wsi.SLIDES_DIR / "Tumor_001.tif") as slide:
        assert slide.dimensions == (1024, 1024)
        assert slide.level_count >= 3 and slide.level_downsamples[:3] == (1.0, 2.0, 4.0)
        assert float(slide.properties["openslide.mpp-x"]) == pytest.approx(0.243, abs=1e-3)
        patch = np.asarray(slide.read_region((400, 400), 1, (64, 64)).convert("RGB"))
        assert patch.shape == (64, 64, 3)
        corner = np.asarray(slide.read_region((0, 0), 0, (32, 32)).convert("RGB"))
        assert corner.mean() > 225  # white glass outside the tissue


def test_coordinates_fall_in_the_right_tissue(slides):
    """Tumour centres lie inside a tumour polygon, normal centres outside every one."""
    import shapely

    tumour = wsi.read_coords(slides / wsi.COORDS_DIR / "tumor_valid.txt", label=1)
    normal = wsi.read_coords(slides / wsi.COORDS_DIR / "normal_valid.txt", label=0)
    assert set(tumour["slide"]) == {"Tumor_001", "Tumor_002"}
    assert set(normal["slide"]) == {"Tumor_001", "Tumor_002", "Normal_001"}  # as NCRF: both
    for name, group in tumour.groupby("slide"):
        polys = wsi.read_annotation_json(slides / wsi.JSONS_DIR / f"{name}.json")["positive"]
        area = shapely.union_all([shapely.Polygon(p) for p in polys])
        assert shapely.contains_xy(area, group["x"], group["y"]).all()
        others = normal[normal["slide"] == name]
        assert not shapely.contains_xy(area.buffer(31), others["x"], others["y"]).any()
    empty = wsi.read_annotation_json(slides / wsi.JSONS_DIR / "Normal_001.json")
    assert empty == {"positive": [], "negative": []}


def test_tumour_differs_in_nuclei_not_in_mean_colour(slides):
    """Per patch, mean colour overlaps between the classes; the pale tumour nuclei do not."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    coords = [
        wsi.read_coords(slides / wsi.COORDS_DIR / "tumor_valid.txt", label=1),
        wsi.read_coords(slides / wsi.COORDS_DIR / "normal_valid.txt", label=0),
    ]
    colour, pale_nuclei, labels = [], [], []
    for df in coords:
        for r in df.itertuples():
            with wsi.open_slide(slides / wsi.SLIDES_DIR / f"{r.slide}.tif") as s:
                rgb = np.asarray(s.read_region((r.x - 32, r.y - 32), 0, (64, 64)).convert("RGB"))
            colour.append(rgb.reshape(-1, 3).mean(axis=0))
            # haematoxylin absorbs red, eosin hardly: nuclei are where red drops; tumour nuclei
            # are large and pale (little chromatin), lymphocytes small and dark
            red = rgb[..., 0].astype(float)
            pale_nuclei.append(((red > 160) & (red < 200)).mean())
            labels.append(r.label)
    colour, labels = np.array(colour), np.array(labels)
    fit = LogisticRegression(max_iter=1000).fit(colour, labels)
    assert roc_auc_score(labels, fit.predict_proba(colour)[:, 1]) < 0.8  # in-sample, even
    assert roc_auc_score(labels, pale_nuclei) > 0.95


def test_coordinate_lists_are_validated(tmp_path):
    two = tmp_path / "two.txt"
    two.write_text("Tumor_001,10\n")
    with pytest.raises(DatasetFormatError, match="expected 3 comma-separated fields"):
        wsi.read_coords(two, 1)
    neg = tmp_path / "neg.txt"
    neg.write_text("Tumor_001,10,20\nTumor_001,-5,20\n")
    with pytest.raises(DatasetFormatError, match="line 2: x must be a non-negative"):
        wsi.read_coords(neg, 1)
    with pytest.raises(FileNotFoundError, match="coordinate list not found"):
        wsi.read_coords(tmp_path / "none.txt", 0)


def test_annotation_json_and_slides_are_validated(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"positive": [{"name": "a", "vertices": [[1, 2], [3, 4]]}], "negative": []})
    )
    with pytest.raises(DatasetFormatError, match=r"positive\[0\] needs 'vertices'"):
        wsi.read_annotation_json(bad)
    bad.write_text(json.dumps({"tumour": []}))
    with pytest.raises(DatasetFormatError, match="'positive' and 'negative'"):
        wsi.read_annotation_json(bad)
    corrupt = tmp_path / "Tumor_009.tif"
    corrupt.write_bytes(b"II*\x00" + b"\x00" * 100)
    with pytest.raises(DatasetFormatError, match="Tumor_009.tif: OpenSlide cannot read"):
        wsi.open_slide(corrupt)
    with pytest.raises(FileNotFoundError, match="slide not found"):
        wsi.open_slide(tmp_path / "Tumor_010.tif")


@pytest.mark.realdata
def test_real_slide_and_ncrf_files(mirror):
    real = wsi.fetch_real()
    with wsi.open_slide(real["slide"]) as slide:
        assert slide.dimensions == (2220, 2967)
        assert slide.properties["openslide.vendor"] == "aperio"
        region = np.asarray(slide.read_region((1000, 1000), 0, (299, 299)).convert("RGB"))
        assert region.std() > 10  # tissue, not blank
    tumour = wsi.read_coords(real["coords"]["tumor"], 1)
    normal = wsi.read_coords(real["coords"]["normal"], 0)
    assert len(tumour) == len(normal) == 20_000
    assert tumour["slide"].nunique() == 10 and normal["slide"].nunique() == 28
    jsons = {p.stem: wsi.read_annotation_json(p) for p in real["jsons"]}
    assert len(jsons) == 29
    assert len(jsons["Tumor_101"]["positive"]) == 8 and not jsons["Normal_141"]["positive"]
    assert jsons["Normal_141"]["negative"][0].shape[1] == 2
