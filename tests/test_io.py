import json
import os
import stat

import pytest

from cookbook.io import atomic_open, atomic_path, write_json

pytestmark = pytest.mark.unit


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_atomic_open_writes_and_renames(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    with atomic_open(target) as fh:
        fh.write("hello")
        assert not target.exists()  # nothing visible until the block succeeds
    assert target.read_text() == "hello"
    assert _leftovers(target.parent) == ["file.txt"]


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target) as fh:
            fh.write("half-written")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == ["file.txt"]


def test_atomic_path_for_path_based_writers(tmp_path):
    target = tmp_path / "data.bin"
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise ValueError("writer failed")
    assert _leftovers(tmp_path) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_write_json_and_read_only_mode_rejected(tmp_path):
    path = write_json(tmp_path / "m.json", {"b": 1, "a": "x"})
    assert json.loads(path.read_text()) == {"a": "x", "b": 1}
    with pytest.raises(ValueError, match="for writing"):
        with atomic_open(tmp_path / "m.json", "r"):
            pass


def test_atomic_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_json(tmp_path / "x.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
