"""Stanford Cars (chapter 7): devkit loaders, download spec, and a synthetic car renderer.

The original (J. Krause, M. Stark, J. Deng, L. Fei-Fei, 3DRR 2013) is 16,185 photos of 196 car
models with a devkit of MATLAB files:

- ``cars_meta.mat``: ``class_names``, a 1x196 cell array of strings;
- ``cars_train_annos.mat`` / ``cars_test_annos.mat``: ``annotations``, a 1xN struct array with
  ``bbox_x1, bbox_y1, bbox_x2, bbox_y2`` (1-based pixel corners), ``class`` (1-based; absent
  from the test file, whose labels came later as ``cars_test_annos_withlabels.mat``) and
  ``fname``;
- the JPEGs in ``cars_train/`` and ``cars_test/``.

The original image URL (ai.stanford.edu/~jkrause/cars/) is gone; the images are mirrored on
Kaggle (``jessicali9530/stanford-cars-dataset``) and the Hugging Face hub
(``tanganke/stanford_cars``). :func:`fetch_real` gets the devkit; point ``images_dir`` at a
folder holding ``cars_train/`` (and ``cars_test/``).

:func:`generate` renders car-like side views for a handful of body styles (sedan, coupe, SUV,
pickup, van, ...) that differ in silhouette only: colour, scale, position, mirroring and
background vary at random within every class. It writes JPEGs and the devkit files in the real
format (``scipy.io.savemat``), so one loader reads both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DatasetFormatError, DownloadSpec, RemoteFile, fetch
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.io import atomic_path

NAME = "stanford_cars"
GENERATOR_VERSION = 1
META = "cars_meta.mat"
TRAIN_ANNOS = "cars_train_annos.mat"
TEST_ANNOS = "cars_test_annos.mat"
TEST_ANNOS_LABELLED = "cars_test_annos_withlabels.mat"
SAMPLE_IMAGES = ("03198.jpg", "05509.jpg", "07647.jpg")
BBOX_FIELDS = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")

_REPO = "https://raw.githubusercontent.com/foamliu/Car-Recognition/8bffd4fd36082d42400f397e02c2580d436b88e0"
_SHA = {
    META: "fe43dfda289448f97c25b09e09fafc0414e22fc4143831537780884a0a5f4a1a",
    TRAIN_ANNOS: "1c1973dd828a2964060b0bbc0e423466393fe3001a3f8e303f41fbf22067dfb1",
    TEST_ANNOS: "17a7837554437d4b58041cc2fc084ba46ccf315a1b5a3ee1264501ff68ca7c79",
    "03198.jpg": "8b39a78f8f3beed2d4063d6d57297e2c9ab3c52446a467a33dc1725b5efeb195",
    "05509.jpg": "c9600c581de4d29d5eb3ee5068852319b3941d3134d2b31134fcdf7321422298",
    "07647.jpg": "f44edb6a0673e9721b641792cfb330b9adda1e06f743b99ee5c0445c5fed75bf",
}
SPEC = DownloadSpec(
    name=NAME,
    title="Stanford Cars devkit (Krause et al., 3DRR 2013)",
    homepage="https://ai.stanford.edu/~jkrause/cars/car_dataset.html",
    license="non-commercial research use (Stanford); no open licence stated",
    files=(
        *(
            RemoteFile(
                filename=name,
                url=f"{_REPO}/devkit/{name}",
                sha256=_SHA[name],
                mirror_path=f"stanford_cars_devkit/{name}",
            )
            for name in (META, TRAIN_ANNOS, TEST_ANNOS)
        ),
        *(
            RemoteFile(
                filename=name,
                url=f"{_REPO}/images/samples/{name}",
                sha256=_SHA[name],
                mirror_path=f"stanford_cars_devkit/sample_images/{name}",
            )
            for name in SAMPLE_IMAGES
        ),
    ),
    manual_instructions=(
        "The devkit (car_devkit.tgz) downloads automatically from a pinned copy. The 16,185\n"
        "images are no longer at the original URL: get them from Kaggle\n"
        "  kaggle datasets download -d jessicali9530/stanford-cars-dataset --unzip\n"
        "or from the Hugging Face hub (tanganke/stanford_cars), and pass the folder that holds\n"
        "cars_train/ (and cars_test/) as images_dir / REAL_IMAGES_DIR."
    ),
    notes="The three sample images are 224x224 crops (car only) from the Car-Recognition demo.",
)


# ----------------------------------------------------------------------------- devkit readers


def _loadmat(path: str | Path, key: str):
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"devkit file not found: {path}")
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True)
    except (ValueError, TypeError, OSError, scipy.io.matlab.MatReadError) as exc:
        raise DatasetFormatError(f"{path}: not a readable MATLAB .mat file: {exc}") from exc
    if key not in mat:
        keys = [k for k in mat if not k.startswith("__")]
        raise DatasetFormatError(f"{path}: no variable {key!r} (it holds {', '.join(keys)})")
    return mat[key]


def load_class_names(path: str | Path) -> list[str]:
    """``class_names`` from ``cars_meta.mat``; class ``k`` (1-based) is ``names[k - 1]``."""
    names = _loadmat(path, "class_names")
    return [str(n) for n in np.atleast_1d(names)]


def load_annotations(path: str | Path) -> pd.DataFrame:
    """``annotations`` from a ``cars_*_annos*.mat``: bboxes (1-based), ``class`` if present, fname.

    Raises :class:`DatasetFormatError` naming the file and any missing field.
    """
    annos = np.atleast_1d(_loadmat(path, "annotations"))
    fields = annos.dtype.names or ()
    missing = [f for f in (*BBOX_FIELDS, "fname") if f not in fields]
    if missing:
        raise DatasetFormatError(
            f"{path}: annotations lack field(s) {', '.join(missing)}; expected "
            f"{', '.join(BBOX_FIELDS)}, class (optional), fname (has {', '.join(fields)})"
        )
    df = pd.DataFrame({f: [rec[f] for rec in annos] for f in fields})
    for col in [*BBOX_FIELDS, *(["class"] if "class" in fields else [])]:
        df[col] = df[col].astype("int64")
    df["fname"] = df["fname"].astype(str)
    bad = (df["bbox_x2"] <= df["bbox_x1"]) | (df["bbox_y2"] <= df["bbox_y1"])
    if bad.any():
        raise DatasetFormatError(
            f"{path}: bounding box with no area for {df.loc[bad, 'fname'].iloc[0]} "
            "(expected x1 < x2 and y1 < y2)"
        )
    return df


def save_annotations(path: str | Path, annos: pd.DataFrame) -> Path:
    """Write annotations as the devkit does: a 1xN MATLAB struct array (atomically)."""
    import scipy.io

    fields = [c for c in (*BBOX_FIELDS, "class", "fname") if c in annos.columns]
    records = np.empty((1, len(annos)), dtype=[(f, object) for f in fields])
    for i, values in enumerate(annos.to_dict("records")):
        records[0, i] = tuple(
            np.array([[values[f]]], dtype=np.uint16) if f != "fname" else np.array([values[f]])
            for f in fields
        )
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            scipy.io.savemat(fh, {"annotations": records})
    return Path(path)


def save_class_names(path: str | Path, names: list[str]) -> Path:
    import scipy.io

    cell = np.empty((1, len(names)), dtype=object)
    for i, name in enumerate(names):
        cell[0, i] = np.array([name])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            scipy.io.savemat(fh, {"class_names": cell})
    return Path(path)


@dataclass(frozen=True)
class CarsData:
    """Where a dataset's parts are: devkit files and image folders."""

    meta: Path
    train_annos: Path
    test_annos: Path | None  # with labels; None: split the labelled train set
    train_dir: Path
    test_dir: Path | None


# ----------------------------------------------------------------------------- real data


def fetch_devkit(config: dict | None = None) -> dict[str, Path]:
    """The real devkit files (cache -> ``$COOKBOOK_DATA_MIRROR`` -> pinned download)."""
    return {name: fetch(SPEC, name, config=config) for name in (META, TRAIN_ANNOS, TEST_ANNOS)}


def fetch_sample_images(config: dict | None = None) -> list[Path]:
    """The three real sample crops (224x224 JPEGs)."""
    return [fetch(SPEC, name, config=config) for name in SAMPLE_IMAGES]


def real(images_dir: str | Path | None, config: dict | None = None) -> CarsData:
    """The real devkit plus the user's image folder (``cars_train/``, optionally ``cars_test/``)."""
    if not images_dir:
        raise DatasetFormatError(
            "the Stanford Cars images are not downloadable automatically; set REAL_IMAGES_DIR "
            "to the folder holding cars_train/.\n" + SPEC.manual_instructions
        )
    root = Path(images_dir).expanduser()
    train_dir = root / "cars_train"
    if not train_dir.is_dir():
        raise FileNotFoundError(f"{root}: no cars_train/ folder inside; expected the JPEGs there")
    devkit = fetch_devkit(config)
    labelled = root / TEST_ANNOS_LABELLED
    return CarsData(
        meta=devkit[META],
        train_annos=devkit[TRAIN_ANNOS],
        test_annos=labelled if labelled.is_file() else None,
        train_dir=train_dir,
        test_dir=root / "cars_test" if labelled.is_file() else None,
    )


# ----------------------------------------------------------------------------- synthetic cars

# Body styles: silhouette parameters in units of the body length. ``cabin``: roof start, roof
# end, front pillar run, rear pillar run (fractions of the length); ``roof``: cabin height;
# ``body``: lower-body height; ``wheels``: centre positions; ``r``: wheel radius; ``bed``: an
# open bed behind the cabin (pickup); ``box``: one tall box instead of body + cabin (van).


def _style(body, roof, cabin, wheels, r, **extra) -> dict:
    return dict(body=body, roof=roof, cabin=cabin, wheels=wheels, r=r, **extra)


# fmt: off
BODY_STYLES = {
    "Sedan": _style(0.22, 0.17, (0.33, 0.66, 0.10, 0.12), (0.18, 0.80), 0.085),
    "Coupe": _style(0.20, 0.14, (0.36, 0.60, 0.13, 0.17), (0.19, 0.80), 0.085),
    "Hatchback": _style(0.25, 0.19, (0.30, 0.84, 0.12, 0.05), (0.17, 0.83), 0.08),
    "SUV": _style(0.30, 0.21, (0.28, 0.90, 0.07, 0.02), (0.18, 0.80), 0.11),
    "Pickup": _style(0.28, 0.21, (0.30, 0.52, 0.06, 0.0), (0.17, 0.78), 0.105, bed=True),
    "Van": _style(0.55, 0.0, (0.18, 0.98, 0.16, 0.0), (0.18, 0.82), 0.085, box=True),
    "Wagon": _style(0.23, 0.17, (0.30, 0.94, 0.10, 0.02), (0.17, 0.81), 0.085),
    "Convertible": _style(0.20, 0.07, (0.38, 0.50, 0.06, 0.06), (0.19, 0.80), 0.085),
    "Minivan": _style(0.30, 0.23, (0.22, 0.94, 0.18, 0.04), (0.16, 0.84), 0.085),
    "Roadster": _style(0.16, 0.10, (0.45, 0.66, 0.12, 0.15), (0.20, 0.78), 0.075),
    "Limousine": _style(0.15, 0.11, (0.26, 0.76, 0.06, 0.07), (0.12, 0.88), 0.06),
    "Microcar": _style(0.34, 0.27, (0.18, 0.85, 0.12, 0.08), (0.20, 0.80), 0.12),
}
# fmt: on
MAKES = ("Synthmotors", "Pixelwerk", "Rendura", "Vectra")
PAINTS = (  # every style is drawn in every colour: colour says nothing about the class
    (200, 30, 30), (30, 60, 170), (235, 235, 235), (25, 25, 25), (120, 120, 130), (20, 120, 60),
    (230, 190, 40), (140, 20, 60), (90, 150, 210), (230, 120, 30),
)  # fmt: skip


def class_names_for(n_classes: int) -> list[str]:
    styles = list(BODY_STYLES)
    if not 2 <= n_classes <= len(styles):
        raise ValueError(f"n_classes must be between 2 and {len(styles)}, got {n_classes}")
    return [f"{MAKES[i % len(MAKES)]} {s} {2009 + i}" for i, s in enumerate(styles[:n_classes])]


def _car_outline(style: dict, rng) -> tuple[list, list, list]:
    """Body polygon, window polygon and wheel centres in car units (x: 0..1, y up from 0)."""
    j = lambda v, s=0.06: v * (1 + rng.uniform(-s, s))  # noqa: E731  (per-image jitter)
    r = j(style["r"])
    clear = r * 0.55
    body_top = clear + j(style["body"])
    c0, c1, run_f, run_r = (j(v, 0.04) for v in style["cabin"])
    roof = body_top + j(style["roof"]) if not style.get("box") else body_top
    nose = j(0.05)
    if style.get("box"):
        body = [
            (0, clear),
            (1, clear),
            (1, roof),
            (c0 + run_f, roof),
            (c0, roof * 0.55),
            (0, roof * 0.5),
        ]
        pane = c0 + run_f + 0.2
        window = [
            (c0 + 0.02, roof * 0.58),
            (c0 + run_f, roof * 0.93),
            (pane, roof * 0.93),
            (pane, roof * 0.58),
        ]
    else:
        body = [(0, clear), (1, clear), (1, body_top - nose), (1 - nose, body_top)]
        if style.get("bed"):
            body += [
                (c1, body_top),
                (c1, roof),
                (c1 - run_r - 0.01, roof),
                (c0 + run_f, roof),
                (c0, body_top),
            ]
        else:
            body += [(c1 + run_r, body_top), (c1, roof), (c0 + run_f, roof), (c0, body_top)]
        body += [(nose, body_top), (0, body_top - nose * 1.5)]
        inset = 0.012
        window = [
            (c0 + 0.02, body_top + inset), (c0 + run_f, roof - inset),
            (c1 - (0.02 if style.get("bed") else 0), roof - inset),
            (c1 + (0 if style.get("bed") else run_r) - 0.02, body_top + inset),
        ]  # fmt: skip
    wheels = [(j(x, 0.03), r) for x in style["wheels"]]
    return body, window, wheels


def render_car(style: dict, rng, size: tuple[int, int]):
    """One image (PIL, RGB) of a car of ``style``; returns (image, bbox 1-based inclusive)."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = size
    top, bottom = np.array(rng.integers(90, 250, 3)), np.array(rng.integers(40, 200, 3))
    grad = np.linspace(0, 1, h)[:, None, None]
    bg = (top * (1 - grad) + bottom * grad) + rng.normal(0, 8, (h, 1, 3))
    img = Image.fromarray(np.broadcast_to(bg, (h, w, 3)).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    horizon = int(h * rng.uniform(0.55, 0.85))
    draw.rectangle([0, horizon, w, h], fill=tuple(int(v) for v in rng.integers(60, 160, 3)))

    body, window, wheels = _car_outline(style, rng)
    length = w * rng.uniform(0.55, 0.85)
    x0 = rng.uniform(0.03 * w, w - length - 0.03 * w)
    ground = min(h - 2, horizon + rng.uniform(0.0, 0.12) * h)
    flip = rng.random() < 0.5

    def px(x, y):
        x = 1 - x if flip else x
        return (x0 + x * length, ground - y * length)

    paint = np.array(PAINTS[rng.integers(len(PAINTS))]) + rng.normal(0, 12, 3)
    paint = tuple(int(v) for v in paint.clip(0, 255))
    draw.polygon([px(x, y) for x, y in body], fill=paint, outline=(20, 20, 20))
    glass = tuple(int(v) for v in rng.integers(60, 140, 3) * np.array([0.8, 0.9, 1.0]))
    draw.polygon([px(x, y) for x, y in window], fill=glass)
    for x, r in wheels:
        cx, cy = px(x, r)
        rr = r * length
        draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=(25, 25, 25))
        draw.ellipse(
            [cx - rr * 0.5, cy - rr * 0.5, cx + rr * 0.5, cy + rr * 0.5], fill=(170, 170, 175)
        )
    lamp_y = body[2][1] if not style.get("box") else body[2][1] * 0.4
    for x, colour in ((0.985, (255, 240, 190)), (0.01, (200, 20, 20))):
        cx, cy = px(x, lamp_y - 0.035)
        s = 0.012 * length
        draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.7)))

    xs = [px(x, y)[0] for x, y in body]
    ys = [px(x, y)[1] for x, y in body] + [ground]
    pad = rng.uniform(0.0, 0.04) * length
    x1, x2 = max(1, int(min(xs) - pad) + 1), min(w, int(max(xs) + pad) + 1)
    y1, y2 = max(1, int(min(ys) - pad) + 1), min(h, int(max(ys) + pad) + 1)
    return img, (x1, y1, x2, y2)


def generate(
    folder: str | Path,
    n_classes: int = 8,
    train_per_class: int = 300,
    test_per_class: int = 100,
    seed: int = 7,
) -> Path:
    """Render a Stanford-Cars-format dataset into ``folder``; returns ``folder``.

    Layout: ``devkit/{cars_meta,cars_train_annos,cars_test_annos}.mat``,
    ``cars_test_annos_withlabels.mat``, ``cars_train/*.jpg``, ``cars_test/*.jpg``. Images are
    160-320 px wide; classes are the first ``n_classes`` of :data:`BODY_STYLES`.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    names = class_names_for(n_classes)
    styles = [BODY_STYLES[n.split()[1]] for n in names]
    (folder / "devkit").mkdir(parents=True, exist_ok=True)
    save_class_names(folder / "devkit" / META, names)
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = rng.permutation(np.repeat(np.arange(1, n_classes + 1), per_class))
        out = folder / f"cars_{split}"
        out.mkdir(exist_ok=True)
        rows = []
        for i, label in enumerate(labels, start=1):
            w = int(rng.integers(160, 320))
            size = (w, int(w * rng.uniform(0.55, 0.8)))
            img, bbox = render_car(styles[label - 1], rng, size)
            fname = f"{i:05d}.jpg"
            with atomic_path(out / fname) as tmp:
                img.save(tmp, format="JPEG", quality=int(rng.integers(80, 95)))
            rows.append((*bbox, int(label), fname))
        annos = pd.DataFrame(rows, columns=[*BBOX_FIELDS, "class", "fname"])
        if split == "train":
            save_annotations(folder / "devkit" / TRAIN_ANNOS, annos)
        else:
            save_annotations(folder / "devkit" / TEST_ANNOS, annos.drop(columns="class"))
            save_annotations(folder / TEST_ANNOS_LABELLED, annos)
    return folder


def prepare(
    source: str = "synthetic",
    n_classes: int = 8,
    train_per_class: int = 300,
    test_per_class: int = 100,
    seed: int = 7,
    images_dir: str | Path | None = None,
    config: dict | None = None,
) -> CarsData:
    """The dataset's parts for ``"synthetic"`` (rendered once, cached) or ``"real"``."""
    if source == "real":
        return real(images_dir, config)
    check_source(source)
    params = {
        "n_classes": n_classes,
        "seed": seed,
        "test_per_class": test_per_class,
        "train_per_class": train_per_class,
    }
    folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
    return CarsData(
        meta=folder / "devkit" / META,
        train_annos=folder / "devkit" / TRAIN_ANNOS,
        test_annos=folder / TEST_ANNOS_LABELLED,
        train_dir=folder / "cars_train",
        test_dir=folder / "cars_test",
    )
