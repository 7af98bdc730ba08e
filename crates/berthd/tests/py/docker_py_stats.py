"""container.stats() and container.update() through docker-py.

Usage: docker_py_stats.py UNIX_SOCKET BUSYBOX_TAR
Exits non-zero (with a traceback) on the first failed check.
"""
import sys

import docker

sock, tar = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url="unix://" + sock, version="auto", timeout=60)
with open(tar, "rb") as f:
    c.images.load(f.read())

ct = c.containers.run("busybox", ["sleep", "300"], detach=True, network_mode="none",
                      mem_limit="32m", nano_cpus=1000000000, pids_limit=50, name="pystats")
s = ct.stats(stream=False)
for k in ("read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
          "cpu_stats", "precpu_stats", "memory_stats", "name", "id"):
    assert k in s, (k, s)
assert s["name"] == "/pystats" and s["id"] == ct.id, s
assert s["memory_stats"]["limit"] == 32 << 20, s["memory_stats"]
assert s["pids_stats"]["current"] == 1, s["pids_stats"]
assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0, s["cpu_stats"]
assert s["precpu_stats"]["system_cpu_usage"] > 0, s["precpu_stats"]

# the streaming generator: decoded dicts, one a second
gen = ct.stats(stream=True, decode=True)
a, b = next(gen), next(gen)
assert a["preread"] == "0001-01-01T00:00:00Z", a["preread"]
assert b["preread"] == a["read"], (a["read"], b["preread"])
gen.close()

# docker-py's update() has no nano_cpus/pids_limit: the CFS figures instead
# would conflict with the NanoCpus set at run (checked below)
r = ct.update(mem_limit="64m", memswap_limit="128m", cpu_shares=512,
              restart_policy={"Name": "unless-stopped"})
assert r.get("Warnings") is None, r
ct.reload()
hc = ct.attrs["HostConfig"]
assert (hc["Memory"], hc["MemorySwap"], hc["CpuShares"], hc["NanoCpus"], hc["PidsLimit"]) == (
    64 << 20, 128 << 20, 512, 1000000000, 50), hc
assert hc["RestartPolicy"]["Name"] == "unless-stopped", hc["RestartPolicy"]
s = ct.stats(stream=False, one_shot=True)
assert s["memory_stats"]["limit"] == 64 << 20, s["memory_stats"]
assert s["pids_stats"]["limit"] == 50, s["pids_stats"]

r = ct.update(blkio_weight=300)
assert r["Warnings"] == [
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."], r
try:
    ct.update(mem_limit="1m")
    raise AssertionError("1m accepted")
except docker.errors.APIError as e:
    assert e.status_code == 400 and "Minimum memory limit allowed is 6MB" in str(e), e
try:
    ct.update(cpu_quota=20000)
    raise AssertionError("quota over NanoCpus accepted")
except docker.errors.APIError as e:
    assert e.status_code == 409 and "CPU Quota cannot be updated as NanoCPUs has already been set" in str(e), e

ct.remove(force=True)
print("all checks passed")
