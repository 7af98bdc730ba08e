//! `ImageService::commit_layer_diff` on a real snapshot of the busybox
//! fixture: the rw layer in overlayfs's format (a 0/0 character device, an
//! opaque directory) becomes an image-spec layer tar (`.wh.NAME`,
//! `.wh..wh..opq`), the layer is extracted back into overlayfs's format,
//! and the image is whole (config, manifest, history, tag, save). Root:
//! whiteouts are device nodes and `trusted.*` xattrs.

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use berth_image::oci::RunConfig;
use berth_image::{CommitOptions, ImageService};

fn mknod_whiteout(p: &Path) {
    let st = std::process::Command::new("mknod")
        .arg(p)
        .args(["c", "0", "0"])
        .status()
        .expect("mknod");
    assert!(st.success(), "mknod {}", p.display());
}

fn set_opaque(p: &Path) {
    // python3's os.setxattr: no attr package needed
    let st = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, sys; os.setxattr(sys.argv[1], 'trusted.overlay.opaque', b'y')",
        ])
        .arg(p)
        .status()
        .expect("python3");
    assert!(st.success(), "setxattr {}", p.display());
}

#[test]
fn a_rw_layer_becomes_an_image_layer_with_image_spec_whiteouts() {
    berth_testutil::require_root();
    let t = berth_testutil::tempdir();
    let svc = ImageService::open(&t.path().join("root")).expect("open");
    svc.load_path(&berth_testutil::fixture("busybox-docker.tar"), &mut |_| {})
        .expect("load");
    let m = svc.prepare_snapshot("c1", "busybox").expect("snapshot");
    let up = &m.upperdir;
    fs::create_dir_all(up.join("etc")).unwrap();
    fs::write(up.join("etc/newfile"), "hi\n").unwrap();
    mknod_whiteout(&up.join("etc/group"));
    fs::create_dir_all(up.join("var")).unwrap();
    set_opaque(&up.join("var"));
    fs::write(up.join("var/y"), "y").unwrap();
    fs::write(up.join("etc/hosts"), "").unwrap(); // a runtime mount point

    let opts = CommitOptions {
        parent: "busybox".into(),
        config: RunConfig {
            cmd: Some(vec!["cat".into(), "/etc/newfile".into()]),
            ..Default::default()
        },
        reference: Some("committed:v1".into()),
        comment: Some("msg".into()),
        author: Some("me".into()),
        created_by: "sh -c true".into(),
        container_id: "c1".into(),
    };
    let skip = |p: &Path| p == Path::new("etc/hosts");
    let id = svc.commit_layer_diff(up, &skip, &opts).expect("commit");

    // the layer tar, as `docker save` writes it
    let mut saved = Vec::new();
    svc.save(&["committed:v1"], &mut saved).expect("save");
    let mut outer = tar::Archive::new(saved.as_slice());
    let inspect = svc.inspect("committed:v1").expect("inspect");
    assert_eq!(inspect.id, id.to_string());
    let top = inspect.root_fs.layers.last().expect("layers").clone();
    let mut layer = None;
    for e in outer.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if p == format!("blobs/sha256/{}", top.trim_start_matches("sha256:")) {
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            layer = Some(b);
        }
    }
    let layer = layer.expect("top layer blob in the saved archive (diff ID = blob digest)");
    let mut names: Vec<String> = tar::Archive::new(layer.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "etc",
            "etc/.wh.group",
            "etc/newfile",
            "var",
            "var/.wh..wh..opq",
            "var/y"
        ]
    );

    // extracted back into overlayfs's format for the next containers
    let m2 = svc
        .prepare_snapshot("c2", "committed:v1")
        .expect("snapshot");
    let top_dir = &m2.lowerdirs[0];
    let md = fs::symlink_metadata(top_dir.join("etc/group")).expect("whiteout");
    assert!(md.file_type().is_char_device());
    assert!(!top_dir.join("etc/hosts").exists());
    assert_eq!(m2.lowerdirs.len(), 2);

    let cfg = inspect.config;
    assert_eq!(cfg.cmd.as_deref().unwrap(), ["cat", "/etc/newfile"]);
    assert_eq!(
        (inspect.author.as_str(), inspect.comment.as_str()),
        ("me", "msg")
    );
    let h = svc.history("committed:v1").expect("history");
    assert_eq!(h[0].created_by, "sh -c true");
    assert_eq!(h[0].comment, "msg");
    assert_eq!(h.len(), 3);

    // a bad reference is refused before anything is written
    let bad = CommitOptions {
        reference: Some("Bad:Name".into()),
        ..opts.clone()
    };
    let e = svc.commit_layer_diff(up, &skip, &bad).unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    svc.remove_snapshot("c1").unwrap();
    svc.remove_snapshot("c2").unwrap();
}
