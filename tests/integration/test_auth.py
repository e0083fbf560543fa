"""API authentication: every TCP listener needs the bearer token (a file) unless it is
loopback and --allow-insecure-tcp says so; 401 `unauthorized` JSON without it; emberd
refuses to start with an unprotected TCP listener; the Unix socket gets --socket-mode and
--socket-group, and each request on it logs the peer's pid, uid and gid. All traffic goes to
127.0.0.1 (a 0.0.0.0 listener is reached through loopback)."""
import grp
import http.client
import json
import os
import re
import stat
import subprocess
import time

import pytest

import ember_client as ec

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def token_file(tmp_path):
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    f.chmod(0o600)
    return f


def tcp_port(e, host):
    """The port a listener on host got (port 0 was asked), from emberd's log."""
    deadline = time.time() + 10
    while time.time() < deadline:
        m = re.search(rf"listening on {re.escape(host)}:(\d+)", e.log_path.read_text(errors="replace"))
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    raise AssertionError("no TCP listener in the log")


def tcp(port, method, path, token=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        hdrs = {"Authorization": f"Bearer {token}"} if token else {}
        data = json.dumps(body).encode() if body is not None else None
        if data:
            hdrs["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=hdrs)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def unauthorized(res):
    status, headers, raw = res
    assert status == 401, (status, raw)
    assert json.loads(raw)["error"]["code"] == "unauthorized"
    assert headers.get("WWW-Authenticate") == "Bearer"


def run_emberd(e_args):
    """emberd that must refuse to start: its exit status and output."""
    d = ec.Emberd(vmm="process", start=False)
    try:
        r = subprocess.run(d.args + e_args, env=d.env, capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr
    finally:
        d.cleanup()


def test_non_loopback_listener_needs_the_token(token_file):
    e = ec.Emberd(vmm="process", extra_args=["--listen", "0.0.0.0:0", "--token-file", str(token_file)])
    try:
        port = tcp_port(e, "0.0.0.0")
        unauthorized(tcp(port, "GET", "/healthz"))
        unauthorized(tcp(port, "GET", "/healthz", token="wrong"))
        unauthorized(tcp(port, "GET", "/healthz", token=TOKEN + "x"))
        unauthorized(tcp(port, "POST", "/sandboxes", body={"language_pack": "shell"}))
        assert tcp(port, "GET", "/healthz", token=TOKEN)[0] == 200
        # the Unix socket is guarded by its file mode, not the token
        assert e.client.request("GET", "/healthz").status == 200
        assert not ec.processes_of(e)  # a refused create started nothing
    finally:
        rc, log = e.stop()
        e.cleanup()
    assert rc == 0, log[-3000:]


def test_loopback_needs_the_token_unless_explicitly_allowed(token_file):
    e = ec.Emberd(vmm="process", extra_args=["--listen", "127.0.0.1:0", "--token-file", str(token_file)])
    try:
        port = tcp_port(e, "127.0.0.1")
        unauthorized(tcp(port, "GET", "/sandboxes"))
        assert tcp(port, "GET", "/sandboxes", token=TOKEN)[0] == 200
    finally:
        assert e.stop()[0] == 0
        e.cleanup()
    e = ec.Emberd(vmm="process", extra_args=["--listen", "127.0.0.1:0", "--allow-insecure-tcp"])
    try:
        assert tcp(tcp_port(e, "127.0.0.1"), "GET", "/sandboxes")[0] == 200
    finally:
        assert e.stop()[0] == 0
        e.cleanup()


@pytest.mark.parametrize("args, says", [
    (["--listen", "0.0.0.0:0"], "not loopback"),
    (["--listen", "0.0.0.0:0", "--allow-insecure-tcp"], "not loopback"),
    (["--listen", "127.0.0.1:0"], "--allow-insecure-tcp"),
    (["--socket-group", "no-such-group-here"], "no such group"),
])
def test_unprotected_listeners_are_refused_at_startup(args, says):
    rc, out = run_emberd(args)
    assert rc != 0 and says in out, (rc, out)


def test_socket_mode_group_and_peer_credentials():
    group = grp.getgrgid(1).gr_name  # "daemon" on Debian: any group but ours
    e = ec.Emberd(vmm="process", extra_args=["--socket-mode", "0600", "--socket-group", group])
    try:
        st = os.stat(e.sock)
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_gid == 1, (oct(st.st_mode), st.st_gid)
        assert e.client.request("GET", "/healthz").status == 200
        # the line is written once the response is out: wait for it
        want = rf"GET /healthz 200 .* peer pid={os.getpid()} uid=0 gid=0"
        deadline = time.time() + 10
        while not re.search(want, e.log_path.read_text(errors="replace")) and time.time() < deadline:
            time.sleep(0.05)
        log = e.log_path.read_text(errors="replace")
        assert re.search(want, log), log[-2000:]
    finally:
        assert e.stop()[0] == 0
        e.cleanup()
