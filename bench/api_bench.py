#!/usr/bin/env python3
"""api_bench.py — latency of ember's sandbox operations on a given engine, beside the same
commands run by plain fork+exec on the host in the same run. Prints figures and how they
were made; asserts nothing.

Usage: bench/api_bench.py [--vmm process|qemu] [-n N] [--build build]"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "lib"))
import ember_client as ec  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def row(name, xs):
    print(f"  {name:<34} p50 {pct(xs, 50):8.2f} ms   p99 {pct(xs, 99):8.2f} ms   (n={len(xs)})")


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return (time.perf_counter() - t) * 1000, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", default="process")
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    os.environ["EMBER_BUILD"] = a.build
    e = ec.Emberd(vmm=a.vmm, extra_args=["--log-level", "warn"])
    api = e.client
    try:
        create, ex_true, ex_py, delete, cycle = [], [], [], [], []
        for _ in range(a.n):
            t, sb = timed(lambda: api.create("python"))
            create.append(t)
            t, _ = timed(lambda: api.exec(sb["id"], argv=["true"]))
            ex_true.append(t)
            t, r = timed(lambda: api.exec(sb["id"], code="print(6*7)"))
            assert r["stdout"] == "42\n", r
            ex_py.append(t)
            t, _ = timed(lambda: api.delete(sb["id"]))
            delete.append(t)
        t0 = time.perf_counter()
        for _ in range(a.n):
            sb = api.create("python")
            api.exec(sb["id"], argv=["true"])
            api.delete(sb["id"])
        cycle_rate = a.n / (time.perf_counter() - t0)

        host_true = [timed(lambda: subprocess.run(["true"]))[0] for _ in range(a.n)]
        host_py = [timed(lambda: subprocess.run(["/usr/bin/python3", "-c", "print(6*7)"], capture_output=True))[0]
                   for _ in range(a.n)]
    finally:
        e.stop()
        e.cleanup()

    print(f"ember API latency, engine={a.vmm}, pack=python, {a.n} rounds, sequential,")
    print(f"client = python http.client over emberd's Unix socket, wall clock per request")
    print(f"host: {os.cpu_count()} cpus, {os.uname().release}; build: {a.build}")
    row("create (boot to agent ready)", create)
    row("exec argv=[true]", ex_true)
    row("exec code=print(6*7)", ex_py)
    row("delete", delete)
    print(f"  {'create+exec true+delete':<34} {cycle_rate:8.1f} per second (sequential)")
    print("same commands by plain fork+exec on the host (subprocess.run):")
    row("host: true", host_true)
    row("host: /usr/bin/python3 -c print(6*7)", host_py)


if __name__ == "__main__":
    main()
