import json

import numpy as np
import pandas as pd
import pytest

from cookbook.datasets import DatasetFormatError, wsi

pytestmark = pytest.mark.unit


MARGIN = 32  # half of the 64-px patches the tests cut


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wsi")
    return wsi.generate(
        folder, n_tumour=3, n_normal=2, size=1024, patches_per_class=30, margin=MARGIN
    )


def _coords(folder):
    return (
        wsi.read_coords(folder / wsi.COORDS_DIR / "tumor_valid.txt", label=1),
        wsi.read_coords(folder / wsi.COORDS_DIR / "normal_valid.txt", label=0),
    )


def _signed_distance(folder, df) -> np.ndarray:
    """Each centre's Euclidean distance to its slide's tumour outlines in the JSON (negative
    inside; inf on a slide without tumour)."""
    import shapely

    out = np.full(len(df), np.inf)
    for name, rows in df.groupby("slide").indices.items():
        polys = wsi.read_annotation_json(folder / wsi.JSONS_DIR / f"{name}.json")["positive"]
        if polys:
            area = shapely.union_all([shapely.Polygon(p) for p in polys])
            points = shapely.points(df["x"].to_numpy()[rows], df["y"].to_numpy()[rows])
            d = shapely.distance(area.boundary, points)
            out[rows] = np.where(shapely.contains(area, points), -d, d)
    return out


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
    """Tumour centres lie inside a tumour polygon and normal centres outside every one, both
    by at least the margin (half a patch); as NCRF, tumour slides have normal centres too."""
    tumour, normal = _coords(slides)
    tumour_slides = [f"Tumor_00{i}" for i in (1, 2, 3)]
    assert tumour.groupby("slide").size().to_dict() == dict.fromkeys(tumour_slides, 30)
    every = tumour_slides + ["Normal_001", "Normal_002"]
    assert normal.groupby("slide").size().to_dict() == dict.fromkeys(every, 30)
    assert (_signed_distance(slides, tumour) <= -MARGIN).all()
    assert (_signed_distance(slides, normal) >= MARGIN).all()
    both = pd.concat([tumour, normal])
    assert not both.duplicated(["slide", "x", "y"]).any()
    assert both[["x", "y"]].min().min() >= MARGIN  # every patch lies on the slide
    assert both[["x", "y"]].max().max() <= 1024 - MARGIN
    empty = wsi.read_annotation_json(slides / wsi.JSONS_DIR / "Normal_001.json")
    assert empty == {"positive": [], "negative": []}


def test_a_third_of_the_normal_patches_on_tumour_slides_border_the_tumour(slides):
    """Normal centres near the tumour: margin to 3 margins from an outline, at least a third
    (``near_border``) of each tumour slide's; some patches reach the border region."""
    assert wsi.DEFAULTS["near_border"] == pytest.approx(1 / 3, abs=0.01)
    _, normal = _coords(slides)
    d = _signed_distance(slides, normal)
    near = pd.Series((d >= MARGIN) & (d <= 3 * MARGIN), index=normal.index)
    per_slide = near.groupby(normal["slide"]).sum()
    assert (per_slide[["Tumor_001", "Tumor_002", "Tumor_003"]] >= 10).all()
    assert (d[near] < MARGIN * 2**0.5).any()  # a patch corner inside the outline's reach


def test_near_border_share_margin_and_seed(tmp_path):
    """``near_border`` sets the share in the band; a seed gives the same lists and outlines."""
    kw = {"n_tumour": 1, "n_normal": 0, "size": 512, "patches_per_class": 12, "margin": 16}
    first = wsi.generate(tmp_path / "a", near_border=1.0, seed=3, **kw)
    again = wsi.generate(tmp_path / "b", near_border=1.0, seed=3, **kw)
    for sub in (f"{wsi.COORDS_DIR}/normal_valid.txt", f"{wsi.JSONS_DIR}/Tumor_001.json"):
        assert (first / sub).read_text() == (again / sub).read_text()
    tumour, normal = _coords(first)
    assert len(tumour) == len(normal) == 12
    assert (_signed_distance(first, tumour) <= -16).all()
    d = _signed_distance(first, normal)
    assert ((d >= 16) & (d <= 16 + 64)).all()  # all in the band, at least 64 px wide


def test_tumour_differs_in_nuclei_not_in_mean_colour(slides):
    """Held out by slide, mean patch colour hardly ranks tumour above normal; what was planted
    is in the nuclei: tumour nuclei are mostly larger (thicker) than normal tissue's, although
    the classes overlap (lobular tumours, germinal centres, histiocytes)."""
    from scipy import ndimage
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    # haematoxylin optical density by colour deconvolution with the nominal stain vectors
    unmix = np.linalg.pinv(np.stack([v / np.linalg.norm(v) for v in (wsi.H_OD, wsi.E_OD)]))
    rows = []
    for df in _coords(slides):
        for r in df.itertuples():
            with wsi.open_slide(slides / wsi.SLIDES_DIR / f"{r.slide}.tif") as s:
                patch = s.read_region((r.x - MARGIN, r.y - MARGIN), 0, (2 * MARGIN,) * 2)
            rgb = np.asarray(patch.convert("RGB"), dtype=float)
            nuclei = (-np.log(np.maximum(rgb, 1) / 245) @ unmix[:, 0]) > 0.25
            # the share of nuclear pixels deeper than 4.5 px inside a nucleus: lymphocytes
            # (radius <= 4.2 px) have none, even when they touch
            thick = (ndimage.distance_transform_edt(nuclei) >= 4.5).sum() / max(nuclei.sum(), 1)
            rows.append((r.slide, r.label, *rgb.reshape(-1, 3).mean(axis=0), thick))
    table = pd.DataFrame(rows, columns=["slide", "label", "r", "g", "b", "thick"])
    colour_score = np.zeros(len(table))
    for name in table["slide"].unique():  # leave one slide out
        held = (table["slide"] == name).to_numpy()
        fit = LogisticRegression(max_iter=1000)
        fit.fit(table.loc[~held, ["r", "g", "b"]], table.loc[~held, "label"])
        colour_score[held] = fit.decision_function(table.loc[held, ["r", "g", "b"]])
    colour_auc = roc_auc_score(table["label"], colour_score)
    nuclei_auc = roc_auc_score(table["label"], table["thick"])
    assert colour_auc < 0.7, colour_auc
    assert nuclei_auc > 0.85 and nuclei_auc > colour_auc + 0.2, nuclei_auc


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
    real = wsi.prepare("real")
    assert real == wsi.fetch_real() and real.slides_dir is None and real.jsons_dir is None
    with wsi.open_slide(real.slide) as slide:
        assert slide.dimensions == (2220, 2967)
        assert slide.properties["openslide.vendor"] == "aperio"
        region = np.asarray(slide.read_region((1000, 1000), 0, (299, 299)).convert("RGB"))
        assert region.std() > 10  # tissue, not blank
    tumour = wsi.read_coords(real.coords_tumor, 1)
    normal = wsi.read_coords(real.coords["normal"], 0)
    assert len(tumour) == len(normal) == 20_000
    assert tumour["slide"].nunique() == 10 and normal["slide"].nunique() == 28
    jsons = {p.stem: wsi.read_annotation_json(p) for p in real.jsons}
    assert len(jsons) == 29
    assert len(jsons["Tumor_101"]["positive"]) == 8 and not jsons["Normal_141"]["positive"]
    assert jsons["Normal_141"]["negative"][0].shape[1] == 2
