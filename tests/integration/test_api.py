"""The public API's contract: lifecycle, listing, and every kind of bad input gets a clear
JSON error with the right status, and leaves nothing behind."""
import json
import socket
from concurrent.futures import ThreadPoolExecutor


def err(r, status, code=None):
    assert r.status == status, r
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    e = r.json["error"]
    assert isinstance(e["message"], str) and e["message"]
    if code:
        assert e["code"] == code, r
    return e


def test_lifecycle(api):
    sb = api.create("python")
    assert sb["id"] and sb["language_pack"] == "python" and sb["state"] == "ready"
    assert sb["timings"]["ready_ms"] >= 0 and sb["vmm"] == "process"
    got = api.request("GET", f"/sandboxes/{sb['id']}")
    assert got.status == 200 and got.json["id"] == sb["id"]
    ids = [s["id"] for s in api.request("GET", "/sandboxes").json["sandboxes"]]
    assert sb["id"] in ids
    assert api.delete(sb["id"]).status == 204
    err(api.request("GET", f"/sandboxes/{sb['id']}"), 404)


def test_exec_right_after_create_never_races_boot(api):
    for _ in range(5):
        sb = api.create("python")
        assert api.exec(sb["id"], code="print('up')")["stdout"] == "up\n"
        api.delete(sb["id"])


def test_unknown_pack_lists_known_packs(api):
    e = err(api.request("POST", "/sandboxes", {"language_pack": "cobol"}), 400, "unknown_language_pack")
    assert "python" in e["message"] and "shell" in e["message"]


def test_malformed_json(api):
    for raw in [b"{", b"not json", b"[1,2]", b"", b'{"language_pack": "python",}', b"\xff\xfe"]:
        err(api.request("POST", "/sandboxes", raw=raw), 400)


def test_unknown_field_is_named(api):
    e = err(api.request("POST", "/sandboxes", {"language_pack": "python", "gpu": True}), 400)
    assert "gpu" in e["message"]
    sb = api.create("python")
    try:
        e = err(api.request("POST", f"/sandboxes/{sb['id']}/exec", {"code": "1", "shell": True}), 400)
        assert "shell" in e["message"]
    finally:
        api.delete(sb["id"])


def test_wrong_types_name_the_field(api):
    cases = [({"language_pack": 7}, "language_pack"),
             ({"language_pack": "python", "vcpus": "two"}, "vcpus"),
             ({"language_pack": "python", "vcpus": 0}, "vcpus"),
             ({"language_pack": "python", "vcpus": 1000}, "vcpus"),
             ({"language_pack": "python", "memory_mib": -1}, "memory_mib"),
             ({"language_pack": "python", "env": {"A": 1}}, "env"),
             ({"language_pack": "python", "env": ["A=1"]}, "env"),
             ({}, "language_pack")]
    for body, field in cases:
        e = err(api.request("POST", "/sandboxes", body), 400)
        assert field in e["message"], (body, e)


def test_exec_bad_bodies(api):
    sb = api.create("python")
    try:
        path = f"/sandboxes/{sb['id']}/exec"
        for body, field in [({}, "code"), ({"code": "1", "argv": ["x"]}, "argv"),
                            ({"argv": []}, "argv"), ({"argv": "ls"}, "argv"),
                            ({"argv": ["ls", 3]}, "argv"), ({"code": 5}, "code"),
                            ({"code": "1", "timeout_ms": "fast"}, "timeout_ms"),
                            ({"code": "1", "timeout_ms": -5}, "timeout_ms"),
                            ({"code": "1", "timeout_ms": 10 ** 12}, "timeout_ms"),
                            ({"code": "1", "stdin": 3}, "stdin"),
                            ({"code": "1", "cwd": ["/"]}, "cwd"),
                            ({"argv": ["a\u0000b"]}, "argv")]:
            e = err(api.request("POST", path, body), 400)
            assert field in e["message"], (body, e)
        # the sandbox is unharmed
        assert api.exec(sb["id"], code="print(2)")["stdout"] == "2\n"
    finally:
        api.delete(sb["id"])


def test_body_over_limit_is_413(api):
    huge = b'{"language_pack": "python", "env": {"A": "' + b"x" * (9 * 1024 * 1024) + b'"}}'
    err(api.request("POST", "/sandboxes", raw=huge), 413, "body_too_large")


def test_body_over_limit_announced_by_content_length(ember):
    s = socket.socket(socket.AF_UNIX)
    s.connect(ember.sock)
    s.sendall(b"POST /sandboxes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 999999999\r\n\r\n{")
    s.settimeout(10)
    head = s.recv(4096)
    s.close()
    assert head.startswith(b"HTTP/1.1 413"), head


def test_unknown_id_is_404(api):
    for method, path, body in [("GET", "/sandboxes/sb-nope", None),
                               ("DELETE", "/sandboxes/sb-nope", None),
                               ("POST", "/sandboxes/sb-nope/exec", {"code": "1"})]:
        err(api.request(method, path, body), 404)


def test_double_delete_is_404(api):
    sb = api.create("python")
    assert api.delete(sb["id"]).status == 204
    err(api.delete(sb["id"]), 404)


def test_unknown_route_and_method(api):
    err(api.request("GET", "/nope"), 404)
    r = api.request("PUT", "/sandboxes")
    err(r, 405)


def test_language_packs_health_metrics(api):
    packs = api.request("GET", "/language-packs").json["language_packs"]
    names = {p["name"] for p in packs}
    assert {"python", "shell"} <= names
    h = api.request("GET", "/healthz")
    assert h.status == 200 and h.json["status"] == "ok" and h.json["vmm"] == "process"
    m = api.request("GET", "/metrics")
    assert m.status == 200 and m.headers["Content-Type"].startswith("text/plain")
    text = m.raw.decode()
    assert "# TYPE ember_sandboxes gauge" in text and "ember_execs_total" in text


def test_twenty_sandboxes_concurrently(api):
    def one(i):
        sb = api.create("python")
        try:
            r = api.exec(sb["id"], code=f"print({i} * 3)")
            return r["stdout"]
        finally:
            assert api.delete(sb["id"]).status == 204

    with ThreadPoolExecutor(20) as pool:
        outs = list(pool.map(one, range(20)))
    assert outs == [f"{i * 3}\n" for i in range(20)]


def test_exec_after_vmm_death_is_a_clear_error(api, ember):
    import os
    import signal
    import ember_client as ec
    sb = api.create("python")
    vmms = [p for p in ec.descendants(ember.proc.pid)
            if open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0].endswith(b"ember-vmm")
            and sb["id"].encode() in open(f"/proc/{p}/cmdline", "rb").read()]
    assert len(vmms) == 1
    os.kill(vmms[0], signal.SIGKILL)
    r = api.request("POST", f"/sandboxes/{sb['id']}/exec", {"code": "print(1)"})
    err(r, 502)
    api.delete(sb["id"])
