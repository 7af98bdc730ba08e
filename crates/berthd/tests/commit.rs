//! `docker diff`, `docker export` and `docker commit` through docker-py
//! (an independent client library) against berthd; the daemon must then
//! stop cleanly with no mount or process left (`Daemon::finish`).

mod common;

use common::Daemon;

#[test]
fn docker_py_diff_export_commit() {
    let d = Daemon::start();
    d.docker_py("docker_py_commit.py");
    // no temp or half-written layer left in the data root
    let root = d.root();
    for sub in ["tmp", "ingest"] {
        let left: Vec<_> = std::fs::read_dir(root.join(sub))
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
    let tmp_layers: Vec<_> = std::fs::read_dir(root.join("layers"))
        .expect("layers")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(tmp_layers.is_empty(), "{tmp_layers:?}");
    d.finish();
}
