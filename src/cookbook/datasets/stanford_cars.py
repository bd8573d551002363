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

:func:`generate` renders side views of fine-grained car models: a few models of each body style
(sedan, hatchback, SUV, pickup) that share their style's silhouette and differ in details, as
real model lines do (light shapes, wheels, window line, trim, stance; see :data:`MODELS`), while
paint, scale, position, mirroring, background, lighting and blur vary at random within every
class. It writes JPEGs and the devkit files in the real format (``scipy.io.savemat``), so one
loader reads both. :func:`prepare` returns a :class:`CarFiles` for either source.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError
from cookbook.io import atomic_path

NAME = "stanford_cars"
GENERATOR_VERSION = 2
# The generator's parameters and their defaults (read-only), for generate() and prepare().
DEFAULTS = MappingProxyType(
    {"n_classes": 12, "train_per_class": 300, "test_per_class": 100, "seed": 7}
)
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
    with open(path, "rb") as fh:
        head = fh.read(520)
    if head.startswith(b"MATLAB 7.3") or head[512:520] == b"\x89HDF\r\n\x1a\n":
        raise DatasetFormatError(
            f"{path}: a MATLAB v7.3 (HDF5-based) MAT-file, which scipy.io.loadmat cannot read; "
            "expected the devkit's v5 format: re-save it in MATLAB with save(file, '-v7') "
            "(or read it with h5py)"
        )
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True)
    except (
        ValueError,
        TypeError,
        OSError,
        EOFError,
        KeyError,
        IndexError,
        NotImplementedError,
        zlib.error,
        scipy.io.matlab.MatReadError,
    ) as exc:
        raise DatasetFormatError(
            f"{path}: not a readable MATLAB .mat file ({type(exc).__name__}: {exc}); expected "
            "a MATLAB v5 MAT-file as in the devkit (truncated or corrupt? fetch it again)"
        ) from exc
    if key not in mat:
        keys = [k for k in mat if not k.startswith("__")]
        raise DatasetFormatError(f"{path}: no variable {key!r} (it holds {', '.join(keys)})")
    return mat[key]


def load_class_names(path: str | Path) -> list[str]:
    """``class_names`` from ``cars_meta.mat``; class ``k`` (1-based) is ``names[k - 1]``.

    Raises :class:`DatasetFormatError` naming the file when the names are not text, empty or
    repeated.
    """
    names = np.atleast_1d(_loadmat(path, "class_names"))
    for k, name in enumerate(names, start=1):
        if not isinstance(name, str) or not name.strip():
            raise DatasetFormatError(
                f"{path}: class_names entry {k} is {str(name)[:40]!r} "
                f"({type(name).__name__}); expected a cell array of non-empty strings"
            )
    out = [str(n) for n in names]
    seen: dict[str, int] = {}
    for k, name in enumerate(out, start=1):
        if name in seen:
            raise DatasetFormatError(
                f"{path}: class name {name!r} appears twice (classes {seen[name]} and {k}); "
                "expected one name per class"
            )
        seen[name] = k
    return out


def _find_meta(path: Path) -> Path | None:
    """The ``cars_meta.mat`` that goes with an annotation file: beside it or in ``devkit/``."""
    for candidate in (path.with_name(META), path.parent / "devkit" / META):
        if candidate.is_file():
            return candidate
    return None


def _whole_numbers(values: list, field: str, fnames: list, path: Path) -> np.ndarray:
    try:
        fast = np.asarray(values)
    except ValueError:  # ragged: some entries are arrays of another length
        fast = np.empty(0)
    if fast.ndim == 1 and len(fast) == len(values) and fast.dtype.kind in "iu":
        return fast.astype(np.int64)
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        a = np.asarray(v)
        ok = a.size == 1 and (
            np.issubdtype(a.dtype, np.integer)
            or (np.issubdtype(a.dtype, np.floating) and np.isfinite(a) and a == np.round(a))
        )
        if not ok:
            raise DatasetFormatError(
                f"{path}: annotation {i + 1} ({fnames[i]!r}): {field} is {str(v)[:40]!r}; "
                "expected one whole number"
            )
        out[i] = int(a.reshape(-1)[0])
    return out


def load_annotations(
    path: str | Path,
    n_classes: int | None = None,
    images_dir: str | Path | None = None,
) -> pd.DataFrame:
    """``annotations`` from a ``cars_*_annos*.mat``: bboxes (1-based), ``class`` if present, fname.

    Raises :class:`DatasetFormatError` naming the file, the annotation and what was expected
    for: a missing field; a bbox or class that is not one whole number; an ``fname`` that is not
    a plain file name (it is joined onto the image folder: ``/``, ``\\``, ``..`` and names
    starting with ``.`` are refused) or appears twice; a bbox that is not inside the image
    (x1, y1 >= 1) or has no area (x1 < x2, y1 < y2); a class outside ``1..n_classes``.
    ``n_classes`` defaults to the number of names in the ``cars_meta.mat`` beside the file (or
    in a ``devkit/`` folder beside it), else only ``class >= 1`` is checked. With
    ``images_dir``, every image must exist there and hold its bbox (x2 <= width, y2 <= height;
    only the image headers are read).
    """
    path = Path(path)
    annos = np.atleast_1d(_loadmat(path, "annotations"))
    fields = annos.dtype.names or ()
    missing = [f for f in (*BBOX_FIELDS, "fname") if f not in fields]
    if missing:
        raise DatasetFormatError(
            f"{path}: annotations lack field(s) {', '.join(missing)}; expected "
            f"{', '.join(BBOX_FIELDS)}, class (optional), fname (has {', '.join(fields)})"
        )
    fnames = [rec["fname"] for rec in annos]
    for i, name in enumerate(fnames):
        plain = (
            isinstance(name, str)
            and name.strip() == name
            and name not in ("", ".", "..")
            and not name.startswith(".")
            and not any(c in name for c in "/\\\x00")
        )
        if not plain:
            raise DatasetFormatError(
                f"{path}: annotation {i + 1} has fname {str(name)[:60]!r}; expected a plain "
                "image file name like 00001.jpg (no '/', '\\' or '..': it is joined onto the "
                "image folder)"
            )
    df = pd.DataFrame({"fname": fnames})
    dup = df["fname"].duplicated()
    if dup.any():
        name = df.loc[dup, "fname"].iloc[0]
        rows = (np.flatnonzero(df["fname"].to_numpy() == name) + 1).tolist()
        raise DatasetFormatError(
            f"{path}: fname {name!r} is annotated more than once (annotations {rows}); "
            "expected one annotation per image"
        )
    numeric = [*BBOX_FIELDS, *(["class"] if "class" in fields else [])]
    for col in fields:
        if col in numeric:
            df[col] = _whole_numbers([rec[col] for rec in annos], col, fnames, path)
        elif col != "fname":
            df[col] = [rec[col] for rec in annos]
    df = df[list(fields)]
    x1, y1, x2, y2 = (df[c].to_numpy() for c in BBOX_FIELDS)
    outside = (x1 < 1) | (y1 < 1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise DatasetFormatError(
            f"{path}: bounding box ({x1[i]}, {y1[i]}, {x2[i]}, {y2[i]}) of {fnames[i]} starts "
            "outside the image; expected 1-based pixel corners (x1, y1 >= 1)"
        )
    bad = (x2 <= x1) | (y2 <= y1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatasetFormatError(
            f"{path}: bounding box with no area for {fnames[i]} ({x1[i]}, {y1[i]}, {x2[i]}, "
            f"{y2[i]}; {int(bad.sum())} such box(es)) (expected x1 < x2 and y1 < y2)"
        )
    if "class" in df.columns:
        source = "given"
        if n_classes is None:
            meta = _find_meta(path)
            if meta is not None:
                n_classes, source = len(load_class_names(meta)), f"the class names in {meta}"
        top = n_classes if n_classes is not None else np.iinfo(np.int64).max
        cls = df["class"].to_numpy()
        wrong = (cls < 1) | (cls > top)
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            expected = f"1..{n_classes} ({source})" if n_classes is not None else "1 or more"
            raise DatasetFormatError(
                f"{path}: annotation {i + 1} ({fnames[i]}) has class {cls[i]}; expected "
                f"{expected} ({int(wrong.sum())} such annotation(s))"
            )
    if images_dir is not None:
        check_images(df, images_dir, label=str(path))
    return df


def check_images(annos: pd.DataFrame, images_dir: str | Path, label: str = "annotations"):
    """Check that every annotated image exists in ``images_dir`` and holds its bounding box.

    Reads only the image headers (PIL opens lazily). Raises :class:`DatasetFormatError` naming
    the image and its box, or the file that is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    folder = Path(images_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    for row in annos.itertuples(index=False):
        image = folder / row.fname
        if not image.is_file():
            raise DatasetFormatError(f"{label}: image {row.fname} is not in {folder}")
        try:
            with Image.open(image) as img:
                width, height = img.size
        except (UnidentifiedImageError, OSError) as exc:
            raise DatasetFormatError(f"{image}: not a readable image: {exc}") from exc
        if row.bbox_x2 > width or row.bbox_y2 > height:
            raise DatasetFormatError(
                f"{label}: bounding box ({row.bbox_x1}, {row.bbox_y1}, {row.bbox_x2}, "
                f"{row.bbox_y2}) of {row.fname} extends past the image ({width}x{height}); "
                "expected x2 <= width and y2 <= height"
            )


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
class CarFiles:
    """What :func:`prepare` returns: where the dataset's parts are.

    - ``meta``: ``cars_meta.mat`` (read it with :func:`load_class_names`);
    - ``train_annos``: ``cars_train_annos.mat``, labelled (:func:`load_annotations`);
    - ``test_annos``: the test annotations *with* labels (``cars_test_annos_withlabels.mat``);
      None when the real images come without them: then split the labelled train set;
    - ``train_dir``: the folder of training JPEGs (``cars_train/``);
    - ``test_dir``: the folder of test JPEGs (``cars_test/``); None with ``test_annos``;
    - ``source``: ``"synthetic"`` or ``"real"``.
    """

    meta: Path
    train_annos: Path
    test_annos: Path | None
    train_dir: Path
    test_dir: Path | None
    source: str


# ----------------------------------------------------------------------------- real data


def fetch_devkit(config: dict | None = None) -> dict[str, Path]:
    """The real devkit files (cache -> ``$COOKBOOK_DATA_MIRROR`` -> pinned download)."""
    return {name: fetch(SPEC, name, config=config) for name in (META, TRAIN_ANNOS, TEST_ANNOS)}


def fetch_sample_images(config: dict | None = None) -> list[Path]:
    """The three real sample crops (224x224 JPEGs)."""
    return [fetch(SPEC, name, config=config) for name in SAMPLE_IMAGES]


def real(images_dir: str | Path | None, config: dict | None = None) -> CarFiles:
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
    return CarFiles(
        meta=devkit[META],
        train_annos=devkit[TRAIN_ANNOS],
        test_annos=labelled if labelled.is_file() else None,
        train_dir=train_dir,
        test_dir=root / "cars_test" if labelled.is_file() else None,
        source="real",
    )


# ----------------------------------------------------------------------------- synthetic cars

# A car is drawn from the side in car units: x runs from the rear bumper (0) to the front
# bumper (1), y up from the ground, both in units of the body length. A body style is a
# silhouette family (proportions); the models of one style share it and differ in the details
# that tell real model lines apart (see MODELS). Every image varies at random, whatever the
# model: paint, size, position, mirroring, background, lighting, a slight perspective and tilt,
# blur, JPEG quality, a two-tone roof now and then, a car cut by the image border now and then.


def _style(sill, belt, roof, cabin, wheels, r, deck) -> dict:
    """A body style (heights above the ground, x positions, all in body lengths).

    ``sill``: bottom of the body; ``belt``: bottom of the side windows; ``roof``: top of the
    cabin; ``cabin``: the greenhouse's x corners (rear base, rear roof end, front roof end,
    windscreen base); ``wheels``: axle positions; ``r``: wheel radius; ``deck``: height of the
    boot lid / load-bed rim below the belt line (0: level with it).
    """
    return dict(sill=sill, belt=belt, roof=roof, cabin=cabin, wheels=wheels, r=r, deck=deck)


# fmt: off
BODY_STYLES = {
    "Sedan": _style(0.045, 0.215, 0.310, (0.24, 0.37, 0.60, 0.73), (0.18, 0.80), 0.075, 0.008),
    "Hatchback": _style(0.050, 0.245, 0.365, (0.05, 0.12, 0.58, 0.72), (0.15, 0.83), 0.085, 0.0),
    "SUV": _style(0.075, 0.300, 0.430, (0.03, 0.06, 0.61, 0.73), (0.17, 0.81), 0.100, 0.0),
    "Pickup": _style(0.075, 0.300, 0.440, (0.39, 0.40, 0.58, 0.68), (0.16, 0.80), 0.100, -0.006),
}
# fmt: on

# What a model may change (the defaults): ``doors`` 2 or 4 (seams and handles); ``windows``
# side windows 1 (no B-pillar), 2 or 3 (a quarter window); ``roof_k`` cabin height factor;
# ``fastback`` rear-screen slope (moves the rear roof end forward); ``cab`` moves the cabin's
# rear end (a pickup's cab length); ``ride`` ground-clearance factor; ``r_k`` wheel-size factor;
# ``rim`` disc / spoke5 / spoke10 / steel / mesh, ``rim_k`` rim share of the wheel, ``rim_tone``
# silver / dark; ``head`` headlight round / rect / slim / tall; ``tail`` tail light bar / tall
# / round / block / wrap; ``grille`` chrome / black; ``nose`` sloped / blunt; ``mirror`` small /
# normal / large; ``spoiler`` None / lip / wing / roof; ``trim`` None / chrome (belt line) /
# stripe (rubbing strip) / cladding (dark sills and arches); ``arch`` round / square; ``rails``
# roof rails; ``spare`` a spare wheel on the tailgate; ``rollbar`` a bar behind a pickup's cab;
# ``option`` the wheels of another trim level, fitted to some cars of the model.
_DETAILS = MappingProxyType(
    dict(
        doors=4,
        windows=2,
        roof_k=1.0,
        fastback=0.0,
        cab=0.0,
        ride=1.0,
        r_k=1.0,
        rim="spoke5",
        rim_k=0.62,
        rim_tone="silver",
        head="rect",
        tail="bar",
        grille="chrome",
        nose="sloped",
        mirror="normal",
        spoiler=None,
        trim=None,
        arch="round",
        rails=False,
        spare=False,
        rollbar=False,
        option=None,
    )  # fmt: skip
)


def _model(name: str, **details) -> tuple[str, dict]:
    unknown = set(details) - set(_DETAILS)
    if unknown:
        raise ValueError(f"{name}: unknown detail(s) {sorted(unknown)}")
    return name, details


# Models per body style, "Make Model Style Year" as in Stanford Cars ("BMW X5 SUV 2007"). Each
# differs from its siblings in a handful of details (light shapes, wheels, window line, trim,
# stance); ``option`` is the rim of a higher or lower trim level, fitted to some of its cars.
# fmt: off
MODELS = {
    "Sedan": dict([
        _model("Synthmotors Arcadia Sedan 2012", windows=3, rim="spoke10", rim_k=0.64,
               trim="chrome", option=("spoke5", 0.62)),
        _model("Pixelwerk P5 Sedan 2011", rim_k=0.68, head="slim", tail="wrap", spoiler="lip",
               ride=0.9, option=("spoke10", 0.64)),
        _model("Rendura Lumen Sedan 2009", rim="disc", rim_k=0.58, head="round", tail="block",
               roof_k=1.05, option=("spoke5", 0.62)),
        _model("Vectra Sigma Sedan 2010", doors=2, windows=1, head="slim", tail="round",
               fastback=0.03, option=("disc", 0.58)),
    ]),
    "Hatchback": dict([
        _model("Synthmotors Pico Hatchback 2010", doors=2, rim="steel", rim_k=0.6,
               head="round", tail="tall", option=("disc", 0.58)),
        _model("Pixelwerk P1 Hatchback 2012", windows=3, rim_k=0.66, head="slim", tail="wrap",
               spoiler="roof", option=("spoke10", 0.64)),
        _model("Rendura Brisa Hatchback 2011", rim="disc", rim_k=0.58, tail="block", ride=1.08,
               trim="stripe", option=("steel", 0.6)),
        _model("Vectra Nano Hatchback 2012", doors=2, windows=1, rim="mesh", head="round",
               tail="round", roof_k=1.05, option=("steel", 0.6)),
    ]),
    "SUV": dict([
        _model("Synthmotors Tundrix SUV 2012", windows=3, rails=True, rim="spoke10",
               tail="tall", trim="cladding", option=("spoke5", 0.62)),
        _model("Pixelwerk PX7 SUV 2011", fastback=0.06, rim_k=0.68, head="slim",
               trim="cladding", option=("spoke10", 0.64)),
        _model("Rendura Sierrano SUV 2009", windows=3, rails=True, rim="steel", rim_k=0.6,
               head="round", tail="block", nose="blunt", option=("spoke5", 0.62)),
        _model("Vectra Boreal SUV 2010", rails=True, spare=True, rim="disc", rim_k=0.58,
               tail="wrap", trim="chrome", option=("spoke10", 0.64)),
    ]),
    "Pickup": dict([
        _model("Synthmotors Hauler Pickup 2011", doors=2, windows=1, cab=0.04, rim="steel",
               rim_k=0.6, tail="tall", option=("spoke5", 0.62)),
        _model("Pixelwerk PX Crew Pickup 2012", cab=-0.05, head="slim", tail="tall",
               option=("spoke10", 0.64)),
        _model("Rendura Cordillo Pickup 2010", doors=2, cab=-0.01, rim="spoke10", rim_k=0.64,
               head="round", tail="block", option=("steel", 0.6)),
        _model("Vectra Tarrak Pickup 2012", cab=-0.05, ride=1.12, rim="mesh", rollbar=True,
               trim="cladding", option=("spoke5", 0.62)),
    ]),
}
# fmt: on
MAKES = ("Synthmotors", "Pixelwerk", "Rendura", "Vectra")
PAINTS = (  # every model is drawn in every colour: colour says nothing about the class
    (200, 30, 30), (30, 60, 170), (235, 235, 235), (25, 25, 25), (120, 120, 130), (20, 120, 60),
    (230, 190, 40), (140, 20, 60), (90, 150, 210), (230, 120, 30),
)  # fmt: skip
JITTER = 0.06  # per-image spread of the proportions (relative), within every model
OPTION_SHARE = 0.25  # share of a model's cars fitted with its optional wheels
FACING_LEFT = 0.7  # share of cars seen from their left side (facing left), as in most photos


def models_per_style(n_classes: int) -> list[int]:
    """How many models of each body style ``n_classes`` classes take (styles in order).

    Every style used has at least two models, so that every class has a sibling of the same
    silhouette: 2 classes -> one style x 2, 4 -> 2 x 2, 6 -> 3 x 2, 8 -> 4 x 2, 12 -> 4 x 3,
    16 -> 4 x 4; odd counts give one style an extra model (5 -> 3 + 2, 9 -> 3 + 2 + 2 + 2).
    """
    top = sum(len(m) for m in MODELS.values())
    if not 2 <= n_classes <= top:
        raise ValueError(f"n_classes must be between 2 and {top}, got {n_classes}")
    n_styles = min(len(MODELS), n_classes // 2)
    return [n_classes // n_styles + (i < n_classes % n_styles) for i in range(n_styles)]


def class_names_for(n_classes: int) -> list[str]:
    """The first ``n_classes`` classes: models grouped by body style (see models_per_style)."""
    counts = models_per_style(n_classes)
    return [
        name
        for k, models in zip(counts, MODELS.values(), strict=False)
        for name in list(models)[:k]
    ]


def car_model(name: str) -> dict:
    """A model's full description (its style's proportions and its details) for render_car."""
    for style, models in MODELS.items():
        if name in models:
            return {"name": name, "style": style, **BODY_STYLES[style], **_DETAILS, **models[name]}
    raise KeyError(f"no synthetic car model {name!r}")


def _scene(rng, size: tuple[int, int]) -> dict:
    """Every random choice for one image, drawn in a fixed order whatever the model: two models
    rendered from the same seed differ in their details only."""
    w, h = size
    s = {"size": size}
    s["sky"] = rng.integers(90, 250, 3), rng.integers(40, 200, 3), rng.normal(0, 8, (h, 1, 3))
    s["horizon"] = rng.uniform(0.5, 0.8)
    s["ground_rgb"] = rng.integers(60, 160, 3)
    s["clutter"] = rng.uniform(0, 1, (5, 4)), rng.integers(40, 220, (5, 3)), rng.random(5) < 0.6
    s["length"] = rng.uniform(0.55, 0.85)
    s["x0"], s["ground"] = rng.uniform(0, 1), rng.uniform(0, 0.12)
    s["cut"] = rng.uniform(0.04, 0.2) * (rng.random() < 0.12) * rng.choice([-1, 1])
    s["flip"] = rng.random() < FACING_LEFT
    paint = np.array(PAINTS[rng.integers(len(PAINTS))]) + rng.normal(0, 12, 3)
    s["paint"] = tuple(int(v) for v in paint.clip(0, 255))
    s["roof_rgb"] = (25, 25, 25) if rng.random() < 0.5 else (235, 235, 235)
    s["two_tone"] = rng.random() < 0.12
    s["glass"] = tuple(int(v) for v in rng.integers(45, 130, 3) * np.array([0.8, 0.9, 1.0]))
    s["jitter"] = rng.uniform(-1, 1, 12)
    s["option"] = rng.random() < OPTION_SHARE
    s["wheel_turn"] = rng.uniform(0, 2 * np.pi, 2)
    s["yaw"], s["tilt"] = rng.uniform(-0.12, 0.12), rng.uniform(-3, 3)
    s["light"] = rng.uniform(0.55, 1.25), rng.uniform(0, 0.45), rng.uniform(0.15, 0.6)
    s["blur"], s["grain"] = rng.uniform(0.0, 1.1), (rng.uniform(0, 6), int(rng.integers(2**31)))
    s["pad"] = rng.uniform(0, 1, 4)
    s["haze"] = rng.uniform(0, 0.4)
    return s


def _car_outline(car: dict, jitter) -> dict:
    """The car's parts in car units (see the module's section note), with per-image jitter."""
    j = lambda k, v: v * (1 + JITTER * jitter[k])  # noqa: E731
    r = j(0, car["r"] * car["r_k"])
    sill = j(1, car["sill"] * car["ride"])
    belt = j(2, car["belt"]) + sill - car["sill"]
    roof = belt + j(3, (car["roof"] - car["belt"]) * car["roof_k"])
    deck = belt - car["deck"]
    rb, rr, fr, fb = (v + 0.25 * JITTER * jitter[4 + i] for i, v in enumerate(car["cabin"]))
    rb, rr = rb + car["cab"] - car["fastback"] / 2, rr + car["cab"] + car["fastback"]
    wheels = [x + 0.25 * JITTER * jitter[8 + i] for i, x in enumerate(car["wheels"])]
    blunt = car["nose"] == "blunt"
    nose_y = belt - (0.02 if blunt else 0.04)
    front = [(fb, belt), (0.96, belt - (0.006 if blunt else 0.03)), (0.995, nose_y)]
    front += [(1.0, nose_y - 0.01), (1.0, sill + 0.03), (0.985, sill)]
    arches = []  # wheel arches, front first: the outline runs backwards along the bottom
    for wx in sorted(wheels, reverse=True):
        big = r * 1.18
        if car["arch"] == "square":
            arches.append([(wx + big, sill), (wx + 0.8 * big, r + 0.8 * big),
                           (wx - 0.8 * big, r + 0.8 * big), (wx - big, sill)])  # fmt: skip
        else:
            t0 = np.arcsin(np.clip((sill - r) / big, -1, 1))
            arches.append([(wx + big * np.cos(t), r + big * np.sin(t))
                           for t in np.linspace(t0, np.pi - t0, 11)])  # fmt: skip
    bottom = [p for arch in arches for p in arch]
    rear = [(0.012, sill), (0.0, sill + 0.03), (0.0, deck - 0.03), (0.015, deck)]
    body = [*front, *bottom, *rear, (rb - 0.005, deck), (rb, belt), (rr, roof), (fr, roof)]
    return dict(r=r, sill=sill, belt=belt, roof=roof, deck=deck, cabin=(rb, rr, fr, fb),
                wheels=wheels, nose_y=nose_y, body=body, arches=arches)  # fmt: skip


def _quad(x1, y1, x2, y2) -> list:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def _draw_car(draw, car: dict, scene: dict, px, scale: float):
    """Draw the car onto ``draw``; ``px`` maps car units to pixels, ``scale`` is the length."""
    g = _car_outline(car, scene["jitter"])
    r, sill, belt, roof, deck = g["r"], g["sill"], g["belt"], g["roof"], g["deck"]
    rb, rr, fr, fb = g["cabin"]
    paint, dark, chrome = scene["paint"], (22, 22, 24), (205, 205, 210)

    def poly(points, fill, outline=None):
        draw.polygon([px(x, y) for x, y in points], fill=fill, outline=outline)

    def line(points, fill, width):
        draw.line([px(x, y) for x, y in points], fill=fill, width=max(1, round(width * scale)))

    def ellipse(cx, cy, rx, ry, fill):
        (ax, ay), (bx, by) = px(cx - rx, cy - ry), px(cx + rx, cy + ry)
        draw.ellipse([min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)], fill=fill)

    # shadow (half transparent: not part of the car's mask), wheel wells, body
    ellipse(0.5, 0.0, 0.56, 0.025, (0, 0, 0, 110))
    if car["spare"]:
        mid = (sill + belt) / 2 + 0.02
        poly(_quad(-0.045, mid - 0.075, 0.005, mid + 0.075), dark)
    for arch in g["arches"]:
        poly(arch, (12, 12, 12))
    poly(g["body"], paint, outline=dark)
    if car["trim"] == "cladding":
        poly(_quad(0.01, sill, 0.99, sill + 0.045), (45, 45, 48))
        for arch in g["arches"]:
            (ax, ay), (bx, by) = arch[0], arch[-1]
            mid = (ax + bx) / 2
            poly(
                [(mid + (x - mid) * 1.15, sill + (y - sill) * 1.15) for x, y in arch], (45, 45, 48)
            )
            poly(arch, (12, 12, 12))
    elif car["trim"] == "stripe":
        line([(0.03, belt - 0.065), (0.97, belt - 0.065)], (40, 40, 44), 0.012)
    if car["spoiler"] == "lip":
        poly([(0.01, deck), (0.065, deck), (0.01, deck + 0.02)], paint, outline=dark)
    elif car["spoiler"] == "wing":
        for x in (0.04, 0.11):
            line([(x, deck), (x, deck + 0.04)], dark, 0.008)
        poly([(0.0, deck + 0.036), (0.15, deck + 0.038), (0.15, deck + 0.05), (0.0, deck + 0.05)],
             dark)  # fmt: skip
    elif car["spoiler"] == "roof":
        poly([(rr + 0.06, roof), (rr - 0.035, roof + 0.006), (rr - 0.03, roof - 0.022),
              (rr + 0.02, roof - 0.012)], paint, outline=dark)  # fmt: skip
    if car["rails"]:
        line([(rr + 0.03, roof + 0.018), (fr - 0.05, roof + 0.018)], dark, 0.009)
        for x in (rr + 0.04, fr - 0.06):
            line([(x, roof), (x, roof + 0.018)], dark, 0.01)
    if car["rollbar"]:
        line([(rb - 0.015, deck), (rb - 0.04, roof - 0.025), (rb - 0.005, roof - 0.025)], dark,
             0.011)  # fmt: skip

    # greenhouse: glass, pillars, a two-tone roof
    inset = 0.013
    glass = [(rb + 0.02, belt + 0.008), (rr + inset, roof - inset), (fr - inset, roof - inset),
             (fb - 0.028, belt + 0.008)]  # fmt: skip
    poly(glass, scene["glass"])
    span = fb - rb
    pillars = []
    if car["windows"] >= 2:
        pillars.append((rb + span * (0.5 if car["doors"] == 4 else 0.3), 0.024))
    if car["windows"] >= 3:
        pillars.append((rb + span * 0.17, 0.014))
    for x, width in pillars:
        poly(_quad(x - width / 2, belt, x + width / 2, roof), paint)
    if scene["two_tone"]:
        poly([(rr, roof), (fr, roof), (fr - inset, roof - inset), (rr + inset, roof - inset)],
             scene["roof_rgb"])  # fmt: skip
    if car["trim"] == "chrome":
        line([(rb + 0.02, belt + 0.004), (fb - 0.02, belt + 0.004)], chrome, 0.007)

    # doors: seams and handles
    b_pillar = pillars[0][0] if pillars else rb + span * 0.3
    edges = [fb + 0.005, b_pillar] if car["doors"] == 2 else [fb + 0.005, b_pillar, rb + 0.02]
    if car["doors"] == 2 and car["windows"] >= 2:
        edges[1] -= 0.01
    for x in edges:
        line([(x, belt - 0.003), (x, sill + 0.02)], dark, 0.004)
    handle = chrome if car["trim"] == "chrome" else dark
    for x in edges[1:]:
        poly(_quad(x + 0.015, belt - 0.03, x + 0.045, belt - 0.022), handle)

    # mirror, lights, grille
    size = {"small": 0.75, "normal": 1.0, "large": 1.4}[car["mirror"]]
    m = 0.03 * size
    mirror = [(fb - 0.012, belt + 0.004), (fb - 0.012 - m, belt + 0.01)]
    mirror += [(fb - 0.014 - m, belt + 0.01 + m), (fb - 0.02, belt + 0.012 + m * 0.9)]
    poly(mirror, paint, outline=dark)
    ny, lamp = g["nose_y"], (240, 238, 215)
    grille = chrome if car["grille"] == "chrome" else dark
    poly(_quad(0.99, ny - 0.012, 1.0, sill + 0.035), grille)
    if car["head"] == "round":
        ellipse(0.975, ny - 0.022, 0.017, 0.017, lamp)
    elif car["head"] == "rect":
        poly(_quad(0.95, ny - 0.038, 0.993, ny - 0.012), lamp)
    elif car["head"] == "slim":
        poly([(0.997, ny - 0.018), (0.997, ny - 0.005), (0.89, ny + 0.012), (0.895, ny)], lamp)
    else:  # tall
        poly(_quad(0.975, ny - 0.06, 0.995, ny - 0.008), lamp)
    red = (205, 25, 25)
    if car["tail"] == "bar":
        poly(_quad(0.0, deck - 0.028, 0.055, deck - 0.01), red)
    elif car["tail"] == "tall":
        poly(_quad(0.0, deck - 0.075, 0.018, deck - 0.006), red)
    elif car["tail"] == "round":
        for x in (0.013, 0.042):
            ellipse(x, deck - 0.022, 0.011, 0.011, red)
    elif car["tail"] == "block":
        poly(_quad(0.0, deck - 0.045, 0.035, deck - 0.008), red)
    else:  # wrap
        poly(_quad(0.0, deck - 0.022, 0.065, deck - 0.008), red)
        poly(_quad(0.0, deck - 0.055, 0.016, deck - 0.008), red)

    # wheels: tyre, rim of the model (or of its option), spokes turned at random
    rim, rim_k = (
        car["option"] if (scene["option"] and car["option"]) else (car["rim"], car["rim_k"])
    )
    metal = chrome if car["rim_tone"] == "silver" else (70, 70, 76)
    for wx, turn in zip(g["wheels"], scene["wheel_turn"], strict=True):
        ellipse(wx, r, r, r, dark)
        rr_ = r * rim_k
        if rim == "disc":
            ellipse(wx, r, rr_, rr_, metal)
            ellipse(wx, r, rr_ * 0.75, rr_ * 0.75, tuple(int(v * 0.8) for v in metal))
            ellipse(wx, r, rr_ * 0.2, rr_ * 0.2, metal)
        elif rim == "steel":
            ellipse(wx, r, rr_, rr_, (95, 95, 100))
            for a in turn + np.arange(6) * np.pi / 3:
                ellipse(wx + 0.6 * rr_ * np.cos(a), r + 0.6 * rr_ * np.sin(a), rr_ * 0.13,
                        rr_ * 0.13, (30, 30, 32))  # fmt: skip
            ellipse(wx, r, rr_ * 0.3, rr_ * 0.3, (150, 150, 155))
        elif rim == "mesh":
            ellipse(wx, r, rr_, rr_, metal)
            for k in (0.8, 0.55, 0.3):
                ellipse(wx, r, rr_ * k, rr_ * k, (50, 50, 55))
                ellipse(wx, r, rr_ * (k - 0.1), rr_ * (k - 0.1), metal)
        else:  # spoke5, spoke10
            ellipse(wx, r, rr_, rr_, (40, 40, 44))
            n, width = (5, 0.09) if rim == "spoke5" else (10, 0.045)
            for a in turn + np.arange(n) * 2 * np.pi / n:
                line([(wx, r), (wx + rr_ * np.cos(a), r + rr_ * np.sin(a))], metal, width * r)
            ring = max(1, round(0.1 * rr_ * scale))
            (ax, ay), (bx, by) = px(wx - rr_, r - rr_), px(wx + rr_, r + rr_)
            box = [min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)]
            draw.ellipse(box, outline=metal, width=ring)
            ellipse(wx, r, rr_ * 0.2, rr_ * 0.2, metal)


def _homography(points_from, points_to) -> np.ndarray:
    """The 3x3 projective map taking four points onto four others."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(points_from, points_to, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return np.append(np.linalg.solve(np.array(rows, float), np.array(rhs, float)), 1).reshape(3, 3)


def _render(car: dict, scene: dict):
    """(image, bbox 1-based inclusive, car mask) for a car model and a scene."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = scene["size"]
    top, bottom, noise = scene["sky"]
    grad = np.linspace(0, 1, h)[:, None, None]
    bg = np.broadcast_to(top * (1 - grad) + bottom * grad + noise, (h, w, 3))
    img = Image.fromarray(bg.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    horizon = h * scene["horizon"]
    boxes, colours, shown = scene["clutter"]
    for (bx, bw, bh, _), colour, on in zip(boxes, colours, shown, strict=True):
        if on:  # buildings, hedges, other things behind the road
            x = bx * w
            draw.rectangle([x, horizon - bh * 0.45 * h, x + (0.05 + 0.3 * bw) * w, horizon],
                           fill=tuple(int(v) for v in colour))  # fmt: skip
    draw.rectangle([0, horizon, w, h], fill=tuple(int(v) for v in scene["ground_rgb"]))

    # the car, drawn twice as large on a clear layer, then warped (perspective, tilt) down
    k = 2
    length = w * scene["length"]
    if scene["cut"]:  # partly outside the picture, as some real photos
        x0 = -scene["cut"] * length if scene["cut"] > 0 else w - length - scene["cut"] * length
    else:
        x0 = 0.03 * w + scene["x0"] * (0.94 * w - length)
    ground = min(h - 2, max(horizon + scene["ground"] * h, 0.55 * length + 3))

    def px(x, y):
        x = 1 - x if scene["flip"] else x
        return (k * (x0 + x * length), k * (ground - y * length))

    layer = Image.new("RGBA", (k * w, k * h), (0, 0, 0, 0))
    _draw_car(ImageDraw.Draw(layer), car, scene, px, k * length)
    cx, cy = x0 + 0.5 * length, ground - 0.15 * length
    corners = [(x0, cy - 0.2 * length), (x0 + length, cy - 0.2 * length),
               (x0 + length, cy + 0.2 * length), (x0, cy + 0.2 * length)]  # fmt: skip
    yaw, tilt = scene["yaw"], np.deg2rad(scene["tilt"])
    moved = []
    for i, (x, y) in enumerate(corners):
        s = 1 + (yaw if i in (1, 2) else -yaw)  # the nearer end looks taller
        dx, dy = x - cx, (y - cy) * s
        moved.append(
            (cx + dx * np.cos(tilt) - dy * np.sin(tilt), cy + dx * np.sin(tilt) + dy * np.cos(tilt))
        )
    # warp and composite within the car's neighbourhood only (the rest is background)
    left, right = max(0, int(x0 - 0.12 * length)), min(w, int(x0 + 1.12 * length) + 1)
    upper, lower = max(0, int(ground - 0.62 * length)), min(h, int(ground + 0.08 * length) + 1)
    shift = [(x - left, y - upper) for x, y in moved]
    inverse = _homography(shift, [(k * x, k * y) for x, y in corners])
    coefficients = (inverse / inverse[2, 2]).ravel()[:8]
    layer = layer.transform(
        (right - left, lower - upper),
        Image.Transform.PERSPECTIVE,
        coefficients,
        resample=Image.Resampling.BILINEAR,
    )

    rgba = np.asarray(layer, dtype=np.float32)
    alpha = rgba[..., 3:] / 255
    mask = np.zeros((h, w), dtype=bool)
    mask[upper:lower, left:right] = rgba[..., 3] >= 128
    ys, xs = np.nonzero(mask)
    gain, shade, high = scene["light"]
    rows = np.arange(upper, lower)[:, None, None]
    rows = np.clip((rows - ys.min()) / max(1, ys.max() - ys.min()), 0, 1)
    light = gain * (1 + shade * (0.5 - rows) + 0.25 * np.exp(-(((rows - high) / 0.06) ** 2)))
    out = np.array(img)
    under = out[upper:lower, left:right].astype(np.float32)
    out[upper:lower, left:right] = (under * (1 - alpha) + rgba[..., :3] * light * alpha).clip(
        0, 255
    )
    haze = scene["haze"]  # mist, glare, a dull sky: less contrast
    img = Image.fromarray((out * (1 - haze) + haze * top).astype(np.uint8))
    if scene["blur"] > 0.2:
        img = img.filter(ImageFilter.GaussianBlur(scene["blur"]))
    grain, grain_seed = scene["grain"]  # sensor noise
    noise = np.random.default_rng(grain_seed).standard_normal((h, w, 1), dtype=np.float32)
    img = Image.fromarray(
        (np.asarray(img, dtype=np.float32) + grain * noise).clip(0, 255).astype(np.uint8)
    )

    pad = scene["pad"] * np.array([0.1, 0.08, 0.1, 0.08]) * length
    x1, x2 = max(1, int(xs.min() + 1 - pad[0])), min(w, int(xs.max() + 1 + pad[2]))
    y1, y2 = max(1, int(ys.min() + 1 - pad[1])), min(h, int(ys.max() + 1 + pad[3]))
    return img, (x1, y1, x2, y2), mask


def render_car(car: dict, rng, size: tuple[int, int]):
    """One image (PIL, RGB) of a car (a :func:`car_model` dict); returns (image, bbox 1-based
    inclusive, the box holding every pixel of the car plus a small random margin)."""
    img, bbox, _ = _render(car, _scene(rng, size))
    return img, bbox


def generate(
    folder: str | Path,
    n_classes: int = DEFAULTS["n_classes"],
    train_per_class: int = DEFAULTS["train_per_class"],
    test_per_class: int = DEFAULTS["test_per_class"],
    seed: int = DEFAULTS["seed"],
) -> Path:
    """Render a Stanford-Cars-format dataset into ``folder``; returns ``folder``.

    Layout: ``devkit/{cars_meta,cars_train_annos,cars_test_annos}.mat``,
    ``cars_test_annos_withlabels.mat``, ``cars_train/*.jpg``, ``cars_test/*.jpg``. Images are
    160-320 px wide; classes are car models grouped by body style (:func:`class_names_for`).
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    names = class_names_for(n_classes)
    cars = [car_model(name) for name in names]
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
            img, bbox = render_car(cars[label - 1], rng, size)
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
    *,
    n_classes: int = DEFAULTS["n_classes"],
    train_per_class: int = DEFAULTS["train_per_class"],
    test_per_class: int = DEFAULTS["test_per_class"],
    seed: int = DEFAULTS["seed"],
    images_dir: str | Path | None = None,
    config: dict | None = None,
) -> CarFiles:
    """The dataset's parts for ``"synthetic"`` (rendered once per parameters, cached) or
    ``"real"`` (the devkit, fetched, and the images in ``images_dir``, see :func:`real`). The
    generator's parameters apply to ``"synthetic"`` only, ``images_dir`` to ``"real"`` only."""
    if check_source(source) == "real":
        return real(images_dir, config)
    params = {
        "n_classes": n_classes,
        "seed": seed,
        "test_per_class": test_per_class,
        "train_per_class": train_per_class,
    }
    folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
    return CarFiles(
        meta=folder / "devkit" / META,
        train_annos=folder / "devkit" / TRAIN_ANNOS,
        test_annos=folder / TEST_ANNOS_LABELLED,
        train_dir=folder / "cars_train",
        test_dir=folder / "cars_test",
        source=source,
    )
