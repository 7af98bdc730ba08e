"""Volumes and seccomp options through docker-py.

Usage: docker_py_volumes.py UNIX_SOCKET BUSYBOX_TAR
Exits non-zero (with a traceback) on the first failed check.
"""
import sys

import docker

sock, tar = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url="unix://" + sock, version="auto", timeout=60)
with open(tar, "rb") as f:
    c.images.load(f.read())

v = c.volumes.create(name="pyvol", labels={"k": "v"})
assert v.name == "pyvol" and v.attrs["Driver"] == "local", v.attrs
assert v.attrs["Labels"] == {"k": "v"}, v.attrs
assert [x.name for x in c.volumes.list(filters={"label": "k=v"})] == ["pyvol"]
assert c.volumes.get("pyvol").attrs["Mountpoint"].endswith("/volumes/pyvol/_data")
try:
    c.volumes.get("nosuch")
    raise AssertionError("no NotFound")
except docker.errors.NotFound as e:
    assert "get nosuch: no such volume" in str(e), e

out = c.containers.run("busybox", ["sh", "-c", "echo py > /v/f; cat /v/passwd | head -1"],
                       volumes={"pyvol": {"bind": "/v", "mode": "rw"}},
                       network_mode="none", remove=True)
assert out == b"", out  # /v was empty and not the image's path: nothing copied
out = c.containers.run("busybox", ["cat", "/w/f"], volumes=["pyvol:/w:ro"],
                       network_mode="none", remove=True)
assert out == b"py\n", out
ct = c.containers.create("busybox", ["true"], volumes=["pyvol:/data"], network_mode="none")
try:
    v.remove()
    raise AssertionError("removed a volume in use")
except docker.errors.APIError as e:
    assert e.status_code == 409 and "volume is in use" in str(e), e
mounts = c.api.inspect_container(ct.id)["Mounts"]
assert mounts[0]["Type"] == "volume" and mounts[0]["Name"] == "pyvol", mounts
ct.remove(v=True)
assert c.volumes.get("pyvol")  # named volumes survive rm -v

# seccomp: default, unconfined, an inline profile as docker-py users pass it
status = lambda **kw: c.containers.run("busybox", ["grep", "^Seccomp:", "/proc/self/status"],
                                       network_mode="none", remove=True, **kw)
assert status() == b"Seccomp:\t2\n"
assert status(security_opt=["seccomp=unconfined"]) == b"Seccomp:\t0\n"
prof = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}'
try:
    c.containers.run("busybox", ["mkdir", "/x"], security_opt=["seccomp=" + prof],
                     network_mode="none", remove=True)
    raise AssertionError("mkdir allowed")
except docker.errors.ContainerError as e:
    assert b"Operation not permitted" in e.stderr, e.stderr

v.remove()
assert c.volumes.prune()["VolumesDeleted"] in (None, [])
assert c.volumes.list() == []
print("all checks passed")
