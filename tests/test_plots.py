import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cookbook import plots  # noqa: E402

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _grey_lines(ax):
    return [line for line in ax.lines if line.get_color() == "grey"]


def test_draw_matches_one_line_per_pair_between_the_right_points():
    _, ax = plt.subplots()
    plots.draw_matches(ax, [0.0, 1.0, 2.0], [5.0, 6.0], [(0, 0), (1, 0), (2, 1)], offset=10)
    links = _grey_lines(ax)
    assert len(ax.lines) == 2 + 3 and len(links) == 3
    assert list(ax.lines[0].get_ydata()) == [10.0, 11.0, 12.0]  # the top series, raised
    assert list(links[1].get_xdata()) == [1, 0] and list(links[1].get_ydata()) == [11.0, 5.0]
    _, ax = plt.subplots()
    plots.draw_matches(ax, [0.0] * 10, [0.0] * 10, [(i, i) for i in range(10)], 1, every=3)
    assert len(_grey_lines(ax)) == 4  # pairs 0, 3, 6, 9


def test_dtw_toy_labels_the_costs_and_draws_every_pair():
    a, b = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])
    path = [(0, 0), (0, 1), (1, 2), (2, 2)]
    fig = plots.dtw_toy(a, b, path, path, cost=1.0, band_cost=1.5, band=1)
    left, right = fig.axes[:2]
    legend = [t.get_text() for t in left.get_legend().get_texts()]
    assert legend == ["path, cost 1.00", "window 1, cost 1.50"]
    assert left.images[0].get_array().shape == (3, 3)
    assert len(_grey_lines(right)) == len(path)


def test_waveform_grid_has_a_panel_per_clip_in_seconds():
    fig = plots.waveform_grid([np.zeros(8000), np.ones(4000)] * 2, list("abcd"), rate=8000)
    assert [ax.get_title() for ax in fig.axes] == list("abcd")
    assert fig.axes[1].lines[0].get_xdata()[-1] == pytest.approx(3999 / 8000)
    assert fig.get_suptitle() == "The four clips (8000 Hz)"


def test_matching_panels_and_warping_paths():
    x = np.arange(12.0)
    fig = plots.matching_panels(x, x, {"lock-step": [(i, i) for i in range(12)], "dtw": [(0, 0)]})
    assert [ax.get_title() for ax in fig.axes] == ["lock-step", "dtw"]
    assert len(_grey_lines(fig.axes[0])) == 2 and len(_grey_lines(fig.axes[1])) == 1
    fig = plots.warping_paths([[(0, 0), (1, 1)], [(0, 0), (0, 1)]], [(2, 2), (1, 2)], ["p", "q"])
    assert [ax.get_title() for ax in fig.axes] == ["p", "q"]
    assert list(fig.axes[1].lines[1].get_ydata()) == [0, 1]  # the no-warping diagonal


def test_pattern_alignments_titles_and_orientation():
    pattern, series = np.array([0.0, 1.0]), np.array([5.0, 6.0])
    fig = plots.pattern_alignments(pattern, [("P1", 0.25, series, [(1, 0)], "C2")], offset=4)
    ax = fig.axes[0]
    assert ax.get_title() == "P1: distance 0.25" and ax.get_ylabel() == "z-normalised units"
    (link,) = _grey_lines(ax)  # week 1 of the series with week 0 of the pattern
    assert list(link.get_xdata()) == [0, 1] and list(link.get_ydata()) == [4.0, 6.0]


def test_series_histogram_curve_and_bars():
    fig = plots.series_with_pattern([1, 2, 3], {"P1": [1, 1, 1], "P2": [2, 2, 2]}, "t")
    assert [line.get_label() for line in fig.axes[0].lines] == ["P1", "P2", "optimal pattern"]
    fig = plots.histogram([1, 2, 3], "distance", "products", marker=2.0, marker_label="median")
    ax = fig.axes[0]
    assert len(ax.patches) == 40 and ax.lines[0].get_xdata()[0] == 2.0
    assert ax.get_legend().get_texts()[0].get_text() == "median"
    fig = plots.curve([0, 0.1, 1], [3, 2, 1], "x", "y", "t", xscale="symlog", linthresh=0.01)
    assert fig.axes[0].get_xscale() == "symlog"
    fig = plots.bar_panels(
        {"count": (["A", "B"], [3, 1]), "sum": ([1, 2], [5, 6])},
        colors=["C0", "C1"],
        scatter=("swing", [1, 2], [3, 4], "level", "std"),
    )
    assert [ax.get_title() for ax in fig.axes] == ["count", "sum", "swing"]
    assert [p.get_height() for p in fig.axes[1].patches] == [5, 6]
    assert fig.axes[2].get_xlabel() == "level"


def test_lines_by_group_and_holdout_panels():
    frame = pd.DataFrame({"store": [1, 1, 2, 2], "ds": [0, 1, 0, 1], "yhat": [1, 2, 3, 4]})
    fig = plots.lines_by_group(frame, "store", "ds", "yhat", "t", label="store {}")
    assert [line.get_label() for line in fig.axes[0].lines] == ["store 1", "store 2"]
    days = pd.DataFrame(
        {
            "ds": pd.date_range("2020-01-01", periods=3),
            **{c: [1.0, 2.0, 3.0] for c in ("y", "yhat", "same_day_last_year")},
            "yhat_lower": [0.0] * 3,
            "yhat_upper": [4.0] * 3,
        }
    )
    fig = plots.holdout_panels({"a": [1, 2], "b": [3, 4]}, days, "boxes", "days")
    left, right = fig.axes
    assert [t.get_text() for t in left.get_xticklabels()] == ["a", "b"]
    assert right.get_title() == "days" and len(right.lines) == 3


def test_confusion_matrix_writes_every_count():
    fig = plots.confusion_matrix([[1000, 2], [3, 40]], ["rule: 0", "rule: 1"], ["no", "yes"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["1,000", "2", "3", "40"]
    assert ax.texts[0].get_color() == "white" and ax.texts[1].get_color() == "black"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["rule: 0", "rule: 1"]


@pytest.fixture
def squares():
    gpd = pytest.importorskip("geopandas")
    shapely = pytest.importorskip("shapely")
    return gpd.GeoDataFrame(
        {"LocationID": [1, 2], "name": ["a", "b"], "trips": [5, 50]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )


def test_static_maps(squares):
    fig = plots.zone_map(squares, squares, "name", "zones")
    assert fig.axes[0].get_title() == "zones" and not fig.axes[0].axison
    fig = plots.choropleth(squares, "trips", "pickups", "per zone", outline=squares)
    assert fig.axes[0].get_title() == "per zone"
    assert fig.axes[1].get_ylabel() == "pickups"  # the colour bar
    fig = plots.accuracy_vs_speed([7, 8], [0.9, 0.95], 1.0, "exact", ["m1", "m2"], [10, 1000])
    assert fig.axes[0].lines[1].get_ydata()[0] == pytest.approx(100)
    assert fig.axes[1].get_xscale() == "log"


def test_folium_maps_work_offline(squares):
    """Saved or shown inline, a map carries Leaflet and d3 itself and links no CDN (a browser
    draws it offline: tests/test_book.py); only the tiles come from the tile server."""
    pytest.importorskip("folium")
    choropleth = plots.folium_choropleth(squares, "LocationID", "trips", [0.5, 1], "pickups")
    cells = plots.folium_cells(squares, "trips", [0.5, 1], "per cell", ["name", "trips"])
    for fmap, caption in ((choropleth, "pickups"), (cells, "per cell")):
        for page in (fmap.get_root().render(), fmap._repr_html_()):
            assert caption in page
            assert "data:text/javascript;base64," in page and "data:text/css;base64," in page
            links = re.findall(r'(?:src|href)=(?:"|&quot;)(https?://[^"&]+)', page)
            assert links == [], links


def test_offline_html_inlines_what_it_ships_and_keeps_what_it_does_not_know():
    page = (
        '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"/>'
        '<script src="https://example.org/other.js"></script>'
    )
    out = plots.offline_html(page)
    assert "jquery" not in out and "cdn.jsdelivr" not in out
    assert out.count("data:text/javascript;base64,") == 1 and "data:text/css;base64," in out
    assert '<script src="https://example.org/other.js"></script>' in out
