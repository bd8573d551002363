"""Fetching originals: cache -> mirror -> network, with checksums and clean failures.

The network is a real HTTP server on 127.0.0.1 started by the test."""

import hashlib
import http.server
import threading
from functools import partial

import pytest

from cookbook.datasets import (
    ChecksumMismatchError,
    DatasetUnavailableError,
    DownloadSpec,
    RemoteFile,
    fetch,
)

pytestmark = pytest.mark.unit

PAYLOAD = b"Product_Code,W0\r\nP1,3\r\n"
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www over HTTP on loopback; yields the base URL."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "good.csv").write_bytes(PAYLOAD)
    (www / "changed.csv").write_bytes(PAYLOAD + b"P2,4\r\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _spec(url, sha=SHA, mirror_path="demo/file.csv"):
    return DownloadSpec(
        name="demo",
        title="Demo dataset",
        homepage="https://example.org/demo",
        license="test",
        files=(RemoteFile("file.csv", url, sha, mirror_path),),
    )


def _cache(sandbox):
    return sandbox / "data" / "real" / "demo"


def _closed_port_url():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.csv"  # nothing listens there any more


def test_download_verifies_and_caches(server, sandbox, no_mirror):
    path = fetch(_spec(f"{server}/good.csv"), "file.csv")
    assert path == _cache(sandbox) / "file.csv"
    assert path.read_bytes() == PAYLOAD
    # second call is a cache hit: works with the server address now unreachable
    assert fetch(_spec(_closed_port_url()), "file.csv") == path
    path.unlink()


def test_checksum_mismatch_on_download_keeps_nothing(server, sandbox, no_mirror):
    with pytest.raises(ChecksumMismatchError, match=r"changed\.csv.*does not match sha256"):
        fetch(_spec(f"{server}/changed.csv"), "file.csv")
    cache = _cache(sandbox)
    assert not cache.exists() or list(cache.iterdir()) == []  # no partial or temp file


def test_offline_gives_a_clear_error_and_no_file(sandbox, no_mirror):
    url = _closed_port_url()
    with pytest.raises(DatasetUnavailableError) as info:
        fetch(_spec(url), "file.csv")
    text = str(info.value)
    assert "demo/file.csv" in text and url in text
    assert "COOKBOOK_DATA_MIRROR" in text and "synthetic" in text
    cache = _cache(sandbox)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_mirror_is_read_in_place_after_its_checksum(tmp_path, monkeypatch, sandbox):
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "demo" / "file.csv").write_bytes(PAYLOAD)
    monkeypatch.setenv("COOKBOOK_DATA_MIRROR", str(mirror))
    path = fetch(_spec(_closed_port_url()), "file.csv")
    assert path == mirror / "demo" / "file.csv"  # not copied into the project
    assert not (_cache(sandbox) / "file.csv").exists()

    (mirror / "demo" / "file.csv").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatchError, match=r"mirror/demo/file\.csv: sha256 is"):
        fetch(_spec(_closed_port_url()), "file.csv")


def test_corrupt_cache_is_replaced(server, sandbox, no_mirror):
    cache = _cache(sandbox)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "file.csv").write_bytes(b"truncated")
    path = fetch(_spec(f"{server}/good.csv"), "file.csv")
    assert path.read_bytes() == PAYLOAD
    path.unlink()


def test_download_disabled_and_unknown_file(no_mirror):
    spec = _spec("http://127.0.0.1:9/x")
    with pytest.raises(DatasetUnavailableError, match="downloading disabled"):
        fetch(spec, "file.csv", download=False)
    with pytest.raises(KeyError, match="no file 'other.csv'"):
        fetch(spec, "other.csv")


def test_a_download_shows_progress_to_a_watcher_and_none_in_ci(
    server, sandbox, no_mirror, monkeypatch, capsys
):
    import sys

    class Terminal:  # stderr on a terminal
        def __init__(self, stream):
            self.stream = stream

        def isatty(self):
            return True

        def write(self, text):
            return self.stream.write(text)

        def flush(self):
            self.stream.flush()

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", Terminal(sys.stderr))
    path = fetch(_spec(f"{server}/good.csv"), "file.csv")
    assert "downloading file.csv" in capsys.readouterr().err
    path.unlink()
    monkeypatch.setenv("CI", "true")
    path = fetch(_spec(f"{server}/good.csv"), "file.csv")
    assert "downloading" not in capsys.readouterr().err
    path.unlink()
