"""Figures for the chapter notebooks: the drawing code that is presentation, not method.

Every function draws one figure from values a notebook has already computed and returns it (a
matplotlib ``Figure``, or a ``folium.Map``): nothing here computes a result. The notebook keeps
the model, the query or the metric in view, saves the figure under its own name with
``ch.savefig`` and shows it with ``plt.show()``.

matplotlib (and folium, for the HTML maps) are imported when a function is called, as in
:mod:`cookbook.trees`, so importing the package never selects a plotting backend.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def _subplots(*args, **kwargs):
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


# ---------------------------------------------------------------------- alignments (chapters 1, 2)


def draw_matches(ax, top, bottom, pairs, offset, every=1, top_style=None, bottom_style=None):
    """Draw ``top`` raised by ``offset`` above ``bottom`` and a grey line for every ``every``-th
    matched pair ``(i, j)``: point ``i`` of ``top`` with point ``j`` of ``bottom``.

    Vertical lines are lock-step matches; leaning ones are where an alignment shifted time.
    ``top_style`` and ``bottom_style`` are keyword arguments of ``ax.plot`` (label, colour)."""
    top, bottom = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)
    ax.plot(top + offset, **(top_style or {}))
    ax.plot(bottom, **(bottom_style or {}))
    for i, j in list(pairs)[::every]:
        ax.plot([i, j], [top[i] + offset, bottom[j]], color="grey", lw=0.5, alpha=0.6)
    return ax


def dtw_toy(a, b, path, band_path, cost, band_cost, band):
    """Chapter 1's toy: the pointwise cost matrix with the free and the windowed warping paths
    (left), and the pairs the free path matched (right)."""
    fig, axes = _subplots(1, 2, figsize=(13, 4.5))
    grid = np.abs(np.asarray(a)[:, None] - np.asarray(b)[None, :])
    axes[0].imshow(grid, origin="lower", cmap="Greys", aspect="auto")
    axes[0].plot(*np.array(path)[:, ::-1].T, "C1", lw=2, label=f"path, cost {cost:.2f}")
    axes[0].plot(
        *np.array(band_path)[:, ::-1].T, "C2--", label=f"window {band}, cost {band_cost:.2f}"
    )
    axes[0].set(xlabel="j (b)", ylabel="i (a)", title="pointwise cost |a[i] - b[j]| and paths")
    axes[0].legend(loc="upper left", fontsize=8)
    styles = {"marker": "o"}
    draw_matches(
        axes[1],
        a,
        b,
        path,
        1.2,
        top_style={**styles, "label": "a"},
        bottom_style={**styles, "label": "b (later, slower)"},
    )
    axes[1].set(title="the matched pairs", xlabel="index")
    axes[1].legend()
    return fig


def waveform_grid(signals: Sequence, labels: Sequence[str], rate: int):
    """The clips' waveforms in a 2 x 2 grid with a common amplitude axis, time in seconds."""
    fig, axes = _subplots(2, 2, figsize=(12, 6), sharey=True)
    for ax, label, x in zip(axes.flat, labels, signals, strict=True):
        ax.plot(np.arange(len(x)) / rate, x, lw=0.4)
        ax.set(title=label, xlabel="seconds")
    fig.suptitle(f"The four clips ({rate} Hz)")
    fig.tight_layout()
    return fig


def matching_panels(
    top, bottom, panels: Mapping[str, Iterable], names=("a", "b"), every=6, xlabel="frame"
):
    """One panel per ``{title: pairs}``: the same two series, each with its own matching drawn
    by :func:`draw_matches` (every ``every``-th pair, so the lines stay readable)."""
    fig, axes = _subplots(1, len(panels), figsize=(7 * len(panels), 4.5), sharey=True)
    offset = np.max(top) * 1.2
    for ax, (title, pairs) in zip(np.atleast_1d(axes), panels.items(), strict=True):
        draw_matches(
            ax,
            top,
            bottom,
            pairs,
            offset,
            every,
            top_style={"label": names[0], "color": "C0"},
            bottom_style={"label": names[1], "color": "C1"},
        )
        ax.set(title=title, xlabel=xlabel)
        ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def warping_paths(
    paths: Sequence,
    lengths: Sequence[tuple[int, int]],
    titles: Sequence[str],
    xlabel="first series",
    ylabel="second series",
):
    """Warping paths side by side, each over the dashed diagonal of a path without warping."""
    fig, axes = _subplots(1, len(paths), figsize=(5 * len(paths), 3.5), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, path, (n, m), title in zip(axes, paths, lengths, titles, strict=True):
        ax.plot(*np.array(path).T, lw=1)
        ax.plot([0, n - 1], [0, m - 1], "k--", lw=0.5)
        ax.set(title=title, xlabel=xlabel)
    axes[0].set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def pattern_alignments(pattern, panels: Sequence[tuple], offset=4.0, ylabel="z-normalised units"):
    """Chapter 2's warping paths: one panel per ``(name, distance, series, pairs, colour)``,
    the ``pattern`` drawn ``offset`` above the series and a line per matched ``(i, j)``: week
    ``i`` of the series with week ``j`` of the pattern."""
    fig, axes = _subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (name, distance, series, pairs, colour) in zip(axes, panels, strict=True):
        draw_matches(
            ax,
            pattern,
            series,
            [(j, i) for i, j in pairs],
            offset,
            top_style={"color": "black", "lw": 1.5, "label": f"pattern (+{offset:g})"},
            bottom_style={"color": colour, "label": name},
        )
        ax.set(title=f"{name}: distance {distance:.2f}", xlabel="week")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel(ylabel)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- series and distributions


def series_with_pattern(
    pattern,
    series: Mapping[str, Sequence],
    title: str,
    colors=None,
    pattern_label="optimal pattern",
    ylabel="units",
):
    """Weekly series against a reference pattern (thick, black). Without ``colors`` the series
    are drawn thin and faint, as a backdrop; with them, as the figure's subject."""
    fig, ax = _subplots(figsize=(12, 3.5))
    for k, (label, values) in enumerate(series.items()):
        style = {"lw": 0.8, "alpha": 0.6} if colors is None else {"color": colors[k]}
        ax.plot(np.asarray(values, dtype=float), label=label, **style)
    ax.plot(pattern, color="black", lw=2.5 if colors is None else 2, label=pattern_label)
    ax.set(xlabel="week", ylabel=ylabel, title=title)
    ax.legend(ncol=4 if colors is None else 1, fontsize=8 if colors is None else None)
    return fig


def histogram(
    values,
    xlabel=None,
    ylabel=None,
    title=None,
    marker=None,
    marker_label=None,
    bins=40,
    figsize=(8, 3.5),
):
    """A histogram, with an optional dashed vertical line at ``marker`` (a median, a cut)."""
    fig, ax = _subplots(figsize=figsize)
    ax.hist(values, bins=bins, color="C0")
    if marker is not None:
        ax.axvline(marker, color="black", ls="--", label=marker_label)
        ax.legend()
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return fig


def curve(x, y, xlabel, ylabel, title, xscale=None, **scale):
    """One line with markers: a metric against a setting, on ``xscale`` if given."""
    fig, ax = _subplots(figsize=(7, 3.5))
    ax.plot(x, y, marker="o")
    if xscale:
        ax.set_xscale(xscale, **scale)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return fig


def bar_panels(bars: Mapping[str, tuple], colors=None, scatter=None, panel_width=4.75):
    """Bar charts side by side, ``{title: (labels, heights)}``, and optionally a last panel
    ``scatter = (title, x, y, xlabel, ylabel)``."""
    n = len(bars) + (scatter is not None)
    fig, axes = _subplots(1, n, figsize=(panel_width * n, 3.5))
    axes = np.atleast_1d(axes)
    for k, (ax, (title, (labels, heights))) in enumerate(zip(axes, bars.items(), strict=False)):
        ax.bar([str(v) for v in labels], heights, color=(colors or ["C0"] * len(bars))[k])
        ax.set_title(title)
    if scatter is not None:
        title, x, y, xlabel, ylabel = scatter
        axes[-1].scatter(x, y, s=12)
        axes[-1].set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return fig


def lines_by_group(frame, by: str, x: str, y: str, title: str, ylabel=None, label="{}"):
    """One line per group of ``frame`` (e.g. a forecast per store), legend ``label.format(g)``."""
    fig, ax = _subplots(figsize=(12, 4))
    for key, part in frame.groupby(by):
        ax.plot(part[x], part[y], label=label.format(key))
    ax.set(title=title, ylabel=ylabel)
    ax.legend(ncol=5, fontsize=8)
    return fig


def holdout_panels(
    boxes: Mapping[str, Sequence],
    days,
    box_title: str,
    days_title: str,
    ylabel="sMAPE per series (%)",
):
    """Chapter 3's accuracy figure: the per-series error of each method as box plots (left);
    one series' held-out days with the forecast, its interval and a baseline (right).

    ``days`` has the columns ``ds``, ``y``, ``yhat``, ``yhat_lower``, ``yhat_upper`` and
    ``same_day_last_year``."""
    fig, axes = _subplots(1, 2, figsize=(14, 4))
    axes[0].boxplot(list(boxes.values()), tick_labels=list(boxes))
    axes[0].set(ylabel=ylabel, title=box_title)
    axes[1].plot(days["ds"], days["y"], "k.", label="actual")
    axes[1].plot(days["ds"], days["yhat"], label="Prophet")
    axes[1].fill_between(days["ds"], days["yhat_lower"], days["yhat_upper"], alpha=0.2)
    axes[1].plot(days["ds"], days["same_day_last_year"], lw=0.8, label="same day last year")
    axes[1].set_title(days_title)
    axes[1].legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def confusion_matrix(matrix, row_labels, col_labels, xlabel=None, title=None):
    """A 2-D count matrix as a heat map with each count written in its cell (white on the dark
    cells), rows as the truth, columns as the prediction."""
    matrix = np.asarray(matrix)
    fig, ax = _subplots(figsize=(4.5, 4))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        colour = "white" if v > matrix.max() / 2 else "black"
        ax.text(j, i, f"{v:,}", ha="center", va="center", color=colour)
    ax.set(xticks=range(matrix.shape[1]), yticks=range(matrix.shape[0]), xlabel=xlabel, title=title)
    ax.set_xticklabels(col_labels)
    ax.set_yticklabels(row_labels)
    return fig


# ---------------------------------------------------------------------- maps (chapter 8)


def zone_map(areas, zones, column: str, title: str):
    """Areas (e.g. boroughs) filled by ``column``, with the zones' boundaries on top."""
    fig, ax = _subplots(figsize=(7, 7))
    areas.plot(ax=ax, column=column, alpha=0.5, legend=True)
    zones.boundary.plot(ax=ax, linewidth=0.3, color="black")
    ax.set_title(title)
    ax.set_axis_off()
    return fig


def choropleth(frame, column: str, label: str, title: str, cmap="YlOrRd", outline=None, **style):
    """Polygons (zones, hexagons) coloured by ``column``, with a colour bar named ``label``;
    ``outline`` (a GeoDataFrame) draws context boundaries underneath, ``style`` goes to
    ``GeoDataFrame.plot`` (``linewidth``, ``edgecolor``)."""
    fig, ax = _subplots(figsize=(7, 7))
    if outline is not None:
        outline.boundary.plot(ax=ax, color="grey", linewidth=0.5)
    frame.plot(
        ax=ax,
        column=column,
        cmap=cmap,
        legend=True,
        legend_kwds={"label": label, "shrink": 0.6},
        **style,
    )
    ax.set_title(title)
    ax.set_axis_off()
    return fig


def raster(image, bounds, title, label, outline=None, cmap="RdYlGn", vmin=-0.4, vmax=0.9):
    """A single-band raster (``image``, NaN drawn grey) over ``bounds`` (left, bottom, right,
    top, in the raster's CRS), with ``outline`` (a GeoDataFrame in the same CRS) on top."""
    import matplotlib

    fig, ax = _subplots(figsize=(7, 7))
    colours = matplotlib.colormaps[cmap].copy()
    colours.set_bad("lightgrey")  # NaN: masked or no data
    left, bottom, right, top = bounds
    shown = ax.imshow(
        np.ma.masked_invalid(image),
        extent=(left, right, bottom, top),
        cmap=colours,
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
    )
    if outline is not None:
        outline.boundary.plot(ax=ax, color="black", linewidth=0.4)
    fig.colorbar(shown, ax=ax, shrink=0.6, label=label)
    ax.set_title(title)
    ax.set_axis_off()
    return fig


def accuracy_vs_speed(resolutions, agreement, exact_agreement, exact_label, methods, speeds):
    """Chapter 8's trade-off: agreement with the exact join per H3 resolution, against the
    exact H3 variant (left); points per second of every method, log scale (right)."""
    fig, axes = _subplots(1, 2, figsize=(12, 4))
    axes[0].plot(resolutions, np.asarray(agreement) * 100, "o-", label="H3 cell centre")
    axes[0].axhline(exact_agreement * 100, color="C2", ls="--", label=exact_label)
    axes[0].set(
        xlabel="H3 resolution", ylabel="agreement with the exact join (%)", xticks=list(resolutions)
    )
    axes[0].legend()
    axes[1].barh(list(methods), speeds, color="C1")
    axes[1].set(xscale="log", xlabel="points per second (log)")
    fig.tight_layout()
    return fig


# Folium's pages load Leaflet, jQuery, Bootstrap, Font Awesome and more from six CDN hosts, so
# offline (a laptop on a plane, a book read from disk) a map is a blank page. The maps here use
# only Leaflet and, for the colour legend, d3: both ship with the package (cookbook/assets, with
# their licences) and are inlined as data: URLs; the CDN links nothing here uses are dropped.
_ASSETS = {
    "leaflet.js": "leaflet-1.9.3/leaflet.js",
    "leaflet.css": "leaflet-1.9.3/leaflet.css",
    "d3.min.js": "d3-3.5.5/d3.min.js",
}
_UNUSED = ("jquery", "bootstrap", "awesome-markers", "fontawesome", "awesome.rotate")
_LINK = re.compile(r'<(script|link)\b[^>]*?(?:src|href)="(https?://[^"]+)"[^>]*>(?:\s*</script>)?')


@functools.cache
def _data_uri(name: str) -> str:
    """A shipped asset as a ``data:`` URI, read and encoded once per process (every render of
    every map, saved or shown, inlines the same few hundred kilobytes)."""
    import base64
    from pathlib import Path

    mime = "text/css" if name.endswith(".css") else "text/javascript"
    data = (Path(__file__).parent / "assets" / _ASSETS[name]).read_bytes()
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def offline_html(page: str) -> str:
    """``page`` (a rendered folium map) with Leaflet and d3 inlined and the unused CDN links
    removed. Links it does not know stay, so a test can find them. Map tiles still come from
    the tile server: offline the background stays blank while the layers and legend draw."""

    def replace(match: re.Match) -> str:
        tag, url = match.group(1), match.group(2)
        name = url.rsplit("/", 1)[-1]
        if name in _ASSETS:
            uri = _data_uri(name)
            return (f'<link rel="stylesheet" href="{uri}"/>' if tag == "link"
                    else f'<script src="{uri}"></script>')  # fmt: skip
        if any(word in url.lower() for word in _UNUSED):
            return ""
        return match.group(0)

    return _LINK.sub(replace, page)


def _offline_map(**kwargs):
    """A ``folium.Map`` whose page (saved, or shown in a notebook) works offline. (Tiles from
    OpenStreetMap: xyzservices now marks CARTO's basemaps as needing an API key.)"""
    import branca.element
    import folium

    class OfflineFigure(branca.element.Figure):
        def render(self, **render_kwargs) -> str:
            return offline_html(super().render(**render_kwargs))

    fmap = folium.Map(**kwargs)
    fmap.add_to(OfflineFigure())
    return fmap


def folium_choropleth(frame, key: str, column: str, centre, legend: str, zoom=10):
    """An interactive choropleth (folium) of a GeoDataFrame, coloured by ``column`` and joined
    to its GeoJSON features on the property ``key``."""
    import folium

    fmap = _offline_map(location=centre, zoom_start=zoom, tiles="OpenStreetMap")
    folium.Choropleth(
        geo_data=frame.to_json(),
        data=frame,
        columns=[key, column],
        key_on=f"feature.properties.{key}",
        fill_color="YlOrRd",
        fill_opacity=0.7,
        line_weight=0.3,
        legend_name=legend,
    ).add_to(fmap)
    return fmap


def folium_cells(
    frame, column: str, centre, caption: str, tooltip: Sequence[str], zoom=11, clip=0.99
):
    """An interactive map (folium) of polygons such as H3 hexagons, filled on a viridis scale
    of ``column`` that saturates at its ``clip`` quantile, so one hot cell does not wash out
    the rest."""
    import branca.colormap
    import folium

    top = float(frame[column].quantile(clip))
    # five labels: ten five-digit counts overlap on a 450-pixel legend
    colours = branca.colormap.linear.viridis.scale(0, top, max_labels=5)
    colours.caption = caption
    fmap = _offline_map(location=centre, zoom_start=zoom, tiles="OpenStreetMap")
    folium.GeoJson(
        frame.to_json(),
        style_function=lambda f: {
            "fillColor": colours(min(f["properties"][column], colours.vmax)),
            "color": None,
            "fillOpacity": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(list(tooltip)),
    ).add_to(fmap)
    colours.add_to(fmap)
    return fmap
