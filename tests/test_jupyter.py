"""What `make lab` gives a reader: JupyterLab from the venv, the project kernel registered,
and a notebook cell executed in that kernel (started by the server, driven over the kernel's
websocket channel as JupyterLab does), with tqdm progress bars rendered as widgets."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

KERNEL = "cookbook"  # registered by `make setup` (ipykernel install --sys-prefix)
START_TIMEOUT = 60
CELL_TIMEOUT = 240  # a kernel start and `import cookbook` while other tests load both cores
CELL = """\
import sys, warnings
warnings.simplefilter("always")
import cookbook
from tqdm.auto import tqdm
for _ in tqdm(range(3)):
    pass
print("cookbook", cookbook.__version__, "in", sys.prefix)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (Linux /proc; empty elsewhere)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue
    return pids


class Server:
    def __init__(self, root: Path):
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.runtime = root / "runtime"
        self.log = root / "server.log"
        (root / "notebooks").mkdir()
        env = dict(
            os.environ,
            JUPYTER_RUNTIME_DIR=str(self.runtime),  # connection files of the kernels
            JUPYTER_CONFIG_DIR=str(root / "config"),  # no user configuration
            JUPYTER_DATA_DIR=str(root / "data"),  # no user kernels: `cookbook` is the venv's
            JUPYTER_PLATFORM_DIRS="1",
        )
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyterlab",
                    "--no-browser",
                    "--ServerApp.ip=127.0.0.1",
                    f"--ServerApp.port={self.port}",
                    "--ServerApp.port_retries=0",
                    f"--IdentityProvider.token={self.token}",
                    f"--ServerApp.root_dir={root / 'notebooks'}",
                    *(["--allow-root"] if os.geteuid() == 0 else []),  # as `make lab` does
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as a whole at the end
            )

    def request(self, method: str, path: str, body: dict | None = None):
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = resp.read()
            return resp.status, (json.loads(data) if data.strip().startswith(b"{") else data)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if self.request("GET", "/api/status")[0] == 200:
                    return
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"jupyter lab did not answer /api/status in {START_TIMEOUT} s:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.request("POST", "/api/shutdown")
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


async def execute(server: Server, kernel_id: str, code: str) -> list[dict]:
    """Send one execute_request over the kernel's websocket channel (the legacy JSON protocol
    that JupyterLab falls back to) and return the messages it caused, up to the idle status."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    session = uuid.uuid4().hex
    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={session}"
    ws = await websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {server.token}"}, connect_timeout=10)
    )
    msg_id = uuid.uuid4().hex
    await ws.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "session": session,
                    "username": "test",
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "buffers": [],
                "channel": "shell",
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            }
        )
    )
    replies: list[dict] = []
    try:
        while True:
            raw = await ws.read_message()
            assert raw is not None, "the kernel's websocket closed before the cell finished"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            replies.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                if any(r["msg_type"] == "execute_reply" for r in replies):
                    return replies
    finally:
        ws.close()


def test_lab_runs_a_cell_in_the_project_kernel(tmp_path):
    server = Server(tmp_path)
    kernel_id = None
    try:
        server.wait_ready()
        status, page = server.request("GET", "/lab")
        assert status == 200 and b"JupyterLab" in page

        specs = server.request("GET", "/api/kernelspecs")[1]["kernelspecs"]
        assert KERNEL in specs, f"kernel {KERNEL!r} not registered; have {sorted(specs)}"
        assert specs[KERNEL]["spec"]["display_name"] == "Python 3 (ML Cookbook)"

        status, kernel = server.request("POST", "/api/kernels", {"name": KERNEL})
        assert status == 201 and kernel["name"] == KERNEL
        kernel_id = kernel["id"]

        replies = asyncio.run(asyncio.wait_for(execute(server, kernel_id, CELL), CELL_TIMEOUT))
        by_type: dict[str, list[dict]] = {}
        for msg in replies:
            by_type.setdefault(msg["msg_type"], []).append(msg)
        (reply,) = by_type["execute_reply"]
        assert reply["content"]["status"] == "ok", reply["content"]

        def stream(name: str) -> str:
            return "".join(
                m["content"]["text"]
                for m in by_type.get("stream", [])
                if m["content"]["name"] == name
            )

        assert f"cookbook 0.1.0 in {sys.prefix}" in stream("stdout")
        # ipywidgets is installed: tqdm draws a widget, not the "IProgress not found" warning
        assert "IProgress" not in stream("stderr"), stream("stderr")
        widgets = [
            m
            for m in by_type.get("display_data", [])
            if "application/vnd.jupyter.widget-view+json" in m["content"]["data"]
        ]
        assert widgets, f"no progress-bar widget displayed: {sorted(by_type)}"

        assert server.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204
        kernel_id = None
    finally:
        if kernel_id is not None and server.proc.poll() is None:
            try:
                server.request("DELETE", f"/api/kernels/{kernel_id}")
            except OSError:
                pass
        server.stop()
        # kernels run in their own session, outside the server's process group: anything
        # still using this test's runtime dir (a kernel's connection file) is a leftover
        deadline = time.monotonic() + 10
        while (left := processes_mentioning(str(server.runtime))) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert server.proc.returncode is not None
    assert not left, f"processes left running after the server stopped: {left}"
