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
    assert "1 chapter(s) in 0.2 min (12 s), 1 ok" in text  # the whole run's time


@pytest.mark.skipif(__import__("os").name != "posix", reason="Unix sockets are POSIX only")
def test_kernels_talk_over_private_unix_sockets_not_tcp_ports(tmp_path):
    """A TCP port picked free can be taken before the kernel binds it (CI saw it once)."""
    import json
    import os

    import nbformat
    import papermill as pm

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from ipykernel.connect import get_connection_info\nprint(get_connection_info())"
        )
    ]
    nbformat.write(nb, tmp_path / "in.ipynb")
    with runner._kernel_sockets() as config:
        folder = os.path.dirname(config.KernelManager.ip)
        pm.execute_notebook(
            str(tmp_path / "in.ipynb"),
            str(tmp_path / "out.ipynb"),
            kernel_name=runner._kernel_name(),
            config=config,
            progress_bar=False,
        )
    info = json.loads(nbformat.read(tmp_path / "out.ipynb", 4).cells[0].outputs[0].text)
    assert info["transport"] == "ipc"
    assert os.path.dirname(info["ip"]) == folder
    assert not os.path.exists(folder)


def test_an_mlflow_deprecation_in_a_notebook_output_is_found(tmp_path):
    import nbformat
    from notebook_run import assert_no_mlflow_deprecation

    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stderr", text="")
    nb.cells = [nbformat.v4.new_code_cell("log_model()", outputs=[out])]
    quiet = [
        ".venv/lib/python3.11/site-packages/mlflow/types/utils.py:440: UserWarning: Hint: ...\n",
        "tensorflow: this op is deprecated\n",  # not MLflow's
    ]
    loud = [
        ".venv/lib/python3.11/site-packages/mlflow/spark/__init__.py:99: FutureWarning: "
        "`artifact_path` is deprecated. Please use `name` instead.\n",
        "2026/11/29 12:00:00 WARNING mlflow.models.model: `artifact_path` is deprecated\n",
    ]
    for text, fails in [(line, False) for line in quiet] + [(line, True) for line in loud]:
        out.text = text
        nbformat.write(nb, tmp_path / "nb.ipynb")
        if fails:
            with pytest.raises(AssertionError, match="cell 0: .*deprecated"):
                assert_no_mlflow_deprecation(tmp_path / "nb.ipynb")
        else:
            assert_no_mlflow_deprecation(tmp_path / "nb.ipynb")
