"""e2e fixtures: a real emberd driving real microVMs — ember-vmm's qemu engine (tier 3) and,
where it can run, real Firecracker (tier 4: the same tests, skipped with a reason elsewhere).

Booting is slow under TCG, so one python sandbox per tier is shared by the exec cases
(`py`); the per-test leak check leaves exactly that sandbox alone and holds everything else
to "nothing left"."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
import ember_client as ec  # noqa: E402
from e2e_util import firecracker_missing, start_emberd, vmm_args, wait_clean_except  # noqa: E402


@pytest.fixture(scope="module", params=["qemu", "firecracker"])
def ember(request):
    vmm = request.param
    if vmm == "firecracker":
        why = firecracker_missing()
        if why:
            pytest.skip(f"firecracker tier skipped: {why}")
    for f in ("vmlinux", "initramfs.img", "python.squashfs", "shell.squashfs"):
        if not (ec.images_dir() / f).exists():
            pytest.fail(f"guest image {f} is missing in {ec.images_dir()}: run `make images`")
    e = start_emberd(vmm=vmm, extra_args=vmm_args(vmm))
    e.vmm = vmm
    e.shared = set()  # sandboxes module fixtures keep across tests
    yield e
    rc, log = e.stop()
    e.cleanup()
    assert rc == 0, log[-4000:]


@pytest.fixture
def api(ember):
    return ember.client


@pytest.fixture(scope="module")
def py(ember):
    """The python sandbox the exec cases share (one boot per tier)."""
    sb = ember.client.create("python")
    ember.shared.add(sb["id"])
    yield sb
    ember.shared.discard(sb["id"])
    assert ember.client.delete(sb["id"]).status == 204


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    yield
    if "ember" not in request.fixturenames:
        return
    e = request.getfixturevalue("ember")
    r = e.client.request("GET", "/sandboxes")
    stale = [s["id"] for s in r.json["sandboxes"] if s["id"] not in e.shared] if r.status == 200 else []
    for sid in stale:
        e.client.delete(sid)
    left = wait_clean_except(e, e.shared)
    assert not stale, f"test left sandboxes: {stale}"
    assert not left, f"test left: {left}"
