import itertools
import re

import numpy as np
import pandas as pd
import pytest
import scipy.io
from PIL import Image

from cookbook.datasets import DatasetFormatError, stanford_cars

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def cars(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cars")
    return stanford_cars.generate(folder, n_classes=6, train_per_class=20, test_per_class=5, seed=3)


def test_devkit_files_have_the_real_matlab_layout(cars):
    meta = scipy.io.loadmat(cars / "devkit" / stanford_cars.META)
    assert meta["class_names"].shape == (1, 6) and meta["class_names"].dtype == object
    annos = scipy.io.loadmat(cars / "devkit" / stanford_cars.TRAIN_ANNOS)["annotations"]
    assert annos.shape == (1, 120)
    assert annos.dtype.names == ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname")
    test = scipy.io.loadmat(cars / "devkit" / stanford_cars.TEST_ANNOS)["annotations"]
    assert "class" not in test.dtype.names  # as the original: test labels come separately
    names = stanford_cars.load_class_names(cars / "devkit" / stanford_cars.META)
    assert names == stanford_cars.class_names_for(6) and len(set(names)) == 6
    assert names[0] == "Synthmotors Arcadia Sedan 2012"


def test_annotations_point_at_images_and_boxes_inside_them(cars):
    df = stanford_cars.load_annotations(cars / "devkit" / stanford_cars.TRAIN_ANNOS)
    assert len(df) == 120 and sorted(df["class"].unique()) == list(range(1, 7))
    assert (df["class"].value_counts() == 20).all()
    for row in df.head(15).to_dict("records"):
        with Image.open(cars / "cars_train" / row["fname"]) as img:
            assert img.format == "JPEG"
            w, h = img.size
        assert 1 <= row["bbox_x1"] < row["bbox_x2"] <= w
        assert 1 <= row["bbox_y1"] < row["bbox_y2"] <= h
        assert (row["bbox_x2"] - row["bbox_x1"]) > 0.4 * w  # the car fills a good part


def test_colour_alone_does_not_give_the_class(cars):
    """Mean and spread of the crop's colour predict the class barely better than chance."""
    feats, labels = [], []
    for split, annos in (
        ("train", cars / "devkit" / stanford_cars.TRAIN_ANNOS),
        ("test", cars / stanford_cars.TEST_ANNOS_LABELLED),
    ):
        for row in stanford_cars.load_annotations(annos).to_dict("records"):
            with Image.open(cars / f"cars_{split}" / row["fname"]) as img:
                box = (row["bbox_x1"] - 1, row["bbox_y1"] - 1, row["bbox_x2"], row["bbox_y2"])
                crop = np.asarray(img.convert("RGB").crop(box), dtype=float)
            feats.append(np.concatenate([crop.mean(axis=(0, 1)), crop.std(axis=(0, 1))]))
            labels.append(row["class"])
    x, y = np.array(feats), np.array(labels)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    folds = np.arange(len(y)) % 5
    hits = []
    for k in range(5):  # nearest class centroid, five-fold
        fit, held = folds != k, folds == k
        centroids = np.stack([x[fit & (y == c)].mean(axis=0) for c in range(1, 7)])
        guess = ((x[held, None] - centroids[None]) ** 2).sum(axis=-1).argmin(axis=1) + 1
        hits.append(guess == y[held])
    assert np.concatenate(hits).mean() < 0.35  # six classes: chance is 0.17


def test_class_names_are_models_grouped_by_body_style():
    styles = "|".join(stanford_cars.BODY_STYLES)
    makes = "|".join(stanford_cars.MAKES)
    pattern = re.compile(rf"^({makes}) [\w-]+( [\w-]+)* ({styles}) (19|20)\d\d$")
    top = sum(len(models) for models in stanford_cars.MODELS.values())
    assert top >= 12
    for n in range(2, top + 1):
        names = stanford_cars.class_names_for(n)
        assert len(names) == len(set(names)) == n
        assert all(pattern.match(name) for name in names), names
        styles_in_order = [stanford_cars.car_model(name)["style"] for name in names]
        blocks = [s for i, s in enumerate(styles_in_order) if i == 0 or s != styles_in_order[i - 1]]
        assert len(blocks) == len(set(blocks)), f"{n}: styles not grouped: {styles_in_order}"
        counts = [styles_in_order.count(s) for s in blocks]
        assert min(counts) >= 2 and max(counts) - min(counts) <= 1, (n, counts)
    for n, layout in ((2, [2]), (4, [2, 2]), (8, [2, 2, 2, 2]), (12, [3, 3, 3, 3])):
        assert stanford_cars.models_per_style(n) == layout
    for bad in (1, top + 1):
        with pytest.raises(ValueError, match="n_classes must be between 2 and"):
            stanford_cars.class_names_for(bad)


def test_models_of_a_style_share_the_silhouette_but_not_the_details():
    """Rendered from one seed (same paint, place, light), two models of one body style overlap
    far more than two body styles do, yet their pixels differ: the planted details."""
    names = stanford_cars.class_names_for(12)
    cars = [stanford_cars.car_model(name) for name in names]
    for a, b in itertools.combinations(cars, 2):
        if a["style"] == b["style"]:
            differ = [k for k in stanford_cars._DETAILS if k != "option" and a[k] != b[k]]
            assert len(differ) >= 4, (a["name"], b["name"], differ)
    same, other = [], []
    for seed in range(3):
        scene = stanford_cars._scene(np.random.default_rng(seed), (240, 170))
        renders = [stanford_cars._render(car, scene) for car in cars]
        for (a, (img_a, _, mask_a)), (b, (img_b, _, mask_b)) in itertools.combinations(
            zip(cars, renders, strict=True), 2
        ):
            overlap = (mask_a & mask_b).sum() / (mask_a | mask_b).sum()
            if a["style"] == b["style"]:
                same.append(overlap)
                diff = np.abs(np.asarray(img_a, float) - np.asarray(img_b, float)).sum(axis=-1)
                # a clear change (summed over RGB) on at least 3% of the cars' pixels
                assert (diff[mask_a | mask_b] > 60).mean() > 0.03, (a["name"], b["name"])
            else:
                other.append(overlap)
    assert min(same) > 0.75 and np.mean(same) > np.mean(other) + 0.15


def test_the_bounding_box_holds_the_car():
    car = stanford_cars.car_model(stanford_cars.class_names_for(12)[-1])
    rng = np.random.default_rng(11)
    for _ in range(25):
        size = (int(rng.integers(160, 320)), int(rng.integers(100, 200)))
        scene = stanford_cars._scene(rng, size)
        img, (x1, y1, x2, y2), mask = stanford_cars._render(car, scene)
        assert img.size == size and mask.shape == (size[1], size[0])
        ys, xs = np.nonzero(mask)
        assert 1 <= x1 <= xs.min() + 1 and xs.max() + 1 <= x2 <= size[0]  # 1-based, inclusive
        assert 1 <= y1 <= ys.min() + 1 and ys.max() + 1 <= y2 <= size[1]
        margin = 0.1 * size[0]  # a loose box: at most a tenth of the car's length
        assert x1 >= xs.min() + 1 - margin and x2 <= xs.max() + 1 + margin
        assert y1 >= ys.min() + 1 - margin and y2 <= ys.max() + 1 + margin
    rng = np.random.default_rng(3)
    first = stanford_cars.render_car(car, rng, (200, 140))
    again = stanford_cars.render_car(car, np.random.default_rng(3), (200, 140))
    assert first[1] == again[1] and np.array_equal(np.asarray(first[0]), np.asarray(again[0]))


def test_bad_devkit_files_give_clear_errors(tmp_path):
    not_mat = tmp_path / "cars_meta.mat"
    not_mat.write_text("hello")
    with pytest.raises(DatasetFormatError, match="not a readable MATLAB"):
        stanford_cars.load_class_names(not_mat)
    wrong = tmp_path / "wrong.mat"
    scipy.io.savemat(wrong, {"labels": np.arange(3)})
    with pytest.raises(DatasetFormatError, match="no variable 'annotations'.*labels"):
        stanford_cars.load_annotations(wrong)
    no_bbox = tmp_path / "no_bbox.mat"
    annos = pd.DataFrame(
        {"bbox_x1": [1], "bbox_y1": [1], "bbox_x2": [5], "bbox_y2": [5], "fname": ["a"]}
    )
    stanford_cars.save_annotations(no_bbox, annos.drop(columns="bbox_y2"))
    with pytest.raises(DatasetFormatError, match="lack field.*bbox_y2"):
        stanford_cars.load_annotations(no_bbox)
    flat = tmp_path / "flat.mat"
    stanford_cars.save_annotations(flat, annos.assign(bbox_y2=1))
    with pytest.raises(DatasetFormatError, match="no area for a"):
        stanford_cars.load_annotations(flat)
    with pytest.raises(FileNotFoundError, match="devkit file not found"):
        stanford_cars.load_annotations(tmp_path / "missing.mat")


def test_real_mode_needs_the_image_folder(tmp_path):
    with pytest.raises(DatasetFormatError, match=r"REAL_IMAGES_DIR(?s:.*)Kaggle"):
        stanford_cars.prepare("real", images_dir="")
    with pytest.raises(FileNotFoundError, match="no cars_train/"):
        stanford_cars.prepare("real", images_dir=tmp_path)


@pytest.mark.realdata
def test_real_devkit_loads(mirror):
    devkit = stanford_cars.fetch_devkit()
    names = stanford_cars.load_class_names(devkit[stanford_cars.META])
    assert len(names) == 196
    assert names[0] == "AM General Hummer SUV 2000" and names[-1] == "smart fortwo Convertible 2012"
    train = stanford_cars.load_annotations(devkit[stanford_cars.TRAIN_ANNOS])
    assert len(train) == 8_144 and sorted(train["class"].unique()) == list(range(1, 197))
    assert (train["bbox_x2"] > train["bbox_x1"]).all()
    test = stanford_cars.load_annotations(devkit[stanford_cars.TEST_ANNOS])
    assert len(test) == 8_041 and "class" not in test.columns
    samples = stanford_cars.fetch_sample_images()
    assert [p.name for p in samples] == list(stanford_cars.SAMPLE_IMAGES)
    with Image.open(samples[0]) as img:
        assert img.size == (224, 224)
