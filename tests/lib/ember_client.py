"""ember_client.py — a tiny HTTP client for emberd over a Unix socket (stdlib only), and
helpers the integration and e2e suites share: starting emberd, and checking that nothing
was left behind."""
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.raw = status, headers, body

    @property
    def json(self):
        return json.loads(self.raw)

    def error_code(self):
        return self.json["error"]["code"]

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


class Client:
    def __init__(self, sock_path):
        self.sock_path = sock_path

    def request(self, method, path, body=None, raw=None, headers=None, timeout=120):
        conn = UnixHTTPConnection(self.sock_path, timeout=timeout)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            hdrs = {"Content-Type": "application/json"} if data is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            conn.close()

    def create(self, pack="python", **kw):
        r = self.request("POST", "/sandboxes", {"language_pack": pack, **kw})
        assert r.status == 201, r
        return r.json

    def exec(self, sid, **kw):
        r = self.request("POST", f"/sandboxes/{sid}/exec", kw)
        assert r.status == 200, r
        return r.json

    def delete(self, sid):
        return self.request("DELETE", f"/sandboxes/{sid}")


def build_dir():
    return ROOT / os.environ.get("EMBER_BUILD", "build")


def images_dir():
    return pathlib.Path(os.environ.get("EMBER_IMAGES", ROOT / "build" / "images"))


class Emberd:
    """A real emberd on a private state dir and Unix socket."""

    def __init__(self, vmm="process", config=None, extra_args=(), init=None):
        # short path: sandbox sockets must fit in sun_path (108 bytes)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="emb-", dir="/tmp"))
        self.sock = str(self.dir / "api.sock")
        args = [str(build_dir() / "src/daemon/emberd"),
                "--listen", "unix:" + self.sock,
                "--state-dir", str(self.dir / "state"),
                "--images-dir", str(images_dir()),
                "--vmm", vmm,
                "--vmm-bin", str(build_dir() / "src/compat/ember-vmm"),
                "--log-level", "debug"]
        if config is not None:
            cfg = self.dir / "config.json"
            cfg.write_text(json.dumps(config))
            args += ["--config", str(cfg)]
        args += list(extra_args)
        self.log_path = self.dir / "emberd.log"
        self.log = open(self.log_path, "wb")
        env = dict(os.environ)
        env["EMBER_INIT"] = str(init or build_dir() / "guest/init/emberd-init")  # process engine
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("emberd did not start:\n" + self.log_path.read_text())
            time.sleep(0.02)
        self.client = Client(self.sock)
        self.loop_baseline = image_loops()

    def stop(self):
        """SIGTERM, expect a clean exit (status 0; a sanitizer report makes it non-zero)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        rc = self.proc.returncode
        log = self.log_path.read_text(errors="replace")
        return rc, log

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def descendants(pid):
    """Every live process whose ancestry includes pid (by /proc ppid links)."""
    parent = {}
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            parent[int(p.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    out = []
    for child in parent:
        q = child
        while q in parent and q > 1:
            q = parent[q]
            if q == pid:
                out.append(child)
                break
    return out


def leftovers(ember):
    """What a finished test may not leave: child processes of emberd, sandbox dirs,
    mounts or loop devices that mention the state dir or the images."""
    found = []
    kids = descendants(ember.proc.pid)
    if kids:
        found.append(f"processes: {kids}")
    sbdir = ember.dir / "state" / "sandboxes"
    if sbdir.exists() and any(sbdir.iterdir()):
        found.append(f"sandbox dirs: {[p.name for p in sbdir.iterdir()]}")
    mounts = [l for l in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()
              if str(ember.dir) in l]
    if mounts:
        found.append(f"mounts: {mounts}")
    new_loops = image_loops() - ember.loop_baseline
    if new_loops:
        found.append(f"loop devices: {sorted(new_loops)}")
    return found


def image_loops():
    """Loop devices whose backing file is one of the guest images."""
    out = subprocess.run(["losetup", "-a", "--list", "--noheadings", "-O", "NAME,BACK-FILE"],
                         capture_output=True, text=True).stdout
    roots = {str(images_dir().resolve()), os.environ.get("EMBER_CACHE", str(pathlib.Path.home() / ".cache/ember"))}
    return {l.strip() for l in out.splitlines() if any(r in l for r in roots)}


def wait_clean(ember, timeout=5.0):
    """Teardown is asynchronous in places (autoclear loop devices, reaping): wait for the
    system to settle, then report what is still there."""
    deadline = time.time() + timeout
    while True:
        left = leftovers(ember)
        if not left or time.time() > deadline:
            return left
        time.sleep(0.05)


def assert_nothing_left(ember, timeout=5.0):
    """After a test: sandboxes it did not delete are removed (and reported), then nothing
    of emberd's may remain."""
    r = ember.client.request("GET", "/sandboxes")
    stale = [s["id"] for s in r.json["sandboxes"]] if r.status == 200 else []
    for sid in stale:
        ember.client.delete(sid)
    left = wait_clean(ember, timeout)
    assert not stale, f"test left sandboxes: {stale}"
    assert not left, f"test left: {left}"
