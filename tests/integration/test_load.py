"""Load on the process engine: 50 sandboxes at once and 1000 execs among them from 16 client
threads, with list and get traffic alongside — zero errors, and emberd's memory bounded: a
second round of 1000 execs may not grow it by more than a slack (a leak of a few KiB per
exec would show). Figures (emberd's memory per sandbox, exec rate) go to the junit report
and stdout; bench/load_bench.py measures the same on a normal build with latencies."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import ember_client as ec

SANDBOXES = 50
EXECS = 1000
CLIENTS = 16
# ASan keeps freed memory in quarantine (256 MiB by default) and its allocator caches per
# thread: growth from round to round is bounded by that, not by the number of execs
GROWTH_SLACK_KIB = 64 * 1024


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def exec_round(api, ids, n, errors):
    def one(i):
        sid = ids[i % len(ids)]
        r = api.request("POST", f"/sandboxes/{sid}/exec", {"argv": ["echo", str(i)]}, timeout=120)
        if r.status != 200 or r.json["stdout"] != f"{i}\n":
            errors.append(("exec", sid, r))
    t0 = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(n)))
    return n / (time.monotonic() - t0)


def readers(api, ids, stop, errors):
    """list and get traffic while the execs run"""
    def run(k):
        i = 0
        while not stop.is_set():
            r = api.request("GET", "/sandboxes", timeout=60) if i % 2 else \
                api.request("GET", f"/sandboxes/{ids[(k + i) % len(ids)]}", timeout=60)
            if r.status != 200:
                errors.append(("read", r))
            i += 1
    ts = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(2)]
    for t in ts:
        t.start()
    return ts


def test_fifty_sandboxes_and_a_thousand_execs(api, ember, record_testsuite_property):
    pid = ember.proc.pid
    errors = []
    base = rss_kib(pid)
    with ThreadPoolExecutor(8) as pool:  # 8 boots at a time: the host has 2 cores
        made = list(pool.map(lambda _: api.request("POST", "/sandboxes", {"language_pack": "shell"},
                                                   timeout=120), range(SANDBOXES)))
    bad = [r for r in made if r.status != 201]
    ids = [r.json["id"] for r in made if r.status == 201]
    try:
        assert not bad, bad[:3]
        assert len(api.request("GET", "/sandboxes").json["sandboxes"]) == SANDBOXES
        with_sandboxes = rss_kib(pid)
        stop = threading.Event()
        ts = readers(api, ids, stop, errors)
        rate1 = exec_round(api, ids, EXECS, errors)
        after1 = rss_kib(pid)
        rate2 = exec_round(api, ids, EXECS, errors)
        after2 = rss_kib(pid)
        stop.set()
        for t in ts:
            t.join(timeout=60)
        assert not errors, errors[:3]
        per_sandbox = (with_sandboxes - base) / SANDBOXES
        figures = {"emberd_rss_base_kib": base, "emberd_rss_50_sandboxes_kib": with_sandboxes,
                   "emberd_kib_per_sandbox": round(per_sandbox, 1),
                   "emberd_rss_after_1000_execs_kib": after1,
                   "emberd_rss_after_2000_execs_kib": after2,
                   "execs_per_s_round1": round(rate1, 1), "execs_per_s_round2": round(rate2, 1)}
        for k, v in figures.items():
            record_testsuite_property(k, v)
        print(f"\nload figures: {figures}")
        assert after2 - after1 <= GROWTH_SLACK_KIB, figures
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda sid: api.delete(sid), ids))
