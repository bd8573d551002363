"""The chapters: one registry entry per notebook, with the book chapter it follows.

Everything that names a chapter reads it from here: the notebook helper
(:mod:`cookbook.chapter`), ``make run`` (:mod:`cookbook.runner`), the tests and the benchmarks.
Each entry holds the notebook, the headline metrics of the run summary, whether it needs Spark,
the book chapter it answers (title, authors, date) and the schema of its ``parameters`` cell
(:mod:`cookbook.params`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cookbook import params as P


@dataclass(frozen=True)
class BookChapter:
    """A chapter of the book this cookbook answers ("Big Book of Machine Learning Use Cases",
    Korean edition: 머신 러닝 사용 사례 Big Book)."""

    number: str  # e.g. "2, part 1"
    title: str  # the original blog post's English title
    title_ko: str  # the Korean edition's chapter title
    authors: str
    date: str  # ISO date of the original post

    def citation(self) -> str:
        return f"Book chapter {self.number}: “{self.title}” by {self.authors} ({self.date})"


@dataclass(frozen=True)
class Chapter:
    key: str  # also the MLflow experiment suffix and the output sub-folder
    notebook: str
    title: str
    headline: tuple[str, ...]  # metrics shown in the run summary
    book: BookChapter
    params: type[P.Params]
    uses_spark: bool = True


_DTW_AUTHORS = "Ricardo Portilla, Brenner Heintz and Denny Lee"

CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        "01-dtw-background",
        "01_dtw_background.ipynb",
        "DTW background: audio clips",
        ("dist_1_2", "dist_1_3", "dist_1_4", "raw_ordering_reproduced", "mfcc_word_ordering"),
        BookChapter(
            "2, part 1",
            "Understanding Dynamic Time Warping",
            "동적 시간 왜곡의 이해",
            _DTW_AUTHORS,
            "2019-04-30",
        ),
        P.DtwBackground,
        uses_spark=False,
    ),
    Chapter(
        "02-dtw-sales-trends",
        "02_dtw_sales_trends.ipynb",
        "DTW sales trends with Spark and MLflow",
        ("n_products", "median_distance", "closest_product", "farthest_product"),
        BookChapter(
            "2, part 2",
            "Using Dynamic Time Warping and MLflow to Detect Sales Trends",
            "동적 시간 왜곡 및 MLflow를 사용한 매출 동향 발견",
            _DTW_AUTHORS,
            "2019-04-30",
        ),
        P.DtwSalesTrends,
    ),
    Chapter(
        "03-prophet-forecasting",
        "03_prophet_forecasting.ipynb",
        "Prophet fine-grained forecasting on Spark",
        (
            "n_series",
            "holdout_smape_median",
            "baseline_smape_median",
            "prophet_win_rate",
            "models_per_minute",
        ),
        BookChapter(
            "3",
            "Fine-Grained Time Series Forecasting at Scale with Prophet and Apache Spark",
            "Prophet 및 Apache Spark를 사용한 세분화된 대규모 시계열 예측",
            "Bilal Obeidat, Bryan Smith and Brenner Heintz",
            "2020-01-27",
        ),
        P.ProphetForecasting,
    ),
    Chapter(
        "04-lstm-forecasting",
        "04_lstm_forecasting.ipynb",
        "LSTM multivariate forecasting",
        ("test_mae", "persistence_mae", "seasonal_naive_mae", "train_median_mae", "epochs_run"),
        BookChapter(
            "4",
            "Multivariate Time Series Forecasting with Recurrent Neural Networks",
            "순환 신경망을 사용한 다변량 시계열 예측",
            "Vedant Jain",
            "2019-09-10",
        ),
        P.LstmForecasting,
    ),
    Chapter(
        "05-fraud-detection",
        "05_fraud_detection.ipynb",
        "Fraud detection: rules to a decision tree",
        (
            "n_rows",
            "rule_flag_rate",
            "test_pr_auc",
            "rule_recall_on_isfraud",
            "model_recall_on_isfraud",
        ),
        BookChapter(
            "5",
            "Detecting Financial Fraud at Scale with Decision Trees and MLflow on Databricks",
            "Databricks에서 결정 트리 및 MLflow로 대규모 금융 사기 탐지",
            "Elena Boiarskaia, Navin Albert and Denny Lee",
            "2019-05-02",
        ),
        P.FraudDetection,
    ),
    Chapter(
        "06-digital-pathology",
        "06_digital_pathology.ipynb",
        "Digital pathology: OpenSlide patches, CNN features, heat map",
        (
            "weights",
            "heldout_roc_auc",
            "control_auc",
            "heatmap_mean_inside",
            "heatmap_mean_outside",
            "patches_per_second_per_core",
        ),
        BookChapter(
            "6",
            "Automating Digital Pathology Image Analysis with Machine Learning on Databricks",
            "Databricks에서 머신 러닝으로 디지털 병리학 이미지 분석 자동화",
            "Amir Kermany and Frank Austin Nothaft",
            "2020-01-31",
        ),
        P.DigitalPathology,
    ),
    Chapter(
        "07-car-classification",
        "07_car_classification.ipynb",
        "Car classification: Keras ResNet served over REST",
        ("n_classes", "test_accuracy", "train_images_per_second", "rest_latency_ms_median"),
        BookChapter(
            "7",
            "Implementing a Convolutional Neural Network for Car Classification",
            "자동차 등급 분류를 위한 컨볼루션 신경망 구현",
            "Evan Eames and Henning Kropp",
            "2020-05-14",
        ),
        P.CarClassification,
    ),
    Chapter(
        "08-geospatial",
        "08_geospatial.ipynb",
        "Geospatial: GeoPandas in Spark, H3 joins, formats",
        (
            "valid_points",
            "exact_true_zone_share",
            "h3_agreement_r7",
            "h3_agreement_r9",
            "h3_refined_agreement",
            "points_per_second_exact_spark",
        ),
        BookChapter(
            "8",
            "Processing Geospatial Data at Scale With Databricks",
            "Databricks로 위치 정보 데이터 처리",
            "Nima Razavi and Michael Johns",
            "2019-12-05",
        ),
        P.Geospatial,
    ),
)


def chapter(key_or_notebook: str | int) -> Chapter:
    """Find a chapter by key (``02-dtw-sales-trends``), number (``2``) or notebook name."""
    wanted = str(key_or_notebook)
    for ch in CHAPTERS:
        if wanted in (ch.key, ch.notebook, ch.notebook.removesuffix(".ipynb")):
            return ch
        if wanted.isdigit() and ch.key.startswith(f"{int(wanted):02d}-"):
            return ch
    known = ", ".join(ch.key for ch in CHAPTERS)
    raise KeyError(f"unknown chapter {wanted!r}; known: {known}")
