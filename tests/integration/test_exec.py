"""Exec semantics through the whole stack: emberd -> Firecracker API -> ember-vmm process
engine -> hybrid vsock -> emberd-init's agent, inside the python pack."""
import json
import time


def test_print_42(api, sandbox):
    r = api.exec(sandbox["id"], code="print(6*7)")
    assert r["stdout"] == "42\n"
    assert r["stderr"] == ""
    assert r["exit_code"] == 0 and r["signal"] is None
    assert r["timed_out"] is False
    assert r["stdout_truncated"] is False and r["stderr_truncated"] is False
    assert isinstance(r["duration_ms"], int) and r["duration_ms"] >= 0


def test_exit_code_is_propagated(api, sandbox):
    r = api.exec(sandbox["id"], code="import sys; sys.exit(3)")
    assert r["exit_code"] == 3 and r["signal"] is None
    r = api.exec(sandbox["id"], argv=["sh", "-c", "exit 255"])
    assert r["exit_code"] == 255


def test_signal_is_reported(api, sandbox):
    r = api.exec(sandbox["id"], argv=["sh", "-c", "kill -9 $$"])
    assert r["exit_code"] is None and r["signal"] == 9


def test_stderr_is_captured(api, sandbox):
    r = api.exec(sandbox["id"], code="import sys; print('out'); print('bad', file=sys.stderr)")
    assert r["stdout"] == "out\n" and r["stderr"] == "bad\n"
    r = api.exec(sandbox["id"], code="raise ValueError('boom')")
    assert r["exit_code"] == 1 and "ValueError: boom" in r["stderr"]


def test_stdin_is_piped(api, sandbox):
    r = api.exec(sandbox["id"], code="import sys; print(sys.stdin.read().upper())", stdin="hello\nworld")
    assert r["stdout"] == "HELLO\nWORLD\n"
    big = "x" * (3 * 1024 * 1024)
    r = api.exec(sandbox["id"], argv=["wc", "-c"], stdin=big)
    assert r["stdout"].strip() == str(len(big))


def test_program_closing_stdin_early(api, sandbox):
    r = api.exec(sandbox["id"], argv=["sh", "-c", "exec 0<&-; echo done"], stdin="y" * 1_000_000)
    assert r["stdout"] == "done\n" and r["exit_code"] == 0


def test_timeout_fires_and_sandbox_stays_usable(api, sandbox):
    r = api.exec(sandbox["id"], code="import time; print('before', flush=True); time.sleep(60)",
                 timeout_ms=500)
    assert r["timed_out"] is True
    assert r["stdout"] == "before\n"
    assert r["signal"] == 9
    assert r["duration_ms"] < 30000
    r = api.exec(sandbox["id"], code="print('after')")
    assert r["stdout"] == "after\n" and r["timed_out"] is False


def test_timeout_kills_the_whole_process_group(api, sandbox):
    r = api.exec(sandbox["id"], argv=["sh", "-c", "sleep 100 & sleep 100 & wait"], timeout_ms=300)
    assert r["timed_out"] is True
    ps = api.exec(sandbox["id"], code=PS)
    assert "sleep" not in ps["stdout"], ps["stdout"]


PS = """
import os
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            st = open(f'/proc/{p}/stat').read()
        except OSError:
            continue
        name, rest = st.rsplit(')', 1)
        print(p, name.split('(', 1)[1], rest.split()[0])
"""


def test_double_fork_orphans_are_reaped(api, sandbox):
    code = """
import os, time
if os.fork() == 0:
    if os.fork() == 0:
        time.sleep(0.3)
        os._exit(0)
    os._exit(0)
os.wait()
print('parent done')
"""
    r = api.exec(sandbox["id"], code=code)
    assert r["stdout"] == "parent done\n"
    deadline = time.time() + 10
    while True:
        ps = api.exec(sandbox["id"], code=PS)["stdout"].splitlines()
        zombies = [l for l in ps if l.split()[-1] == "Z"]
        sleepers = [l for l in ps if "python3" in l and l.split()[-1] != "Z"]
        if not zombies and len(sleepers) <= 1:  # only the ps script itself
            break
        assert time.time() < deadline, f"zombies or orphans left: {ps}"
        time.sleep(0.2)


def test_output_flood_is_capped_and_flagged(api, sandbox):
    code = "import sys\nfor _ in range(40): sys.stdout.write('x' * (1 << 20))\nsys.stderr.write('e' * (3 << 20))"
    r = api.request("POST", f"/sandboxes/{sandbox['id']}/exec", {"code": code})
    assert r.status == 200
    assert len(r.raw) < 3 * 1024 * 1024, "response must stay bounded"
    j = r.json
    assert j["stdout_truncated"] is True and j["stderr_truncated"] is True
    assert len(j["stdout"]) == 1024 * 1024 and len(j["stderr"]) == 1024 * 1024
    assert j["exit_code"] == 0


def test_endless_flood_with_timeout(api, sandbox):
    r = api.exec(sandbox["id"], argv=["yes"], timeout_ms=500)
    assert r["timed_out"] is True and r["stdout_truncated"] is True
    assert len(r["stdout"]) == 1024 * 1024


def test_non_utf8_output_gives_valid_json(api, sandbox):
    code = "import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe \\xc3 \\xed\\xa0\\x80 \\x00 end')"
    r = api.request("POST", f"/sandboxes/{sandbox['id']}/exec", {"code": code})
    assert r.status == 200
    out = json.loads(r.raw.decode("utf-8"))["stdout"]  # strict UTF-8 decode of the body
    assert out.startswith("ok ") and out.endswith(" end") and "\ufffd" in out


def test_env_and_cwd(api, sandbox):
    r = api.exec(sandbox["id"], code="import os; print(os.environ['FOO'], os.getcwd())",
                 env={"FOO": "bar baz"}, cwd="/tmp")
    assert r["stdout"] == "bar baz /tmp\n"
    r = api.exec(sandbox["id"], argv=["sh", "-c", "echo $HOME $PATH"])
    assert r["stdout"].startswith("/root ")


def test_sandbox_env_applies_and_request_env_wins(api):
    sb = api.create("python", env={"A": "1", "B": "2"})
    try:
        r = api.exec(sb["id"], argv=["sh", "-c", "echo $A $B"], env={"B": "3"})
        assert r["stdout"] == "1 3\n"
    finally:
        api.delete(sb["id"])


def test_missing_program_and_bad_cwd(api, sandbox):
    r = api.exec(sandbox["id"], argv=["/no/such/program"])
    assert r["exit_code"] == 127 and "No such file" in r["stderr"]
    r = api.exec(sandbox["id"], argv=["true"], cwd="/no/such/dir")
    assert r["exit_code"] == 126 and "/no/such/dir" in r["stderr"]


def test_argv_runs_program_without_shell(api, sandbox):
    r = api.exec(sandbox["id"], argv=["echo", "$HOME", "a b"])
    assert r["stdout"] == "$HOME a b\n"


def test_concurrent_execs_in_one_sandbox(api, sandbox):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda i: api.exec(sandbox["id"], code=f"print({i}*2)"), range(16)))
    assert [r["stdout"] for r in rs] == [f"{i*2}\n" for i in range(16)]


def test_slow_exec_does_not_block_other_requests(api, sandbox):
    """An exec that only ends when told to; create, list and delete of another sandbox must
    complete while it is still running (ordering, not timing)."""
    import threading
    done = {}
    wait_code = "import os, time\nwhile not os.path.exists('/tmp/go'): time.sleep(0.02)\nprint('released')"
    t = threading.Thread(target=lambda: done.update(r=api.exec(sandbox["id"], code=wait_code, timeout_ms=60000)))
    t.start()
    other = api.create("python")
    assert api.request("GET", "/sandboxes").status == 200
    assert api.request("GET", f"/sandboxes/{other['id']}").status == 200
    assert api.exec(other["id"], code="print(1)")["stdout"] == "1\n"
    assert api.delete(other["id"]).status == 204
    assert t.is_alive(), "the slow exec finished before the others: it was not slow enough to test"
    api.exec(sandbox["id"], argv=["touch", "/tmp/go"])
    t.join(60)
    assert done["r"]["stdout"] == "released\n"
