"""`make book`: the executed notebooks as a static HTML book in both languages, offline.

Under `make test` the notebook tests leave each chapter's executed smoke run in
``$COOKBOOK_TEST_EXECUTED`` and this file runs after them, so the book holds every chapter.
Run on its own, chapter 1 is executed in smoke mode (the cheapest chapter, with figures and
tables) and the book is built from it. The HTML is then checked as a reader's browser would
load it: every image is there and decodes, every internal link resolves, nothing is fetched from
the network, and each page says how its notebook ran."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from notebook_run import EXECUTED_ENV
from PIL import Image

from cookbook import book, runner
from cookbook.chapters import CHAPTERS, chapter
from cookbook.editions import hangul_share

pytestmark = [pytest.mark.book, pytest.mark.slow]
CH1 = chapter("01-dtw-background")


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append((tag, name, value))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: Path) -> _Refs:
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


# Run on its own, chapter 1 only; COOKBOOK_TEST_BOOK_CHAPTERS="1 6 8" adds chapter 6's heat map
# and chapter 8's maps (executed here first: a few minutes more), whose pages the browser test
# then screenshots. Under `make test`, every chapter, from the notebook tests' runs.
BOOK_CHAPTERS = [
    chapter(int(c)) for c in os.environ.get("COOKBOOK_TEST_BOOK_CHAPTERS", "1").split()
]
EXECUTED = os.environ.get(EXECUTED_ENV)
# pages to screenshot, and what to scroll into view first (JavaScript returning an element)
SCREENSHOTS = {
    "01_dtw_background": "return document.querySelector('.cell_output img');",
    "06_digital_pathology": (  # the heat map: the first image of section 5
        "const h = [...document.querySelectorAll('h2')]"
        ".find(e => e.textContent.trim().startsWith('5.'));"
        "return h && [...document.images]"
        ".find(i => h.compareDocumentPosition(i) & Node.DOCUMENT_POSITION_FOLLOWING);"
    ),
    "08_geospatial": "return document.querySelector('iframe');",  # the hexagon map
}


def _previous_runs() -> Path | None:
    """The notebook tests' executed runs (``make test``), which must hold every chapter: a
    book of fewer chapters would pass while checking less than it claims."""
    if not EXECUTED:
        return None
    folder = Path(EXECUTED)
    missing = [ch.key for ch in CHAPTERS if not (folder / ch.key / ch.notebook).is_file()]
    if missing:
        pytest.fail(
            f"{EXECUTED_ENV}={folder} lacks the executed notebooks of {', '.join(missing)}: "
            "their notebook tests did not run (or failed) in the first pytest run"
        )
    return folder


@pytest.fixture(scope="module")
def built(sandbox):
    out = _previous_runs()
    if out is not None:
        chapters = list(CHAPTERS)
    else:
        out = sandbox / "book-runs"
        chapters = [CH1, *(ch for ch in BOOK_CHAPTERS if ch != CH1)]
        for ch in chapters:
            runner.execute(ch, out, {"SMOKE": True})
    pages = book.build(sandbox / "book", out, chapters)
    return sandbox / "book" / "html", pages, out / CH1.key / CH1.notebook


def test_both_languages_build_every_page(built):
    html, pages, _ = built
    assert set(pages) == {"en", "ko"}
    for lang, files in pages.items():
        names = {p.name for p in files}
        assert {"index.html", CH1.notebook.replace(".ipynb", ".html")} <= names, lang
    for lang in pages:  # Sphinx warned about nothing (a broken reference, an unknown output)
        assert (html.parent / f"sphinx-warnings-{lang}.txt").read_text() == "", lang
    chooser = _parse(html / "index.html")
    assert {v for _, _, v in chooser.refs} == {"en/index.html", "ko/index.html"}


def test_every_image_decodes_and_every_internal_link_resolves(built):
    html, pages, _ = built
    checked = {"img": 0, "link": 0}
    for files in pages.values():
        for page in files:
            for tag, attr, value in _parse(page).refs:
                url = urlsplit(value)
                if url.scheme in ("http", "https") or value.startswith("//"):
                    # the book is read offline: no script, style or image from the network
                    assert tag == "a", f"{page.name}: <{tag} {attr}={value}> needs the network"
                    continue
                if url.scheme or not url.path:  # mailto:, data:, or an anchor on this page
                    continue
                target = (page.parent / unquote(url.path)).resolve()
                assert target.is_file(), f"{page.relative_to(html)}: {value} does not exist"
                if tag == "img":
                    with Image.open(target) as img:
                        img.load()
                        assert img.width > 0 and img.height > 0
                    checked["img"] += 1
                else:
                    checked["link"] += 1
    # chapter 1 draws four figures; each language shows them
    assert checked["img"] >= 2 * 4 and checked["link"] > 50, checked


def test_landing_page_maps_the_book_chapter_and_says_how_the_page_ran(built):
    html, _, executed = built
    landing = " ".join(_parse(html / "en" / "index.html").text)
    book_chapter = CH1.book
    for fact in (book_chapter.title, book_chapter.authors, book_chapter.date, book_chapter.number):
        assert fact in landing
    assert book.DEPARTURES[CH1.key]["en"].split()[0] in landing
    footer = r"Built \d{4}-\d\d-\d\d from commit \w+.*; outputs from smoke-mode runs on embedded"
    assert re.search(footer + r"\s+synthetic data", landing)
    page = " ".join(_parse(html / "en" / "01_dtw_background.html").text)
    ran = nbformat.read(executed, as_version=4).metadata.papermill.end_time[:10]
    assert f"executed on {ran}: smoke mode" in page and "embedded synthetic data" in page


def test_korean_pages_are_korean_prose_with_the_english_run_outputs(built):
    html, _, executed = built
    landing = " ".join(_parse(html / "ko" / "index.html").text)
    assert CH1.book.title_ko in landing and hangul_share(landing) > 0.3
    staged = html.parent / "source" / "ko" / CH1.notebook
    korean, english = (nbformat.read(p, as_version=4) for p in (staged, executed))
    ko_code = [c for c in korean.cells if c.cell_type == "code"]
    en_code = [c for c in english.cells if c.cell_type == "code"]
    assert [c.source for c in ko_code] == [c.source for c in en_code]
    assert [c.outputs for c in ko_code] == [c.outputs for c in en_code]
    prose = [c.source for c in korean.cells if c.cell_type == "markdown"]
    assert all(hangul_share(p) > 0.25 for p in prose)


def test_a_chapter_without_an_executed_notebook_is_a_clear_error(tmp_path):
    with pytest.raises(book.BookError, match=r"chapter 08-geospatial: no executed notebook at .*"
                       r"make run CHAPTERS=08.*--smoke-missing"):  # fmt: skip
        book.build(tmp_path / "book", tmp_path / "empty", [chapter("08-geospatial")])
    assert not (tmp_path / "book" / "html").exists()  # nothing half-built


def test_a_korean_notebook_whose_code_differs_is_refused(built, tmp_path):
    _, _, executed = built
    english = nbformat.read(executed, as_version=4)
    ko = nbformat.read(Path(runner.notebooks_dir()) / "ko" / CH1.notebook, as_version=4)
    code = next(c for c in ko.cells if c.cell_type == "code" and "parameters" not in
                c.metadata.get("tags", []))  # fmt: skip
    code.source += "\nprint('only in Korean')"
    nbformat.write(ko, tmp_path / CH1.notebook)
    with pytest.raises(book.BookError, match=r"cell \d+: its code differs .*editions sync"):
        book.korean_pages(english, tmp_path / CH1.notebook)


def test_every_chapter_has_its_departures_in_both_languages():
    for ch in CHAPTERS:
        text = book.DEPARTURES[ch.key]
        assert len(text["en"].split()) >= 15, ch.key
        assert hangul_share(text["ko"]) > 0.3, ch.key


# ------------------------------------------------------------------------- in a real browser

# Map tiles come from tile servers: offline they fail to load (a blank background), which is
# allowed; everything else on a page (scripts, styles, images, the map layers) must work.
TILE_HOSTS = ("basemaps.cartocdn.com", "tile.openstreetmap.org")


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip(
            "needs Chromium and its driver on the PATH: `sudo apt-get install chromium "
            "chromium-driver` (Debian/Ubuntu); .ci/run installs them when it runs as root"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1200,900"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def artifacts(sandbox):
    """Screenshots land here (``COOKBOOK_TEST_ARTIFACTS`` to keep them somewhere else)."""
    folder = Path(os.environ.get("COOKBOOK_TEST_ARTIFACTS") or sandbox / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _load(browser, url: str) -> list[str]:
    """Open ``url``; return the console errors that are not offline map tiles."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda b: b.execute_script("return document.readyState") == "complete"
    )
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and not any(host in entry["message"] for host in TILE_HOSTS)
    ]


def _broken_images(browser) -> list[str]:
    return browser.execute_script(
        "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.src)"
    )


def _map_layers(browser) -> list[int]:
    """For each map (a folium iframe) on the page: how many vector shapes it drew."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    counts = []
    for frame in browser.find_elements(By.TAG_NAME, "iframe"):
        browser.switch_to.frame(frame)
        try:
            if browser.execute_script("return typeof L !== 'undefined'"):
                WebDriverWait(browser, 20).until(
                    lambda b: (
                        b.execute_script(
                            "return document.querySelectorAll('.leaflet-overlay-pane path').length"
                        )
                        > 0
                    )
                )
                counts.append(
                    browser.execute_script(
                        "return document.querySelectorAll('.leaflet-overlay-pane path').length"
                    )
                )
        finally:
            browser.switch_to.default_content()
    return counts


@pytest.mark.browser
def test_every_page_of_the_book_in_a_real_browser(built, browser, artifacts, record_property):
    html, pages, _ = built
    checked = 0
    for lang, files in pages.items():
        for page in files:
            errors = _load(browser, page.as_uri())
            where = page.relative_to(html)
            assert not errors, f"{where}: console errors {errors}"
            assert not _broken_images(browser), f"{where}: images that do not decode"
            maps = _map_layers(browser)  # every map on the page drew its layers
            if page.stem == "08_geospatial":  # the hexagon map is shown inline
                assert maps and min(maps) > 0, f"{where}: no map drew its layers ({maps})"
            if page.stem in SCREENSHOTS:
                target = browser.execute_script(SCREENSHOTS[page.stem])
                assert target, f"{where}: nothing to screenshot"
                browser.execute_script("arguments[0].scrollIntoView()", target)
                browser.save_screenshot(str(artifacts / f"book-{lang}-{page.stem}.png"))
            checked += 1
    record_property(
        "summary",
        f"{checked} pages of the book checked in headless Chromium ({', '.join(sorted(pages))});"
        f" screenshots in {artifacts}",
    )
    assert checked == sum(len(files) for files in pages.values()) >= 2 * 4


@pytest.mark.browser
def test_a_chapter_map_draws_offline_as_a_notebook_shows_it(browser, tmp_path, artifacts):
    """Chapter 8's hexagon map, as its notebook output shows it (an iframe with the whole page
    inline): Leaflet and the legend come with the package, so the layers draw with no network."""
    import geopandas as gpd
    import h3
    import shapely

    from cookbook import plots

    cells = list(h3.grid_disk(h3.latlng_to_cell(40.75, -73.98, 8), 1))
    hexes = gpd.GeoDataFrame(
        {"cell": cells, "dropoffs": range(1, len(cells) + 1)},
        geometry=[
            shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells
        ],
        crs="EPSG:4326",
    )
    fmap = plots.folium_cells(hexes, "dropoffs", [40.75, -73.98], "dropoffs", ["cell"])
    shown = fmap._repr_html_()  # what the notebook's output cell holds
    assert "https://cdn" not in shown and "code.jquery.com" not in shown
    page = tmp_path / "map.html"
    page.write_text(f"<!DOCTYPE html><html><body>{shown}</body></html>", encoding="utf-8")
    errors = _load(browser, page.as_uri())
    assert not errors, errors
    assert _map_layers(browser) == [len(cells)]  # one shape per hexagon
    browser.save_screenshot(str(artifacts / "ch8-hexagon-map.png"))
