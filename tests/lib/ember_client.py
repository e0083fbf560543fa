"""ember_client.py — a tiny HTTP client for emberd over a Unix socket (stdlib only), and
helpers the integration and e2e suites share: starting emberd, and checking that nothing
was left behind (processes, sandbox dirs, jails, mounts, loop devices, host cgroups, and
emberd's own file descriptors)."""
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
STARTED = set()  # pids of the emberds started here and not yet waited for


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
        self.created = set()  # every sandbox id this client saw created: the leak checks' names

    def request(self, method, path, body=None, raw=None, headers=None, timeout=120):
        conn = UnixHTTPConnection(self.sock_path, timeout=timeout)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            hdrs = {"Content-Type": "application/json"} if data is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            resp = Response(r.status, dict(r.getheaders()), r.read())
            if method == "POST" and path == "/sandboxes" and resp.status == 201:
                self.created.add(resp.json["id"])
            return resp
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

    def __init__(self, vmm="process", config=None, extra_args=(), init=None, start=True):
        """start=False: the caller prepares the directory (e.g. mounts the state dir), then
        calls start()."""
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
        # e.g. EMBER_EMBERD_ARGS="--jailer-bin none": every emberd of a run, for a developer
        args += os.environ.get("EMBER_EMBERD_ARGS", "").split()
        self.log_path = self.dir / "emberd.log"
        self.log = None
        env = dict(os.environ)
        env["EMBER_INIT"] = str(init or build_dir() / "guest/init/emberd-init")  # process engine
        self.args, self.env = args, env
        self.proc = None
        self.own_mounts = set()  # a test's own mounts in dir (by source name): not leaks
        self.client = Client(self.sock)
        self.loop_baseline = image_loops(self.dir)
        if start:
            self.start()

    def start(self, timeout=30, wait=True):
        """Starts emberd — again after kill(), on the same state dir, socket and log — and
        returns once it accepts connections (after its restart recovery), or at once."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env)
        STARTED.add(self.proc.pid)
        if not wait:
            return
        deadline = time.time() + timeout
        while not self.accepts():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("emberd did not start:\n" + self.log_path.read_text()[-4000:])
            time.sleep(0.02)

    def accepts(self):
        """Does emberd answer on its socket? A killed one leaves the file behind, and the
        socket listens (connect succeeds) a moment before the HTTP server and its threads and
        fds exist, so only an answer counts: a leak baseline taken earlier would be wrong."""
        try:
            return Client(self.sock).request("GET", "/healthz", timeout=5).status == 200
        except (OSError, http.client.HTTPException):
            return False

    def kill(self):
        """kill -9, as a crash would: no cleanup of any kind."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        STARTED.discard(self.proc.pid)

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
        STARTED.discard(self.proc.pid)
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


def proc_stat(pid):
    """(state, ppid) of a process from /proc/<pid>/stat, or None when it is gone."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def cmdline(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:160].decode(errors="replace")
    except OSError:
        return "?"


def processes_of(ember, ids=None):
    """Live processes (not zombies, not emberd) that belong to this emberd: their command
    line names its directory (an unjailed VMM's --api-sock) or one of its sandbox ids (a
    jailed VMM is reparented away from emberd, but keeps --id)."""
    words = [str(ember.dir).encode()] + [i.encode() for i in (ember.client.created if ids is None else ids)]
    found = []
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) in (ember.proc.pid, os.getpid()):
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
        except OSError:
            continue
        st = proc_stat(p.name)
        if st and st[0] != "Z" and any(w in cmd for w in words):
            found.append(int(p.name))
    return found


def arg_after(cmd, flag):
    """The argument after flag on a NUL-separated command line (bytes), or None."""
    args = cmd.split(b"\0")
    return args[args.index(flag) + 1].decode(errors="replace") if flag in args[:-1] else None


def vmms_of(ember):
    """{pid: sandbox id} of the live VMMs of this emberd's state dir, whether or not emberd
    knows them: an unjailed VMM names its API socket under the state dir, a jailed one has
    a jail of the state dir as its root mount (its --id names the sandbox)."""
    found = {}
    jails = f"{ember.dir}/state/jail/".encode()
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
            sid = arg_after(cmd, b"--id")
            if not sid or not sid.startswith("sb-") or proc_stat(p.name)[0] == "Z":
                continue
            if str(ember.dir).encode() in cmd or jails in (p / "mountinfo").read_bytes():
                found[int(p.name)] = sid
        except (OSError, TypeError):
            continue
    return found


CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")


def host_cgroups(ids, parent="ember"):
    """Host cgroups <parent>/<id> (v1: under any controller; v2: the unified root)."""
    found = []
    for sid in ids:
        found += [str(c) for c in CGROUP_ROOT.glob(f"*/{parent}/{sid}")]
        found += [str(c) for c in CGROUP_ROOT.glob(f"{parent}/{sid}")]
    return found


def leftovers(ember):
    """What a finished test may not leave: processes of emberd (children, and VMMs that name
    its directory or its sandboxes), sandbox dirs, jails, mounts or loop devices that mention
    the state dir or the images, and host cgroups of its sandboxes."""
    found = []
    kids = sorted(set(descendants(ember.proc.pid)) | set(processes_of(ember)))
    if kids:
        found.append(f"processes: {[(k, cmdline(k)) for k in kids]}")
    sbdir = ember.dir / "state" / "sandboxes"
    if sbdir.exists() and any(sbdir.iterdir()):
        found.append(f"sandbox dirs: {[p.name for p in sbdir.iterdir()]}")
    jails = [str(j) for j in (ember.dir / "state" / "jail").glob("*/sb-*")]
    if jails:
        found.append(f"jails: {jails}")
    mounts = [l for l in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()
              if str(ember.dir) in l and not any(m in l for m in ember.own_mounts)]
    if mounts:
        found.append(f"mounts: {mounts}")
    new_loops = image_loops(ember.dir) - ember.loop_baseline
    if new_loops:
        found.append(f"loop devices: {sorted(new_loops)}")
    cgroups = host_cgroups(ember.client.created)
    if cgroups:
        found.append(f"host cgroups: {cgroups}")
    return found


def image_loops(*extra_roots):
    """Loop devices whose backing file is one of the guest images (or a jail's link to it,
    under one of extra_roots)."""
    out = subprocess.run(["losetup", "-a", "--list", "--noheadings", "-O", "NAME,BACK-FILE"],
                         capture_output=True, text=True).stdout
    roots = {str(images_dir().resolve()), os.environ.get("EMBER_CACHE", str(pathlib.Path.home() / ".cache/ember"))}
    roots |= {str(r) for r in extra_roots}
    return {l.strip() for l in out.splitlines() if any(r in l for r in roots)}


def fd_kinds(pid):
    """emberd's open file descriptors, counted by kind (socket, pipe, anon_inode:[pidfd],
    or the file's path)."""
    kinds = {}
    try:
        fds = list(pathlib.Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return kinds
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        kind = target.split(":[", 1)[0] if target.startswith(("socket:", "pipe:")) else target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def fd_diff(before, after):
    """{kind: (before, after)} for every kind emberd holds more of than before (fewer is a
    connection that was still open when `before` was taken)."""
    return {k: (before.get(k, 0), n) for k, n in after.items() if n > before.get(k, 0)}


def wait_fds(ember, before, timeout=5.0):
    """emberd closes a connection's fds when its thread sees the close: settle, then report
    what differs from before."""
    deadline = time.time() + timeout
    while True:
        diff = fd_diff(before, fd_kinds(ember.proc.pid))
        if not diff or time.time() > deadline:
            return diff
        time.sleep(0.05)


# ---- orphans ----
# When emberd is killed (restart recovery tests), its VMMs are reparented to the nearest
# child subreaper, else to PID 1. Where PID 1 does not reap (some containers), they would
# stay zombies: the test process becomes a subreaper and reaps what it inherits.

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_orphans():
    """Reaps the zombie children of this process that it did not start itself (not an
    emberd a Popen still owns). Returns how many."""
    me, n = os.getpid(), 0
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) in STARTED:
            continue
        st = proc_stat(p.name)
        if st and st[1] == me and st[0] == "Z":
            try:
                os.waitpid(int(p.name), os.WNOHANG)
                n += 1
            except ChildProcessError:
                pass
    return n


def wait_clean(ember, timeout=5.0):
    """Teardown is asynchronous in places (autoclear loop devices, reaping): wait for the
    system to settle, then report what is still there."""
    deadline = time.time() + timeout
    while True:
        left = leftovers(ember)
        if not left or time.time() > deadline:
            return left
        time.sleep(0.05)


def sanitizer_reports():
    """Reports of sanitized processes so far, when the run collects them (scripts/test.sh
    sets EMBER_SANITIZER_LOGS and the sanitizers' log_path): {file name: text}."""
    d = os.environ.get("EMBER_SANITIZER_LOGS")
    if not d or not os.path.isdir(d):
        return {}
    texts = {f: (pathlib.Path(d) / f).read_text(errors="replace") for f in sorted(os.listdir(d))}
    # LeakSanitizer also logs warnings that report nothing (a thread that exited while it
    # stopped the world: "Unable to get registers from thread N")
    return {f: t for f, t in texts.items()
            if "ERROR:" in t or "SUMMARY:" in t or "runtime error:" in t}


def assert_no_new_sanitizer_reports(before):
    """LeakSanitizer (at every normal exit), ASan and UBSan reports of any process of the
    suite — emberd, ember-vmm, ember-jailer — that appeared since `before`."""
    new = {f: t for f, t in sanitizer_reports().items() if f not in before}
    assert not new, "sanitizer reports:\n" + "\n".join(f"== {f}\n{t[:6000]}" for f, t in new.items())


def assert_nothing_left(ember, timeout=5.0, fds_before=None):
    """After a test: sandboxes it did not delete are removed (and reported), then nothing
    of emberd's may remain, and (given fds_before = fd_kinds() from before the test) emberd
    holds the same file descriptors as before it."""
    r = ember.client.request("GET", "/sandboxes")
    stale = [s["id"] for s in r.json["sandboxes"]] if r.status == 200 else []
    for sid in stale:
        ember.client.delete(sid)
    left = wait_clean(ember, timeout)
    fds = wait_fds(ember, fds_before, timeout) if fds_before is not None else {}
    assert not stale, f"test left sandboxes: {stale}"
    assert not left, f"test left: {left}"
    assert not fds, f"emberd's open fds changed (kind: (before, after)): {fds}"
