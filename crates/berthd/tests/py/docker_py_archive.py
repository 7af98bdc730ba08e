"""docker cp through docker-py: put_archive / get_archive / the path stat.

Usage: docker_py_archive.py UNIX_SOCKET BUSYBOX_TAR
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


def tar_of(files):
    """A tar of {name: bytes or None (a directory)}."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name, data in files.items():
            i = tarfile.TarInfo(name)
            if data is None:
                i.type, i.mode = tarfile.DIRTYPE, 0o750
                t.addfile(i)
            else:
                i.size, i.mode, i.uid, i.gid = len(data), 0o640, 1234, 5678
                t.addfile(i, io.BytesIO(data))
    return b.getvalue()


def untar(chunks):
    t = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
    return {m.name: (m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()}


vol = c.volumes.create(name="pyarchvol")
run = c.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none",
                       volumes={"pyarchvol": {"bind": "/vol", "mode": "rw"}})
created = c.containers.create("busybox", ["true"], network_mode="none")
try:
    for ct in (run, created):
        assert ct.put_archive("/tmp", tar_of({"pd": None, "pd/f": b"py\n"})) is True
        chunks, st = ct.get_archive("/tmp/pd")
        assert st["name"] == "pd" and st["mode"] & (1 << 31), st
        got = untar(chunks)
        assert sorted(got) == ["pd", "pd/f"], got
        m, data = got["pd/f"]
        assert data == b"py\n" and m.mode & 0o7777 == 0o640, (m.mode, data)
        # the tar headers' owners, kept without copyUIDGID
        assert (m.uid, m.gid) == (1234, 5678), (m.uid, m.gid)
        assert got["pd"][0].mode & 0o7777 == 0o750, got["pd"][0].mode
        # a file's stat: Go's FileMode (0o644 regular), RFC 3339 mtime
        chunks, st = ct.get_archive("/etc/passwd")
        assert st["name"] == "passwd" and st["mode"] == 0o644 and st["size"] > 0, st
        assert st["mtime"].endswith("Z") and st["linkTarget"] == "", st
        assert list(untar(chunks)) == ["passwd"]
        # a symlink: its own stat, the target resolved in the container
        _, st = ct.get_archive("/bin/sh")
        assert st["mode"] & (1 << 27) and st["linkTarget"] == "/bin/busybox", st
        # errors in Docker's words
        try:
            ct.get_archive("/nope")
            raise AssertionError("no NotFound")
        except docker.errors.NotFound as e:
            assert "Could not find the file /nope in container" in str(e), e
        try:
            ct.put_archive("/etc/passwd", tar_of({"x": b"x"}))
            raise AssertionError("extracted into a file")
        except docker.errors.APIError as e:
            assert e.status_code == 400, e  # moby 28 (InvalidParameter); 20.10 said 500
            assert "extraction point is not a directory" in str(e), e
        try:
            ct.put_archive("/nope", tar_of({"x": b"x"}))
            raise AssertionError("extracted into nothing")
        except docker.errors.NotFound as e:
            assert "Could not find the file /nope in container" in str(e), e
        # a tar entry climbing out of the destination is refused
        try:
            ct.put_archive("/tmp", tar_of({"../../escape-py": b"x"}))
            raise AssertionError("extracted outside of the destination")
        except docker.errors.APIError as e:
            assert e.status_code == 500 and "Error processing tar file" in str(e), e
    try:
        c.api.get_archive("nosuchcontainer", "/etc")
        raise AssertionError("no NotFound")
    except docker.errors.NotFound as e:
        assert "No such container: nosuchcontainer" in str(e), e
    # a running container's volume is what the container sees
    assert run.put_archive("/vol", tar_of({"invol": b"v\n"})) is True
    out = c.containers.run("busybox", ["cat", "/v/invol"], network_mode="none", remove=True,
                           volumes={"pyarchvol": {"bind": "/v", "mode": "ro"}})
    assert out == b"v\n", out
    print("all checks passed")
finally:
    run.remove(force=True)
    created.remove(force=True)
    vol.remove()
