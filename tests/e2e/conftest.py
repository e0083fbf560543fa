"""e2e fixtures: a real emberd driving real microVMs — ember-vmm's qemu engine (tier 3) and,
where it can run, real Firecracker (tier 4, skipped with a reason elsewhere)."""
import os
import pathlib
import shutil
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
import ember_client as ec  # noqa: E402


def firecracker_missing():
    fc = os.environ.get("EMBER_FIRECRACKER") or shutil.which("firecracker")
    if not fc:
        return "no firecracker binary (set EMBER_FIRECRACKER or put it in PATH)"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is missing or not accessible"
    return None


@pytest.fixture(scope="module", params=["qemu", "firecracker"])
def ember(request):
    vmm = request.param
    extra = []
    if vmm == "firecracker":
        why = firecracker_missing()
        if why:
            pytest.skip(f"firecracker tier skipped: {why}")
        extra = ["--firecracker-bin", os.environ.get("EMBER_FIRECRACKER") or shutil.which("firecracker")]
    if not (ec.images_dir() / "vmlinux").exists():
        pytest.fail("guest images are missing: run `make images`")
    e = ec.Emberd(vmm=vmm, extra_args=extra)
    e.vmm = vmm
    yield e
    rc, log = e.stop()
    e.cleanup()
    assert rc == 0, log[-4000:]


@pytest.fixture
def api(ember):
    return ember.client


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    yield
    if "ember" not in request.fixturenames:
        return
    ec.assert_nothing_left(request.getfixturevalue("ember"), timeout=15)
