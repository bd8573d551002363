import pytest

from cookbook.notebook import check_source, output_dir
from cookbook.tracking import record_results

pytestmark = pytest.mark.unit


def test_output_dir_defaults_relative_and_absolute(sandbox, tmp_path):
    assert output_dir("", "99-x") == sandbox / "output" / "99-x"
    from cookbook.config import project_root

    rel = output_dir("output/tmp-test-dir", "99-x")
    assert rel == project_root() / "output" / "tmp-test-dir" and rel.is_dir()
    rel.rmdir()
    assert output_dir(str(tmp_path / "abs"), "99-x") == tmp_path / "abs"


def test_a_new_run_does_not_inherit_stale_results(tmp_path):
    out = output_dir(str(tmp_path), "99-x")
    record_results(out, {"planted_recall_at_k": 1.0}, log_to_mlflow=False)
    out = output_dir(str(tmp_path), "99-x")  # the next run of the notebook
    merged = record_results(out, {"median_distance": 7.9}, log_to_mlflow=False)
    assert merged == {"median_distance": 7.9}


def test_check_source():
    assert check_source("real") == "real"
    with pytest.raises(ValueError, match="DATA_SOURCE must be 'synthetic' or 'real', got 'csv'"):
        check_source("csv")
