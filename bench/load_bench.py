#!/usr/bin/env python3
"""load_bench.py — emberd under load on the process engine: many sandboxes at once, execs
from concurrent clients, list and get traffic alone and beside the execs, and emberd's own
memory per sandbox. Our own load generator (python threads, one HTTP/1.1 connection per
request over the Unix socket, as emberd's clients do); `wrk` against the TCP listener too
when it is installed. Prints figures and how they were made; asserts nothing.

Usage: bench/load_bench.py [--sandboxes 50] [--execs 1000] [--clients 16] [--build build]"""
import argparse
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "lib"))
import ember_client as ec  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


class Load:
    """n requests from `clients` threads; latencies in ms, errors counted."""

    def __init__(self, api, clients):
        self.api, self.clients = api, clients

    def run(self, n, req):
        lat, errors = [], []
        lock = threading.Lock()

        def one(i):
            t = time.perf_counter()
            ok = req(i)
            ms = (time.perf_counter() - t) * 1000
            with lock:
                lat.append(ms)
                if not ok:
                    errors.append(i)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(self.clients) as pool:
            list(pool.map(one, range(n)))
        return n / (time.perf_counter() - t0), lat, len(errors)


def row(name, rate, lat, errors):
    print(f"  {name:<38} {rate:8.1f}/s   p50 {pct(lat, 50):7.2f} ms   p99 {pct(lat, 99):7.2f} ms"
          f"   errors {errors}   (n={len(lat)})")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wrk(port, path, seconds):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (f"{float(rps.group(1)):8.1f}/s   mean latency {lat.group(1)}   stdev {lat.group(2)}"
            f"   non-2xx {errs.group(1) if errs else 0}") if rps and lat else out.strip()[:200]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sandboxes", type=int, default=50)
    ap.add_argument("--execs", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    os.environ["EMBER_BUILD"] = a.build
    port = free_port()
    e = ec.Emberd(vmm="process", config={"max_sandboxes": max(64, a.sandboxes)},
                  extra_args=["--log-level", "warn", "--listen", f"127.0.0.1:{port}",
                              "--allow-insecure-tcp"])
    api, pid = e.client, e.proc.pid
    load = Load(api, a.clients)
    ids = []
    try:
        base = (rss_kib(pid), fds(pid), threads(pid))

        def create(i):
            r = api.request("POST", "/sandboxes", {"language_pack": "shell"}, timeout=120)
            if r.status == 201:
                ids.append(r.json["id"])
            return r.status == 201
        creates = Load(api, 8).run(a.sandboxes, create)
        time.sleep(0.5)  # let connection threads end before measuring
        full = (rss_kib(pid), fds(pid), threads(pid))

        def ex(i):
            r = api.request("POST", f"/sandboxes/{ids[i % len(ids)]}/exec",
                            {"argv": ["echo", str(i)]}, timeout=120)
            return r.status == 200 and r.json["stdout"] == f"{i}\n"

        def get(i):
            return api.request("GET", f"/sandboxes/{ids[i % len(ids)]}").status == 200

        def lst(i):
            return api.request("GET", "/sandboxes").status == 200
        execs = load.run(a.execs, ex)
        after_execs = rss_kib(pid)
        gets = load.run(a.execs, get)
        lists = load.run(a.execs, lst)
        # list and get while execs run: does reading the map wait on the execs?
        mixed = {}
        t = threading.Thread(target=lambda: mixed.update(ex=load.run(a.execs, ex)))
        t.start()
        mixed["get"] = Load(api, 4).run(a.execs // 2, get)
        mixed["list"] = Load(api, 4).run(a.execs // 2, lst)
        t.join()
        after_all = rss_kib(pid)
        wrk_rows = []
        if shutil.which("wrk"):
            wrk_rows = [("GET /sandboxes", wrk(port, "/sandboxes", 5)),
                        ("GET /sandboxes/{id}", wrk(port, f"/sandboxes/{ids[0]}", 5))]
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda sid: api.delete(sid), ids))
        e.stop()
        e.cleanup()

    print(f"ember load, engine=process, pack=shell, {a.sandboxes} sandboxes, {a.execs} execs per "
          f"phase, {a.clients} client threads (one connection per request, Unix socket)")
    print(f"host: {os.cpu_count()} cpus, {os.uname().release}; build: {a.build}")
    row(f"create {a.sandboxes} (8 at a time)", *creates)
    row("exec argv=[echo, i]", *execs)
    row("GET /sandboxes/{id}", *gets)
    row(f"GET /sandboxes ({a.sandboxes} listed)", *lists)
    row("exec, while list and get run", *mixed["ex"])
    row("  GET /sandboxes/{id} beside (4 clients)", *mixed["get"])
    row("  GET /sandboxes beside (4 clients)", *mixed["list"])
    for name, line in wrk_rows:
        print(f"  wrk -t2 -c32 -d5s {name:<22} {line}")
    if not wrk_rows:
        print("  (wrk not installed: `apt-get install wrk` adds a TCP run of list and get)")
    per = (full[0] - base[0]) / max(1, a.sandboxes)
    print(f"emberd itself: RSS {base[0]} KiB idle, {full[0]} KiB with {a.sandboxes} sandboxes "
          f"({per:.1f} KiB per sandbox), {after_execs} KiB after {a.execs} execs, {after_all} KiB "
          f"at the end; fds {base[1]} -> {full[1]}, threads {base[2]} -> {full[2]}")


if __name__ == "__main__":
    main()
