import pytest

from cookbook import runner

pytestmark = pytest.mark.unit


def test_every_chapter_has_its_notebook_with_a_parameters_cell():
    import nbformat

    for ch in runner.CHAPTERS:
        nb = nbformat.read(runner.notebooks_dir() / ch.notebook, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, ch.notebook
        for name in ("DATA_SOURCE", "SMOKE", "OUTPUT_DIR"):
            assert f"{name} =" in tagged[0].source, (ch.notebook, name)
        assert nb.metadata.kernelspec.name == runner.KERNEL_NAME
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_chapter_lookup():
    assert runner.chapter("2").key == "02-dtw-sales-trends"
    assert runner.chapter("01-dtw-background").notebook == "01_dtw_background.ipynb"
    assert runner.chapter("02_dtw_sales_trends").key == "02-dtw-sales-trends"
    with pytest.raises(KeyError, match="unknown chapter '9'"):
        runner.chapter("9")


def test_summary_lists_metrics_time_and_locations(tmp_path):
    ch = runner.chapter("2")
    text = runner.summary(
        [(ch, "ok", {"median_distance": 7.894017, "closest_product": "P675"}, 12.3, "nb.ipynb")],
        tmp_path,
    )
    assert "02-dtw-sales-trends" in text and "[ok, 12 s]" in text
    assert "median_distance" in text and "7.894" in text and "P675" in text
    assert str(tmp_path) in text and "sqlite:///" in text
