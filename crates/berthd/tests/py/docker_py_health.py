"""Healthchecks through docker-py: attrs['State']['Health'] of a healthy and
an unhealthy container, and the health filter of containers.list().

Usage: docker_py_health.py UNIX_SOCKET BUSYBOX_TAR
Exits non-zero (with a traceback) on the first failed check.
"""
import sys
import time

import docker

sock, tar = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url="unix://" + sock, version="auto", timeout=60)
with open(tar, "rb") as f:
    c.images.load(f.read())

ok = c.containers.run("busybox", ["sleep", "300"], detach=True, network_mode="none",
                      name="pyhok",
                      healthcheck={"test": ["CMD-SHELL", "echo fine"], "interval": 200_000_000})
bad = c.containers.run("busybox", ["sleep", "300"], detach=True, network_mode="none",
                       name="pyhbad",
                       healthcheck={"test": ["CMD", "false"], "interval": 200_000_000,
                                    "retries": 2, "start_period": 1_000_000})


def wait_status(ct, want):
    deadline = time.time() + 20
    while time.time() < deadline:
        ct.reload()
        h = ct.attrs["State"].get("Health")
        if h and h["Status"] == want:
            return h
        time.sleep(0.1)
    raise AssertionError((ct.name, want, ct.attrs["State"]))


h = wait_status(ok, "healthy")
assert h["FailingStreak"] == 0, h
assert h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n", h
assert ok.health == "healthy", ok.health
assert ok.attrs["Config"]["Healthcheck"] == {
    "Test": ["CMD-SHELL", "echo fine"], "Interval": 200_000_000}, ok.attrs["Config"]

h = wait_status(bad, "unhealthy")
assert h["FailingStreak"] >= 2, h
assert all(e["ExitCode"] == 1 for e in h["Log"]), h
assert 1 <= len(h["Log"]) <= 5, h

names = sorted(x.name for x in c.containers.list(filters={"health": "healthy"}))
assert names == ["pyhok"], names
names = sorted(x.name for x in c.containers.list(filters={"health": "unhealthy"}))
assert names == ["pyhbad"], names

for ct in (ok, bad):
    ct.remove(force=True)
print("all checks passed")
