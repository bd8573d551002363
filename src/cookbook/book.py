"""The cookbook as a static HTML book, in English and Korean: ``make book``.

Notebooks are committed without outputs, so on a code host nobody sees a figure. The book is
built from **executed** notebooks: by default those ``make run`` wrote
(``<output.dir>/<chapter>/<notebook>``, the full settings); ``--smoke-missing`` executes a
chapter with no executed copy in smoke mode first (what the tests do, a few minutes). Sphinx
reads the notebooks through MyST-NB without executing anything, with the book theme, offline.

The Korean pages are the Korean notebooks (``notebooks/ko/``) with the outputs of the English
run: the code cells of the two editions are identical (``cookbook.editions`` checks it), so
they print and draw the same thing. Every chapter page says when and how its notebook ran
(smoke or full settings, data source); the footer gives the build date and the commit.

    python -m cookbook.book                      # every chapter, both languages
    python -m cookbook.book 1 8 --smoke-missing  # chapters 1 and 8; run them first if needed

The HTML lands in ``<build>/html/{en,ko}/`` with a language chooser at ``<build>/html/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cookbook.chapters import CHAPTERS, Chapter, chapter
from cookbook.config import load_config
from cookbook.editions import edition_path

__all__ = ["BookError", "LANGUAGES", "build", "korean_pages", "main", "provenance"]

LANGUAGES = {"en": "English", "ko": "한국어"}
_TEXT = {
    "en": {
        "title": "ML Use-Case Cookbook",
        "intro": (
            "Seven machine-learning use cases in eight notebooks, run on open source (Spark, "
            "MLflow, Prophet, Keras, GeoPandas, H3, OpenSlide) on one laptop. Each notebook "
            "follows a chapter of the book *The Big Book of Machine Learning Use Cases* (Korean "
            "edition: *머신 러닝 사용 사례 Big Book*); the table says which, and where the "
            "notebook departs from it. These pages are the notebooks as they ran: every figure, "
            "table and printed result is the output of the run named at the top of its page."
        ),
        "other": '<a href="../ko/index.html">한국어판</a>',
        "columns": ("Book chapter", "Original", "Notebook", "Where it departs from the book"),
        "ran": "This page is the notebook as executed on {date}: {mode}, {data} data.",
        "smoke": "smoke mode (`SMOKE = True`: reduced sizes, as in the tests)",
        "full": "full settings (`make run`)",
        "footer": "Built {date} from commit {commit}{dirty}; outputs from {runs} on {data} data.",
        "dirty": " (with uncommitted changes)",
        "runs": {
            "smoke": "smoke-mode runs",
            "full": "full runs (make run)",
            "mixed": "full and smoke-mode runs (each page says which)",
        },
        "outputs": "",
    },
    "ko": {
        "title": "ML 사용 사례 쿡북",
        "intro": (
            "일곱 가지 머신 러닝 사용 사례를 여덟 개의 노트북으로, 오픈 소스(Spark, MLflow, "
            "Prophet, Keras, GeoPandas, H3, OpenSlide)만으로 노트북 한 대에서 실행합니다. 각 "
            "노트북은 *머신 러닝 사용 사례 Big Book*(영문판: *The Big Book of Machine Learning "
            "Use Cases*)의 한 장을 따릅니다. 아래 표는 어느 장을 따르는지, 원문과 어디가 "
            "다른지를 보여 줍니다. 이 페이지들은 실행된 그대로의 노트북이며, 모든 그림, 표, "
            "출력 결과는 각 페이지 맨 위에 적힌 실행에서 나온 것입니다."
        ),
        "other": '<a href="../en/index.html">English edition</a>',
        "columns": ("책의 장", "원문", "노트북", "원문과 다른 점"),
        "ran": "이 페이지는 {date}에 실행된 노트북입니다: {mode}, {data} 데이터.",
        "smoke": "스모크 모드(`SMOKE = True`: 테스트처럼 줄인 크기)",
        "full": "전체 설정(`make run`)",
        "footer": "{date}, 커밋 {commit}{dirty}에서 빌드했습니다. 출력: {data} 데이터의 {runs}.",
        "dirty": "(커밋하지 않은 변경 포함)",
        "runs": {
            "smoke": "스모크 모드 실행",
            "full": "전체 실행(make run)",
            "mixed": "전체 실행과 스모크 모드 실행(각 페이지에 표시)",
        },
        "outputs": (
            " 코드 셀은 영어판과 같으므로 출력은 영어판 실행의 출력이며, 결과를 알리는 "
            "출력 문장은 영어로 남아 있습니다."
        ),
    },
}
_DATA = {
    "en": {
        "synthetic": "embedded synthetic",
        "real": "original",
        "mixed": "synthetic and original",
    },
    "ko": {"synthetic": "내장 합성", "real": "원본", "mixed": "합성 및 원본"},
}

# Where each notebook departs from its book chapter, stated from the notebooks' own text.
DEPARTURES: dict[str, dict[str, str]] = {
    "01-dtw-background": {
        "en": (
            "The four clips are synthesised by a small source-filter speech synthesiser, where the "
            "book used four lines from a TV series; Free Spoken Digit recordings or your own WAV "
            "files are optional. The book ran fastdtw at its default radius=1; the notebook shows "
            "what that radius costs. Section 5, DTW on MFCC speech features, is new."
        ),
        "ko": (
            "네 클립은 작은 소스-필터 음성 합성기로 합성하며(책은 TV 드라마의 대사 네 줄을 "
            "사용했습니다), Free Spoken Digit Dataset의 녹음이나 직접 준비한 WAV 파일은 선택 "
            "사항입니다. 책은 fastdtw를 기본값인 radius=1로 실행했으며, 이 노트북은 그 반경의 "
            "대가를 보여 줍니다. MFCC 음성 feature에 동적 시간 왜곡(DTW)을 적용하는 5절은 새로 "
            "추가한 내용입니다."
        ),
    },
    "02-dtw-sales-trends": {
        "en": (
            "The default data is a seeded synthetic file in the UCI weekly sales format with "
            "planted pattern followers; the real file is optional. The book computed the DTW "
            "distances with pandas on the driver; here a pandas UDF spreads them over Spark. "
            "Instead of the book's custom MLflow flavour, a standard pyfunc model with a signature "
            "is registered and loaded by alias."
        ),
        "ko": (
            "기본 데이터는 패턴을 따르도록 심어 둔 제품이 들어 있는, UCI 주간 매출 파일과 같은 "
            "형식의 시드 고정 합성 파일이며, 실제 파일은 선택 사항입니다. 책은 드라이버에서 "
            "pandas로 동적 시간 왜곡 거리를 계산했고, 여기서는 pandas UDF로 Spark에 분산합니다. "
            "책의 사용자 정의 MLflow 플레이버 대신 시그니처를 갖춘 표준 pyfunc 모델을 등록하고 "
            "별칭으로 로드합니다."
        ),
    },
    "03-prophet-forecasting": {
        "en": (
            "The default data is a seeded synthetic file with the schema and size of the Kaggle "
            "store-item demand set; the real file is optional. The book scored only the in-sample "
            "fit; here the last days are held out and scored against naive baselines at several "
            "forecast origins. Uncertainty intervals are seeded, and fitted models are kept in a "
            "table, not discarded."
        ),
        "ko": (
            "기본 데이터는 Kaggle 매장-품목 수요 데이터와 스키마 및 크기가 같은, 시드로 생성한 "
            "합성 파일이며 실제 파일은 선택 사항입니다. 책은 세분화된 예측의 표본 내 적합만 "
            "채점했지만, 여기서는 마지막 며칠을 떼어 두고 여러 예측 기점에서 단순 기준선과 비교해 "
            "채점합니다. 불확도 구간에는 시드를 지정하고, 피팅된 모델은 버리지 않고 테이블에 "
            "보관합니다."
        ),
    },
    "04-lstm-forecasting": {
        "en": (
            "By default the data is a simulated house in the UCI Appliances energy prediction "
            "format; real data is optional. Early stopping watches validation rather than training "
            "loss, epochs are capped (the book allowed 5,000 on a GPU), and the LSTM is compared "
            "with naive baselines. For CPU speed, windows keep one row per hour and batches are "
            "smaller than the book's 864."
        ),
        "ko": (
            "기본 데이터는 UCI Appliances energy prediction 데이터와 같은 형식의 시뮬레이션 "
            "주택이며, 실제 데이터는 선택 사항입니다. 조기 종료는 훈련 손실이 아니라 검증 손실을 "
            "지켜보고, 에포크 수에 상한을 두며(책은 GPU에서 최대 5,000 에포크), LSTM을 단순 "
            "기준선과 비교합니다. CPU에서의 속도를 위해 윈도 안에서 한 시간에 한 행만 남기고, "
            "배치는 책의 864개보다 작습니다."
        ),
    },
    "05-fraud-detection": {
        "en": (
            "The default data comes from the project's PaySim-like simulator; real PaySim data is "
            "optional. The split is by time instead of random, the model is chosen on a validation "
            "period, the undersampled tree's probabilities are calibrated, and rule and model are "
            "compared with the real fraud labels. The review queue ranks by calibrated "
            "probability, where the book picked the transactions nearest 0.5."
        ),
        "ko": (
            "기본 데이터는 이 프로젝트가 자체 제작한 PaySim 유사 시뮬레이터에서 나오며, 실제 "
            "PaySim 데이터는 선택 사항입니다. 무작위 분할 대신 시간 기준 분할을 쓰고, 검증 "
            "기간에서 모델을 고르며, 과소 표집으로 훈련한 결정 트리의 확률을 보정하고, 규칙과 "
            "모델을 실제 사기 레이블과 비교합니다. 검토 대기열은 보정된 확률 순으로 매기며, 책은 "
            "0.5에 가장 가까운 거래를 골랐습니다."
        ),
    },
    "06-digital-pathology": {
        "en": (
            "By default the slides are synthetic TIFFs that OpenSlide reads like Camelyon16's, and "
            "a few thousand patches are cut on one machine rather than up to 174,000 on a cluster. "
            "Whole slides are held out and scored with a bootstrap interval, per-slide ROC curves "
            "and a colour-only control. Without ImageNet weights a randomly initialised network "
            "gives the features, which is then not transfer learning."
        ),
        "ko": (
            "기본 슬라이드는 OpenSlide가 Camelyon16 원본처럼 읽는 합성 피라미드형 TIFF이며, "
            "클러스터에서 최대 약 174,000개가 아니라 머신 한 대에서 패치 수천 개를 자릅니다. "
            "슬라이드 전체를 떼어 두고 슬라이드 단위의 부트스트랩 구간, 슬라이드별 ROC 곡선, "
            "색상만 쓰는 대조 분류자로 평가합니다. ImageNet 가중치가 없으면 무작위로 초기화한 "
            "신경망이 feature를 추출하며, 이때는 전이 학습이 아닙니다."
        ),
    },
    "07-car-classification": {
        "en": (
            "By default the photos come from a car renderer in the Stanford Cars format, sized for "
            "a CPU: 64-pixel crops, three bottleneck blocks, a dozen classes. The ResNet has a 3x3 "
            "stem, not 7x7, and one softmax layer where the book had several dense layers. "
            "Augmentation is redrawn each epoch, not made once with Koalas, and the model is "
            "served locally, not on Azure ML."
        ),
        "ko": (
            "기본 이미지는 Stanford Cars 형식으로 기록하는 자동차 렌더러가 만들며, 기본값은 CPU에 "
            "맞춘 크기입니다(64픽셀 크롭, 병목 블록 3개, 클래스 12개 정도). ResNet은 7x7 스템 대신 "
            "3x3 스템을, 여러 완전 연결 계층 대신 소프트맥스 계층 하나를 씁니다. 보강은 Koalas로 "
            "한 번 만든 고정 사본 대신 에포크마다 새로 뽑고, 모델은 Azure ML에 배포하는 대신 "
            "로컬에서 서빙합니다."
        ),
    },
    "08-geospatial": {
        "en": (
            "The default data is a generated city in the NYC taxi file formats; the real August "
            "2013 trips are optional. The book's examples are mostly Scala (GeoMesa, H3's Java "
            "API); here all runs in Python on local Spark, with each join checked against an exact "
            "answer. GeoPandas runs on batches via mapInPandas, not the book's per-row UDF, and "
            "the Sedona pattern is documented but not run."
        ),
        "ko": (
            "기본 데이터는 뉴욕시 택시 데이터와 같은 파일 형식으로 생성한 가상 도시이며, 2013년 "
            "8월의 실제 운행 기록은 선택 사항입니다. 책의 예제는 대부분 Scala(GeoMesa, H3의 Java "
            "API)이지만, 여기서는 모든 것을 로컬 Spark 위에서 Python으로 실행하고 각 조인을 정확한 "
            "답과 대조해 검증합니다. GeoPandas는 책의 행 단위 UDF 대신 mapInPandas로 배치마다 "
            "실행하며, 공간 전용 엔진 패턴(Apache Sedona)은 실행하지 않고 설명만 합니다."
        ),
    },
}


class BookError(RuntimeError):
    """The book cannot be built: a chapter without an executed notebook, or Sphinx failed."""


@dataclass(frozen=True)
class Page:
    chapter: Chapter
    notebook: nbformat.NotebookNode  # executed, English
    ran: str  # ISO date of the run
    smoke: bool
    data_source: str


def provenance(nb: nbformat.NotebookNode, path: Path) -> tuple[str, bool, str]:
    """(date, smoke, data source) of an executed notebook, from papermill's metadata."""
    meta = nb.metadata.get("papermill")
    if not meta or not meta.get("end_time"):
        raise BookError(f"{path}: not a notebook executed by papermill (no end time recorded)")
    if meta.get("exception"):
        raise BookError(f"{path}: its run failed; rerun the chapter before building the book")
    params = meta.get("parameters", {})
    defaults = {}
    for cell in nb.cells:  # the notebook's own parameters cell, for what was not overridden
        if "parameters" in cell.metadata.get("tags", []):
            for line in cell.source.splitlines():
                name, sep, value = line.partition("=")
                if sep and name.strip() in ("SMOKE", "DATA_SOURCE"):
                    defaults[name.strip()] = value.split("#")[0].strip()
            break
    smoke = params.get("SMOKE", defaults.get("SMOKE") == "True")
    source = params.get("DATA_SOURCE", defaults.get("DATA_SOURCE", "'synthetic'").strip("\"'"))
    return meta["end_time"][:10], bool(smoke), str(source)


def korean_pages(english: nbformat.NotebookNode, korean_source: Path) -> nbformat.NotebookNode:
    """The Korean notebook with the outputs of the executed English one, cell by cell.

    Papermill inserted an ``injected-parameters`` cell in the English run; it is copied to the
    same place. Any code cell that differs between the editions is an error (run
    ``python -m cookbook.editions sync``)."""
    korean = nbformat.read(korean_source, as_version=4)
    cells, pending = [], list(korean.cells)
    for cell in english.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cells.append(cell)
            continue
        if not pending:
            raise BookError(f"{korean_source}: fewer cells than the English notebook")
        ko = pending.pop(0)
        if ko.cell_type != cell.cell_type:
            raise BookError(
                f"{korean_source}, cell {len(cells)}: {ko.cell_type} where the English notebook "
                f"has {cell.cell_type}"
            )
        if cell.cell_type == "code":
            if ko.source.strip() != cell.source.strip():
                raise BookError(
                    f"{korean_source}, cell {len(cells)}: its code differs from the executed "
                    "English notebook (run `python -m cookbook.editions sync`, then rerun)"
                )
            ko = cell  # the English run's outputs; the source is the same
        cells.append(ko)
    if pending:
        raise BookError(f"{korean_source}: more cells than the English notebook")
    return nbformat.v4.new_notebook(cells=cells, metadata=english.metadata)


def _commit(root: Path) -> tuple[str, bool]:
    """The checkout's short commit id, and whether it has uncommitted changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
            check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return sha, bool(dirty)


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            return cell.source.lstrip()[2:].splitlines()[0].strip()
    return fallback


def _landing(lang: str, pages: list[Page], titles: dict[str, str]) -> str:
    t = _TEXT[lang]
    rows = []
    for page in pages:
        ch, book = page.chapter, page.chapter.book
        name = book.title if lang == "en" else f"{book.title_ko} ({book.title})"
        stem = Path(ch.notebook).stem
        departs = DEPARTURES.get(ch.key, {}).get(lang, "")
        cells = (book.number, f"“{name}”, {book.authors}, {book.date}",
                 f"[{titles[ch.key]}]({stem}.ipynb)", departs)  # fmt: skip
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    toctree = "\n".join(Path(p.chapter.notebook).stem for p in pages)
    return (
        f"# {t['title']}\n\n{t['other']}\n\n{t['intro']}\n\n"
        f"| {' | '.join(t['columns'])} |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toctree}\n```\n"
    )


_CONF = """\
project = {title!r}
language = {lang!r}
extensions = ["myst_nb"]
myst_enable_extensions = ["colon_fence"]
nb_execution_mode = "off"  # the notebooks were executed before; Sphinx only renders them
nb_merge_streams = True
exclude_patterns = ["_build"]
html_theme = "sphinx_book_theme"
html_title = {title!r}
html_theme_options = {{"extra_footer": {footer!r}, "show_toc_level": 2}}
html_show_sourcelink = False
html_context = {{"default_mode": "light"}}  # read from disk, the theme finds no stored mode
suppress_warnings = ["mystnb.unknown_mime_type"]
"""


def _page(page: Page, lang: str) -> nbformat.NotebookNode:
    t = _TEXT[lang]
    nb = page.notebook
    if lang != "en":
        nb = korean_pages(nb, edition_path(_notebooks_dir() / page.chapter.notebook, lang))
    note = (
        t["ran"].format(
            date=page.ran,
            mode=t["smoke"] if page.smoke else t["full"],
            data=_DATA[lang].get(page.data_source, page.data_source),
        )
        + t["outputs"]
    )
    cells = list(nb.cells)
    at = 1 if cells and cells[0].cell_type == "markdown" else 0  # after the title cell
    cells.insert(at, nbformat.v4.new_markdown_cell(f":::{{note}}\n{note}\n:::"))
    return nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)


def _notebooks_dir() -> Path:
    return Path(load_config()["root"]) / "notebooks"


def _executed(ch: Chapter, output_root: Path, smoke_missing: Path | None) -> Path:
    path = output_root / ch.key / ch.notebook
    if path.is_file():
        return path
    if smoke_missing is None:
        raise BookError(
            f"chapter {ch.key}: no executed notebook at {path}. Run it first (`make run "
            f"CHAPTERS={ch.key[:2]}`), or build with --smoke-missing to execute it in smoke mode"
        )
    from cookbook import runner

    print(f"==> {ch.key}: no executed notebook; executing it in smoke mode", flush=True)
    executed, _, _ = runner.execute(ch, smoke_missing, {"SMOKE": True})
    return executed


def build(
    build_dir: str | Path,
    output_root: str | Path | None = None,
    chapters: list[Chapter] | None = None,
    languages: tuple[str, ...] = tuple(LANGUAGES),
    smoke_missing: bool = False,
) -> dict[str, list[Path]]:
    """Build the book into ``build_dir/html/<language>/``; return the HTML pages per language.

    ``output_root`` holds the executed notebooks (default: ``output.dir``, where ``make run``
    writes). A chapter without one is an error unless ``smoke_missing``, which executes it in
    smoke mode into ``build_dir/runs/`` first. The previous HTML is replaced only once every
    language has built."""
    build_dir = Path(build_dir).resolve()
    config = load_config()
    output_root = Path(output_root or config["output"]["dir"]).resolve()
    chapters = list(chapters or CHAPTERS)
    for lang in languages:
        if lang not in LANGUAGES:
            raise BookError(f"language {lang!r}: expected one of {sorted(LANGUAGES)}")
    runs = build_dir / "runs" if smoke_missing else None
    pages = []
    for ch in chapters:
        path = _executed(ch, output_root, runs)
        nb = nbformat.read(path, as_version=4)
        pages.append(Page(ch, nb, *provenance(nb, path)))
    titles_en = {p.chapter.key: _title(p.notebook, p.chapter.title) for p in pages}
    commit, dirty = _commit(Path(config["root"]))
    modes = {p.smoke for p in pages}
    runs = "mixed" if len(modes) > 1 else ("smoke" if modes == {True} else "full")
    sources = {p.data_source for p in pages}
    data = sources.pop() if len(sources) == 1 else "mixed"
    staging = build_dir / "html.new"
    shutil.rmtree(staging, ignore_errors=True)
    built: dict[str, list[Path]] = {}
    for lang in languages:
        src = build_dir / "source" / lang
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        titles = dict(titles_en)
        for page in pages:
            nb = _page(page, lang)
            titles[page.chapter.key] = _title(nb, page.chapter.title)
            nbformat.write(nb, src / page.chapter.notebook)
        (src / "index.md").write_text(_landing(lang, pages, titles), encoding="utf-8")
        t = _TEXT[lang]
        footer = html.escape(t["footer"].format(
            date=dt.date.today().isoformat(), commit=commit, dirty=t["dirty"] if dirty else "",
            runs=t["runs"][runs], data=_DATA[lang].get(data, data)))  # fmt: skip
        (src / "conf.py").write_text(
            _CONF.format(title=_TEXT[lang]["title"], lang=lang, footer=footer),
            encoding="utf-8",
        )
        out = staging / lang
        warnings = build_dir / f"sphinx-warnings-{lang}.txt"
        proc = subprocess.run(
            [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-w", str(warnings),
             str(src), str(out)],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise BookError(
                f"sphinx-build failed for {lang} (exit {proc.returncode}); source {src}:\n"
                f"{proc.stderr[-3000:]}"
            )
        built[lang] = sorted(p for p in out.rglob("*.html") if "_static" not in p.parts)
    (staging / "index.html").write_text(_chooser(languages), encoding="utf-8")
    final = build_dir / "html"
    old = build_dir / "html.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    (build_dir / "book.json").write_text(
        json.dumps(
            {
                "chapters": [p.chapter.key for p in pages],
                "languages": list(languages),
                "pages": {lang: len(v) for lang, v in built.items()},
            },
            indent=1,
        )  # fmt: skip
    )
    return {lang: [final / p.relative_to(staging) for p in v] for lang, v in built.items()}


def _chooser(languages) -> str:
    links = "".join(
        f'<li><a href="{lang}/index.html">{LANGUAGES[lang]}</a></li>' for lang in languages
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{_TEXT['en']['title']}</title></head>"
        f"<body><h1>{_TEXT['en']['title']}</h1><ul>{links}</ul></body></html>\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter keys or numbers (default: all)")
    parser.add_argument("--build-dir", default=None, help="default: <root>/build/book")
    parser.add_argument(
        "--from",
        dest="output_root",
        default=None,
        help="folder of executed notebooks (default: output.dir, `make run`'s)",
    )
    parser.add_argument(
        "--smoke-missing",
        action="store_true",
        help="execute in smoke mode any chapter that has no executed notebook",
    )
    parser.add_argument("--language", action="append", choices=sorted(LANGUAGES),
                        help="only this language (repeatable; default: all)")  # fmt: skip
    args = parser.parse_args(argv)
    root = Path(load_config()["root"])
    build_dir = Path(args.build_dir) if args.build_dir else root / "build" / "book"
    chapters = [chapter(int(c) if c.isdigit() else c) for c in args.chapters] or None
    try:
        pages = build(build_dir, args.output_root, chapters,
                      tuple(args.language or LANGUAGES), args.smoke_missing)  # fmt: skip
    except BookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for lang, files in pages.items():
        print(f"{LANGUAGES[lang]}: {len(files)} pages")
    print(f"open {build_dir / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
