//! Volumes with the local driver's mount options across a berthd restart
//! (the docker CLI against berthd): a running user keeps the volume
//! mounted through `kill -9` of berthd and a restart, a container started
//! afterwards shares the same tmpfs, the last one's stop unmounts it; a
//! volume whose user exited while berthd was down is unmounted when berthd
//! comes back; nothing is left mounted at the end.

mod common;

use common::Daemon;

fn mounts_on(path: &str) -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(path))
        .count()
}

#[test]
fn mounted_volume_survives_restart_and_is_unmounted_after() {
    let mut d = Daemon::start();
    d.load_busybox();
    for v in ["vr-keep", "vr-gone"] {
        d.ok(&[
            "volume",
            "create",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "-o",
            "o=size=8m",
            v,
        ]);
    }
    let keep = d.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        "vr-keep",
    ]);
    let gone = d.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        "vr-gone",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "vr-a",
        "--network",
        "none",
        "-v",
        "vr-keep:/v",
        "busybox",
        "sleep",
        "300",
    ]);
    d.ok(&["exec", "vr-a", "sh", "-c", "echo before > /v/f"]);
    // exits by itself while berthd is down
    d.ok(&[
        "run",
        "-d",
        "--name",
        "vr-b",
        "--network",
        "none",
        "-v",
        "vr-gone:/v",
        "busybox",
        "sleep",
        "3",
    ]);
    assert_eq!((mounts_on(&keep), mounts_on(&gone)), (1, 1));

    d.kill9();
    std::thread::sleep(std::time::Duration::from_secs(4));
    d.spawn();
    assert!(
        common::eventually(10, || mounts_on(&gone) == 0),
        "the volume of a container that exited while berthd was down stays mounted"
    );
    assert_eq!(
        mounts_on(&keep),
        1,
        "the running user's volume was unmounted"
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "vr-c",
        "--network",
        "none",
        "-v",
        "vr-keep:/v",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(mounts_on(&keep), 1, "mounted twice");
    assert_eq!(d.ok(&["exec", "vr-c", "cat", "/v/f"]), "before");
    d.ok(&["rm", "-f", "vr-a"]);
    assert_eq!(mounts_on(&keep), 1, "unmounted with a user left");
    d.ok(&["rm", "-f", "vr-c", "vr-b"]);
    assert_eq!(mounts_on(&keep), 0, "mounted after the last user");

    // a clean stop with a running user, then its removal after the restart
    d.ok(&[
        "run",
        "-d",
        "--name",
        "vr-d",
        "--network",
        "none",
        "-v",
        "vr-keep:/v",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(d.stop(), 0);
    assert_eq!(
        mounts_on(&keep),
        1,
        "a clean stop unmounted a volume in use"
    );
    d.spawn();
    d.ok(&["rm", "-f", "vr-d"]);
    assert_eq!(mounts_on(&keep), 0);
    d.ok(&["volume", "rm", "vr-keep", "vr-gone"]);
    d.finish();
}
