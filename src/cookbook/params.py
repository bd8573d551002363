"""The schema of each notebook's ``parameters`` cell.

The notebook's ``parameters`` cell holds the defaults (papermill and readers change them there);
these models hold only the rules: types, ranges, choices, files that must exist, and how the
values must agree with one another. :func:`cookbook.chapter.start` checks every parameter
against them before the notebook deletes or writes anything, so a typo stops the run at once
with a message naming the parameter, the value and what was expected.

``smoke()`` gives the reductions ``SMOKE = True`` applies (fewer rows, epochs, sweeps); the
notebook prints them when it starts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Positive = Annotated[int, Field(gt=0)]
NonNegative = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Rate = Annotated[float, Field(gt=0, lt=1)]


def _existing(kind: str):
    """``""`` (not set) or a path that exists: a folder for ``"dir"``, a file for ``"file"``."""

    def check(path: str) -> str:
        if not path:
            return path
        p = Path(path).expanduser()
        if not p.exists():
            raise ValueError(f"{path!r} does not exist")
        if kind == "dir" and not p.is_dir():
            raise ValueError(f"{path!r} is not a folder")
        if kind == "file" and not p.is_file():
            raise ValueError(f"{path!r} is not a file")
        return path

    return AfterValidator(check)


def _iso_date(value: str) -> str:
    if value:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"expected an ISO date like 2017-12-31, or '', got {value!r}"
            ) from None
    return value


ExistingDir = Annotated[str, _existing("dir")]  # "" means not set
ExistingFile = Annotated[str, _existing("file")]
IsoDate = Annotated[str, AfterValidator(_iso_date)]  # "" means not set


class Params(BaseModel):
    """Parameters every chapter has."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    DATA_SOURCE: Literal["synthetic", "real"]
    SMOKE: bool
    OUTPUT_DIR: str
    SEED: NonNegative

    def smoke(self) -> dict[str, Any]:
        """The values ``SMOKE = True`` replaces (only those that differ)."""
        return {}

    def data_label(self) -> str:
        """What the run's results say the data was: the source, or "custom ..." for a path."""
        return self.DATA_SOURCE


class DtwBackground(Params):
    AUDIO_DIR: ExistingDir
    FASTDTW_RADIUS: Positive
    RADII: list[Positive] = Field(min_length=1)
    WINDOW: Fraction

    def data_label(self):
        return "custom folder" if self.AUDIO_DIR else self.DATA_SOURCE

    @model_validator(mode="after")
    def _radius_in_table(self):
        if self.FASTDTW_RADIUS not in self.RADII:
            raise ValueError(f"FASTDTW_RADIUS={self.FASTDTW_RADIUS} must be one of RADII")
        return self

    def smoke(self):
        return {"RADII": sorted({1, self.FASTDTW_RADIUS})}


class DtwSalesTrends(Params):
    WINDOW: Fraction
    STRETCH_FACTORS: list[Fraction] = Field(min_length=1)
    OUTLIER_Z: Annotated[float, Field(gt=0)]
    LEVEL_TOLERANCE: Annotated[float, Field(gt=0, le=1)]
    TIMING_PRODUCTS: Annotated[int, Field(ge=0, le=20_000_000)]

    @model_validator(mode="after")
    def _window_swept(self):
        if self.WINDOW not in self.STRETCH_FACTORS:
            raise ValueError(f"WINDOW={self.WINDOW} must be one of STRETCH_FACTORS")
        return self

    def smoke(self):
        return {"STRETCH_FACTORS": sorted({0.0, self.WINDOW, 0.5})}


class ProphetForecasting(Params):
    DATA_PATH: ExistingFile
    STORES: list[Positive]
    ITEMS: list[Positive]
    HISTORY_START: IsoDate
    HORIZON: Annotated[int, Field(ge=7, le=365)]
    ORIGINS: Annotated[int, Field(ge=1, le=12)]
    TRAINING_DATE: IsoDate
    PARTITIONS: NonNegative
    INTERVAL_SAMPLES: Annotated[int, Field(ge=100)]

    def data_label(self):
        return "custom file" if self.DATA_PATH else self.DATA_SOURCE

    def smoke(self):
        return {
            "STORES": self.STORES or [1, 2],
            "ITEMS": self.ITEMS or [1, 2, 3],
            "HISTORY_START": self.HISTORY_START or "2015-01-01",
            "ORIGINS": min(self.ORIGINS, 2),
        }


class LstmForecasting(Params):
    LOOKBACK: Positive
    SAMPLING_RATE: Positive
    HORIZON: Positive
    UNITS: Positive
    LEARNING_RATES: list[Annotated[float, Field(gt=0, lt=1)]] = Field(min_length=1)
    EPOCHS: Positive
    PATIENCE: Positive
    LOSS: Literal["mse", "mae", "huber"]
    COMPARE_LOSS: Literal["", "mse", "mae", "huber"]
    BATCH_SIZE: Positive
    SPLIT: list[Rate] = Field(min_length=3, max_length=3)
    KERAS_SEED: NonNegative

    @model_validator(mode="after")
    def _consistent(self):
        if abs(sum(self.SPLIT) - 1) > 1e-9:
            raise ValueError(f"SPLIT={self.SPLIT} must sum to 1 (train, validation, test)")
        if self.LOOKBACK % self.SAMPLING_RATE:
            raise ValueError(
                f"LOOKBACK={self.LOOKBACK} must be a multiple of SAMPLING_RATE={self.SAMPLING_RATE}"
            )
        if self.PATIENCE >= self.EPOCHS:
            raise ValueError(
                f"PATIENCE={self.PATIENCE} must be below EPOCHS={self.EPOCHS}, "
                "or early stopping can never act"
            )
        return self

    def smoke(self):
        return {"LOOKBACK": 144, "EPOCHS": 15, "PATIENCE": 3, "LEARNING_RATES": [0.00144, 0.003]}


class FraudDetection(Params):
    DATA_PATH: ExistingFile
    N_ROWS: Annotated[int, Field(ge=1_000)]
    REAL_SAMPLE: Literal["paysim_sample_allfraud_33k.csv", "paysim_head_2688.csv"]
    MAX_DEPTHS: list[Annotated[int, Field(ge=1, le=30)]] = Field(min_length=1)
    MAX_BINS: list[Annotated[int, Field(ge=2)]] = Field(min_length=1)
    CV_FOLDS: Annotated[int, Field(ge=2, le=10)]
    TEST_SHARE: Rate
    REVIEW_CAPACITY: Positive

    def data_label(self):
        return "custom file" if self.DATA_PATH else self.DATA_SOURCE

    def smoke(self):
        return {
            "N_ROWS": min(self.N_ROWS, 40_000),
            "MAX_DEPTHS": [5, 10],
            "MAX_BINS": [20],
            "CV_FOLDS": 2,
        }


class DigitalPathology(Params):
    SLIDES_DIR: ExistingDir
    COORDS_DIR: ExistingDir
    N_TUMOUR_SLIDES: Annotated[int, Field(ge=2)]
    N_NORMAL_SLIDES: Annotated[int, Field(ge=1)]
    N_TEST_SLIDES: Annotated[int, Field(ge=2)]
    SLIDE_SIZE: Annotated[int, Field(ge=1024)]
    PATCHES_PER_CLASS: Positive
    PATCH_SIZE: Annotated[int, Field(ge=32, le=1024)]
    LEVEL: NonNegative
    FEATURE_SIZE: Annotated[int, Field(ge=75, le=512)]
    BACKBONE: Literal["InceptionV3", "MobileNetV2"]
    WEIGHTS: Literal["auto", "imagenet", "random"]
    REG_PARAM: Annotated[float, Field(ge=0)]
    BOOTSTRAP: Annotated[int, Field(ge=100)]

    @model_validator(mode="after")
    def _enough_slides(self):
        # held out: half the test slides with tumour (rounded up), the rest normal
        tumour, normal = (self.N_TEST_SLIDES + 1) // 2, self.N_TEST_SLIDES // 2
        if tumour >= self.N_TUMOUR_SLIDES or normal >= self.N_NORMAL_SLIDES:
            raise ValueError(
                f"N_TEST_SLIDES={self.N_TEST_SLIDES} holds out {tumour} tumour and {normal} "
                f"normal slides, leaving none of one kind to train on ({self.N_TUMOUR_SLIDES} "
                f"tumour + {self.N_NORMAL_SLIDES} normal slides)"
            )
        return self

    def smoke(self):
        return {
            "N_TUMOUR_SLIDES": 5,
            "N_NORMAL_SLIDES": 4,
            "N_TEST_SLIDES": 6,
            "SLIDE_SIZE": 2048,
            "PATCHES_PER_CLASS": 30,
            "PATCH_SIZE": 128,
            "FEATURE_SIZE": 128,
            "BOOTSTRAP": 200,
        }


class CarClassification(Params):
    REAL_IMAGES_DIR: ExistingDir
    SAMPLE_IMAGES_DIR: ExistingDir
    N_CLASSES: Annotated[int, Field(ge=2, le=196)]
    TRAIN_PER_CLASS: Annotated[int, Field(ge=10)]
    TEST_PER_CLASS: Annotated[int, Field(ge=5)]
    IMG_SIZE: Annotated[int, Field(ge=32, le=512)]
    RESNET_STAGES: list[Positive] = Field(min_length=1, max_length=5)
    FILTERS: Positive
    BN_MOMENTUM: Rate
    EPOCHS: Positive
    BATCH_SIZE: Positive
    LEARNING_RATE: Annotated[float, Field(gt=0, lt=1)]
    AUGMENT: bool
    VALIDATION_SHARE: Rate
    REST_REQUESTS: Positive
    REST_WORKERS: Annotated[int, Field(ge=1, le=16)]
    REST_CLIENTS: Annotated[int, Field(ge=1, le=64)]
    FINE_TUNE: Literal["auto", "yes", "no"]

    def smoke(self):
        return {
            "N_CLASSES": 4,
            # 4 classes x 250 images, 24 epochs: below that the smoke model is still learning
            # and its accuracy varies run to run (tests/notebook_checks.py, CH7_SMOKE_FLOOR)
            "TRAIN_PER_CLASS": 250,
            "TEST_PER_CLASS": min(self.TEST_PER_CLASS, 30),
            "IMG_SIZE": 48,
            "EPOCHS": min(self.EPOCHS, 24),
            "BATCH_SIZE": min(self.BATCH_SIZE, 16),  # more steps for the same images
            "REST_REQUESTS": 10,
            "AUGMENT": False,  # no second, unaugmented training
        }


class Geospatial(Params):
    N_TRIPS: Annotated[int, Field(ge=1_000)]
    REAL_TRIPS: Literal["green_tripdata_2013-08.csv", "yellow_tripdata_2015-01_head1000.csv"]
    H3_RESOLUTIONS: list[Annotated[int, Field(ge=0, le=15)]] = Field(min_length=1)
    REFINE_RESOLUTION: Annotated[int, Field(ge=0, le=15)]
    REFINE_BATCH_ROWS: Annotated[int, Field(ge=1_000, le=1_000_000)]
    MAP_RESOLUTION: Annotated[int, Field(ge=0, le=15)]
    UDF_SAMPLE: Positive
    LANDSAT_SCENE: str  # a folder; "" for the mirror's, else a generated scene
    RASTER_WINDOW: Annotated[int, Field(ge=64, le=8192)]
    POSTGIS_SAMPLE: Annotated[int, Field(ge=0)]

    def smoke(self):
        return {
            "N_TRIPS": min(self.N_TRIPS, 30_000),
            "UDF_SAMPLE": min(self.UDF_SAMPLE, 1_000),
            "POSTGIS_SAMPLE": min(self.POSTGIS_SAMPLE, 5_000),
        }
