"""Networks through docker-py: create, connect, inspect, ports, remove.

Usage: docker_py_network.py UNIX_SOCKET BUSYBOX_TAR
Exits non-zero (with a traceback) on the first failed check.
"""
import sys
import time

import docker

sock, tar = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url="unix://" + sock, version="auto", timeout=60)
with open(tar, "rb") as f:
    c.images.load(f.read())

ipam = docker.types.IPAMConfig(
    pool_configs=[docker.types.IPAMPool(subnet="10.167.5.0/24", gateway="10.167.5.254")]
)
n = c.networks.create("pynet", driver="bridge", ipam=ipam, labels={"k": "v"})
assert len(n.id) == 64, n.id
n.reload()
assert n.name == "pynet"
assert n.attrs["IPAM"]["Config"][0]["Subnet"] == "10.167.5.0/24", n.attrs
assert n.attrs["IPAM"]["Config"][0]["Gateway"] == "10.167.5.254", n.attrs
assert n.attrs["Labels"] == {"k": "v"}
assert [x.name for x in c.networks.list(names=["pynet"])] == ["pynet"]

try:
    c.networks.create("pynet")
    raise AssertionError("duplicate name accepted")
except docker.errors.APIError as e:
    assert e.status_code == 409, e
try:
    c.networks.get("nosuchnet")
    raise AssertionError("unknown network found")
except docker.errors.NotFound as e:
    assert "network nosuchnet not found" in str(e)

srv = c.containers.run("busybox", ["httpd", "-f", "-p", "80", "-h", "/etc"], detach=True,
                       name="pysrv", ports={"80/tcp": None})
srv.reload()
port = srv.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
assert int(port) > 0, srv.attrs["NetworkSettings"]["Ports"]
assert srv.ports["80/tcp"][0]["HostPort"] == port

n.connect(srv, aliases=["web"], ipv4_address="10.167.5.10")
srv.reload()
ep = srv.attrs["NetworkSettings"]["Networks"]["pynet"]
assert ep["IPAddress"] == "10.167.5.10", ep
assert ep["Gateway"] == "10.167.5.254", ep
assert "web" in ep["Aliases"], ep
n.reload()
assert srv.id in n.attrs["Containers"], n.attrs
assert [x.id for x in n.containers] == [srv.id]

cli = c.containers.run("busybox", ["timeout", "5", "wget", "-qO-", "http://web/hostname"],
                       network="pynet", detach=True)
assert cli.wait(timeout=30)["StatusCode"] == 0
# Logs are read until they show up: right after an exit they are sometimes
# still empty (seen with every network mode; an engine logs race, not
# networking).
for _ in range(50):
    out = cli.logs()
    if out:
        break
    time.sleep(0.1)
assert srv.id[:12].encode() in out, out
cli.remove()

try:
    n.remove()
    raise AssertionError("removed a network with endpoints")
except docker.errors.APIError as e:
    assert e.status_code == 403 and "has active endpoints" in str(e), e
n.disconnect(srv)
srv.reload()
assert "pynet" not in srv.attrs["NetworkSettings"]["Networks"]
srv.remove(force=True)
n.remove()
assert c.networks.list(names=["pynet"]) == []
print("all checks passed")
