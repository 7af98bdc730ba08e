"""docker diff / export / commit through docker-py.

Usage: docker_py_commit.py UNIX_SOCKET BUSYBOX_TAR
Exits non-zero (with a traceback) on the first failed check.
"""
import io
import sys
import tarfile

import docker

sock, tar = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url="unix://" + sock, version="auto", timeout=60)
with open(tar, "rb") as f:
    c.images.load(f.read())

ct = c.containers.run(
    "busybox",
    ["sh", "-c", "echo py > /etc/py; rm /etc/group; rm -rf /root; mkdir /newdir; echo n > /newdir/n"],
    network_mode="none", detach=True)
assert ct.wait()["StatusCode"] == 0
got = sorted((d["Kind"], d["Path"]) for d in ct.diff())
assert got == [(0, "/etc"), (1, "/etc/py"), (1, "/newdir"), (1, "/newdir/n"),
               (2, "/etc/group"), (2, "/root")], got

fresh = c.containers.create("busybox", ["true"], network_mode="none")
assert fresh.diff() is None, fresh.diff()  # dockerd answers null

# export of a stopped container: a tar of the whole merged filesystem
data = b"".join(ct.export())
names = set(n.lstrip("./").rstrip("/") for n in tarfile.open(fileobj=io.BytesIO(data)).getnames())
assert {"etc/py", "newdir/n", "bin/busybox", "etc/passwd"} <= names, sorted(names)[:20]
assert "etc/group" not in names and "root" not in names

img = ct.commit(repository="pycommit", tag="v1", message="from py", author="py <py@x>",
                changes=['CMD ["cat", "/etc/py", "/newdir/n"]', "ENV PY=1", "LABEL by=py"])
assert img.attrs["Comment"] == "from py" and img.attrs["Author"] == "py <py@x>", img.attrs
assert "pycommit:v1" in img.tags, img.tags
assert img.attrs["Config"]["Cmd"] == ["cat", "/etc/py", "/newdir/n"], img.attrs["Config"]
assert "PY=1" in img.attrs["Config"]["Env"] and img.attrs["Config"]["Labels"] == {"by": "py"}
assert len(img.attrs["RootFS"]["Layers"]) == 2, img.attrs["RootFS"]
out = c.containers.run("pycommit:v1", network_mode="none", remove=True)
assert out == b"py\nn\n", out
hist = c.api.history("pycommit:v1")
assert hist[0]["Comment"] == "from py" and hist[0]["CreatedBy"].startswith("sh -c echo py"), hist[0]
assert len(hist) == 3, hist

# a running container, committed without pausing, still running after
live = c.containers.run("busybox", ["sh", "-c", "echo live > /live; sleep 300"],
                        network_mode="none", detach=True)
for _ in range(100):
    if live.diff():
        break
    import time
    time.sleep(0.05)
assert (1, "/live") in [(d["Kind"], d["Path"]) for d in live.diff()], live.diff()
img2 = live.commit(pause=False)
live.reload()
assert live.status == "running", live.status
assert img2.tags == [], img2.tags
assert c.containers.run(img2.id, ["cat", "/live"], network_mode="none", remove=True) == b"live\n"
img3 = live.commit()  # paused meanwhile, running again after
live.reload()
assert live.status == "running", live.status
assert img3.id.startswith("sha256:")

try:
    ct.commit(changes="FROM busybox")
    raise AssertionError("FROM accepted")
except docker.errors.APIError as e:
    assert e.status_code == 400 and "from is not a valid change command" in str(e), e
try:
    c.api.diff("nosuch")
    raise AssertionError("no NotFound")
except docker.errors.NotFound as e:
    assert "No such container: nosuch" in str(e), e

live.remove(force=True)
for x in (ct, fresh):
    x.remove()
for i in ("pycommit:v1", img2.id, img3.id):
    c.images.remove(i)
print("all checks passed")
