"""The same flows through docker-py, an independent client library.

Usage: docker_py_flow.py UNIX_SOCKET BUSYBOX_TAR
Exits non-zero (with a traceback) on the first failed check.
"""
import sys
import time

import docker

sock, tar = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url="unix://" + sock, version="auto", timeout=60)
assert c.ping() is True
v = c.version()
assert v["ApiVersion"] == "1.47" and v["Os"] == "linux", v
assert c.info()["Driver"] == "overlay2"

with open(tar, "rb") as f:
    imgs = c.images.load(f.read())
assert any("busybox:latest" in i.tags for i in imgs), imgs
img = c.images.get("busybox")
assert img.id.startswith("sha256:")
img.tag("pybox", "v1")
assert "pybox:v1" in c.images.get("pybox:v1").tags
c.images.remove("pybox:v1")
try:
    c.images.get("pybox:v1")
    raise AssertionError("image still there")
except docker.errors.ImageNotFound as e:
    assert "No such image" in str(e)

# run --rm with output
out = c.containers.run("busybox", ["sh", "-c", "echo hi; echo err >&2"], remove=True, stderr=True)
assert b"hi" in out, out
try:
    c.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True)
    raise AssertionError("no ContainerError")
except docker.errors.ContainerError as e:
    assert e.exit_status == 3

# detached lifecycle
ct = c.containers.run("busybox", ["sh", "-c", "echo ready; sleep 60"], detach=True, name="pyweb", labels={"k": "v"})
deadline = time.time() + 10
while b"ready" not in ct.logs() and time.time() < deadline:
    time.sleep(0.05)
assert ct.logs() == b"ready\n", ct.logs()
ct.reload()
assert ct.status == "running" and ct.labels["k"] == "v"
assert [x.name for x in c.containers.list(filters={"label": "k=v"})] == ["pyweb"]
r = ct.exec_run(["sh", "-c", "echo from-exec; exit 4"])
assert r.exit_code == 4 and r.output == b"from-exec\n", r
top = ct.top()
assert "PID" in top["Titles"]
ct.pause(); ct.reload(); assert ct.status == "paused"
ct.unpause()
ct.rename("pyweb2"); ct.reload(); assert ct.name == "pyweb2"
ct.stop(timeout=1)
res = ct.wait(timeout=30)
assert res["StatusCode"] == 137, res
ct.reload()
assert ct.attrs["State"]["Status"] == "exited"
ct.remove()
try:
    c.containers.get("pyweb2")
    raise AssertionError("container still there")
except docker.errors.NotFound as e:
    assert "No such container" in str(e)

# attach socket with stdin
ct = c.containers.create("busybox", ["cat"], stdin_open=True)
s = ct.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
ct.start()
s._sock.sendall(b"echoed\n")
buf = b""
deadline = time.time() + 10
while b"echoed" not in buf and time.time() < deadline:
    chunk = s._sock.recv(4096)
    if not chunk:
        break
    buf += chunk
assert b"echoed" in buf, buf
ct.kill()
ct.wait(timeout=30)
ct.remove()

# events
since = int(time.time()) - 1
c.containers.run("busybox", "true", remove=True)
evs = list(c.events(since=since, until=int(time.time()) + 1, decode=True, filters={"type": "container"}))
actions = [e["Action"] for e in evs]
for a in ("create", "start", "die", "destroy"):
    assert a in actions, actions
df = c.df()
assert "Images" in df and "Containers" in df
print("docker-py: all checks passed")
