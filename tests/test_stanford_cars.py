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
    assert names[0] == "Synthmotors Sedan 2009" and len(set(names)) == 6


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
    """Mean colour of the car crop predicts the class barely better than chance."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    df = stanford_cars.load_annotations(cars / "devkit" / stanford_cars.TRAIN_ANNOS)
    feats = []
    for row in df.to_dict("records"):
        with Image.open(cars / "cars_train" / row["fname"]) as img:
            box = (row["bbox_x1"] - 1, row["bbox_y1"] - 1, row["bbox_x2"], row["bbox_y2"])
            crop = np.asarray(img.convert("RGB").crop(box), dtype=float)
        feats.append(np.concatenate([crop.mean(axis=(0, 1)), crop.std(axis=(0, 1))]))
    acc = cross_val_score(LogisticRegression(max_iter=2000), np.array(feats), df["class"], cv=4)
    assert acc.mean() < 0.45  # six classes: chance is 0.17; the silhouette is what tells them apart


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
