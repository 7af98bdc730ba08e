//! The image service on the real fixtures (made by umoci and skopeo):
//! load in every format, list, inspect, history, tag, rmi, prune, and a
//! container snapshot mounted for real.

use std::fs;
use std::path::Path;
use std::process::Command;

use berth_image::{
    ContainerUse, DeleteItem, Filters, ImageError, ImageService, ImportOptions, ListOptions,
    RemoveOptions,
};
use berth_testutil::fixture;

/// The busybox fixture's image ID (its config digest), read from the
/// fixture: it changes with every fixture build.
fn busybox_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| berth_testutil::oci_fixture("busybox-oci").id)
}

fn svc(dir: &Path) -> ImageService {
    ImageService::open(&dir.join("root")).expect("open image service")
}

fn load(svc: &ImageService, name: &str) -> Vec<String> {
    let mut events = 0;
    let v = svc
        .load_path(&fixture(name), &mut |_| events += 1)
        .unwrap_or_else(|e| panic!("load {name}: {e}"));
    assert!(events > 0, "progress reported");
    v.iter().map(|l| l.to_string()).collect()
}

fn filters(pairs: &[(&str, &str)]) -> Filters {
    let mut f = Filters::new();
    for (k, v) in pairs {
        f.entry(k.to_string()).or_default().push(v.to_string());
    }
    f
}

fn list(svc: &ImageService, pairs: &[(&str, &str)]) -> Vec<berth_image::ImageSummary> {
    svc.list(&ListOptions {
        all: false,
        filters: filters(pairs),
    })
    .unwrap()
}

#[test]
fn loads_busybox_in_every_fixture_format_to_the_same_image() {
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    assert_eq!(
        load(&s, "busybox-docker.tar"),
        ["Loaded image: busybox:latest"]
    );
    for f in ["busybox-oci", "busybox-oci.tar"] {
        let tmp2 = berth_testutil::tempdir();
        let s2 = svc(tmp2.path());
        // umoci names the manifest only "latest" (no repository): untagged.
        assert_eq!(load(&s2, f), [format!("Loaded image ID: {}", busybox_id())]);
        assert_eq!(
            s2.inspect(busybox_id()).unwrap().root_fs,
            s.inspect("busybox").unwrap().root_fs
        );
    }
    let images = list(&s, &[]);
    assert_eq!(images.len(), 1);
    let i = &images[0];
    assert_eq!(i.id, busybox_id());
    assert_eq!(i.repo_tags, ["busybox:latest"]);
    assert!(i.size > 1_000_000 && i.created > 0);

    let ins = s.inspect("busybox:latest").unwrap();
    assert_eq!(ins.id, busybox_id());
    assert_eq!(
        (ins.os.as_str(), ins.architecture.as_str()),
        ("linux", "amd64")
    );
    assert_eq!(ins.config.cmd.as_deref(), Some(&["sh".to_string()][..]));
    // RootFS.Layers are the config's diff IDs, which name the docker-archive's
    // uncompressed layer tars.
    let bb = berth_testutil::oci_fixture("busybox-oci");
    assert_eq!(ins.root_fs.layers, bb.diff_ids);
    assert_eq!(
        berth_testutil::docker_archive("busybox-docker.tar").layers,
        bb.diff_ids
    );
    assert!(ins.created.ends_with('Z'));
    let j = serde_json::to_value(&ins).unwrap();
    for k in [
        "Id",
        "RepoTags",
        "RepoDigests",
        "Parent",
        "Comment",
        "Created",
        "Author",
        "Config",
        "Architecture",
        "Os",
        "Size",
        "RootFS",
        "Metadata",
    ] {
        assert!(j.get(k).is_some(), "inspect has {k}");
    }
    assert_eq!(j["RootFS"]["Type"], "layers");
    assert_eq!(
        j["Config"]["Env"][0],
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    // every name form
    for n in [
        "busybox",
        "docker.io/library/busybox:latest",
        &busybox_id()[7..],
        &busybox_id()[7..19],
        &busybox_id()[7..13],
    ] {
        assert_eq!(s.resolve(n).unwrap().to_string(), busybox_id(), "{n}");
    }
    let e = s.inspect("busybox:nope").unwrap_err();
    assert_eq!(
        (e.to_string().as_str(), e.status()),
        ("No such image: busybox:nope", 404)
    );
    let e = s.inspect("Busybox").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    );
    assert_eq!(e.status(), 400);
    // loading again is idempotent
    assert_eq!(
        load(&s, "busybox-docker.tar"),
        ["Loaded image: busybox:latest"]
    );
    assert_eq!(list(&s, &[]).len(), 1);
}

#[test]
fn snapshot_for_a_container_mounts_the_image_rootfs() {
    berth_testutil::require_root();
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    load(&s, "busybox-docker.tar");
    let cid = berth_types::new_id();
    let m = s.prepare_snapshot(&cid, "busybox").unwrap();
    assert!(m.upperdir.starts_with(tmp.path()));
    let target = tmp.path().join("rootfs");
    fs::create_dir_all(&target).unwrap();
    let (cwd, data) = m.mount_data();
    let mut c = Command::new("mount");
    c.args(["-t", "overlay", "overlay", "-o", &data])
        .arg(&target);
    if let Some(d) = &cwd {
        c.current_dir(d);
    }
    assert!(c.status().unwrap().success(), "mount {data}");
    let out = Command::new("chroot")
        .arg(&target)
        .args([
            "/bin/sh",
            "-c",
            "echo hi > /made; cat /etc/passwd | head -1",
        ])
        .output();
    let umount_ok = Command::new("umount")
        .arg(&target)
        .status()
        .unwrap()
        .success();
    let out = out.unwrap();
    assert!(umount_ok);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "root:x:0:0:root:/root:/bin/sh"
    );
    assert_eq!(fs::read_to_string(m.upperdir.join("made")).unwrap(), "hi\n");
    assert!(matches!(
        s.prepare_snapshot(&cid, "busybox"),
        Err(ImageError::Store(berth_image::StoreError::SnapshotExists(
            _
        )))
    ));
    // The snapshot keeps the layers alive even if the image goes.
    let used = [ContainerUse {
        container_id: cid.clone(),
        image_id: s.resolve("busybox").unwrap(),
        running: false,
    }];
    let e = s
        .remove(busybox_id(), RemoveOptions::default(), &used)
        .unwrap_err();
    assert_eq!(e.status(), 409);
    assert!(
        e.to_string()
            .contains("(must be forced) - image is being used by stopped container"),
        "{e}"
    );
    s.remove(
        busybox_id(),
        RemoveOptions {
            force: true,
            noprune: false,
        },
        &used,
    )
    .unwrap();
    assert!(m.lowerdirs[0].is_dir(), "layer kept for the container");
    s.remove_snapshot(&cid).unwrap();
    s.gc().unwrap();
    assert!(
        !m.lowerdirs[0].exists(),
        "layer collected with its last user"
    );
    assert!(!m.base.exists());
    assert!(berth_testutil::mounts_containing(&tmp.path().to_string_lossy()).is_empty());
}

#[test]
fn tag_untag_delete_and_conflicts_follow_docker() {
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    load(&s, "busybox-docker.tar");
    s.tag("busybox", "localhost:5000/bb:v1").unwrap();
    s.tag(&busybox_id()[7..19], "mine").unwrap();
    let tags = &list(&s, &[])[0].repo_tags;
    assert_eq!(tags.len(), 3, "{tags:?}");
    assert!(
        tags.contains(&"localhost:5000/bb:v1".to_string())
            && tags.contains(&"mine:latest".to_string())
    );
    assert!(s
        .tag("busybox", "Bad")
        .unwrap_err()
        .to_string()
        .contains("must be lowercase"));
    assert!(s.tag("nope", "x").unwrap_err().status() == 404);

    let e = s
        .remove(&busybox_id()[7..19], RemoveOptions::default(), &[])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
            &busybox_id()[7..19]
        )
    );
    assert_eq!(e.status(), 409);
    assert_eq!(
        s.remove("mine", RemoveOptions::default(), &[]).unwrap(),
        [DeleteItem::Untagged("mine:latest".into())]
    );
    let running = [ContainerUse {
        container_id: "c0ffee".repeat(10) + "abcd",
        image_id: s.resolve("busybox").unwrap(),
        running: true,
    }];
    let e = s
        .remove(
            busybox_id(),
            RemoveOptions {
                force: true,
                noprune: false,
            },
            &running,
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("(cannot be forced) - image is being used by running container c0ffeec0ffee"),
        "{e}"
    );
    let out = s
        .remove(
            busybox_id(),
            RemoveOptions {
                force: true,
                noprune: false,
            },
            &[],
        )
        .unwrap();
    assert_eq!(out[0], DeleteItem::Untagged("busybox:latest".into()));
    assert!(out.contains(&DeleteItem::Deleted(busybox_id().into())));
    assert!(list(&s, &[]).is_empty());
    assert!(
        s.store().content.list().unwrap().is_empty(),
        "blobs collected"
    );
    assert!(
        s.store().db.layers().unwrap().is_empty(),
        "layers collected"
    );
    assert_eq!(
        s.remove("busybox", RemoveOptions::default(), &[])
            .unwrap_err()
            .status(),
        404
    );
}

#[test]
fn list_filters_history_import_and_prune() {
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    load(&s, "busybox-docker.tar");
    let rootfs = fs::File::open(fixture("busybox-rootfs.tar")).unwrap();
    let id = s
        .import(
            rootfs,
            &ImportOptions {
                changes: vec![
                    "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]".into(),
                    "ENV A=1".into(),
                    "LABEL role=test".into(),
                    "EXPOSE 8080".into(),
                    "WORKDIR /srv".into(),
                    "USER nobody".into(),
                    "VOLUME /data".into(),
                    "STOPSIGNAL SIGINT".into(),
                    "ENTRYPOINT [\"/bin/busybox\"]".into(),
                ],
                message: Some("made by a test".into()),
                reference: Some("imported:v1".into()),
                platform: None,
            },
        )
        .unwrap();
    let ins = s.inspect("imported:v1").unwrap();
    assert_eq!(ins.id, id.to_string());
    assert_eq!(ins.comment, "made by a test");
    assert_eq!(ins.config.user, "nobody");
    assert_eq!(ins.config.working_dir, "/srv");
    assert_eq!(ins.config.stop_signal.as_deref(), Some("SIGINT"));
    assert!(ins
        .config
        .exposed_ports
        .as_ref()
        .unwrap()
        .contains_key("8080/tcp"));
    assert!(ins.config.volumes.as_ref().unwrap().contains_key("/data"));
    assert_eq!(ins.config.labels.as_ref().unwrap()["role"], "test");
    assert_eq!(ins.config.env.as_deref(), Some(&["A=1".to_string()][..]));
    // the layer is the tarball itself: its diff ID is the file's digest
    let file_digest =
        berth_types::Digest::sha256_of(&fs::read(fixture("busybox-rootfs.tar")).unwrap());
    assert_eq!(ins.root_fs.layers, [file_digest.to_string()]);
    assert_eq!(s.store().db.layers().unwrap().len(), 2);
    let h = s.history("imported:v1").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].id, id.to_string());
    assert_eq!(h[0].comment, "made by a test");
    assert_eq!(h[0].tags.as_deref(), Some(&["imported:v1".to_string()][..]));

    assert_eq!(list(&s, &[("label", "role=test")]).len(), 1);
    assert_eq!(list(&s, &[("label", "role")]).len(), 1);
    assert_eq!(list(&s, &[("label", "role=other")]).len(), 0);
    assert_eq!(
        list(&s, &[("reference", "busy*")])[0].repo_tags,
        ["busybox:latest"]
    );
    assert_eq!(list(&s, &[("reference", "imported:v*")]).len(), 1);
    assert_eq!(list(&s, &[("dangling", "true")]).len(), 0);
    assert_eq!(list(&s, &[("since", "busybox")])[0].id, id.to_string());
    assert_eq!(list(&s, &[("before", "imported:v1")])[0].id, busybox_id());
    let e = s
        .list(&ListOptions {
            all: false,
            filters: filters(&[("bogus", "1")]),
        })
        .unwrap_err();
    assert_eq!(
        (e.to_string().as_str(), e.status()),
        ("invalid filter 'bogus'", 400)
    );

    // bad --change: a clear error and nothing stored
    let before = s.store().content.list().unwrap().len();
    let e = s
        .import(
            &b"irrelevant"[..],
            &ImportOptions {
                changes: vec!["RUN rm -rf /".into()],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        (e.to_string().as_str(), e.status()),
        ("run is not a valid change command", 400)
    );
    let e = s
        .import(
            &b"this is not a tar archive at all"[..],
            &ImportOptions::default(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    assert_eq!(
        s.store().content.list().unwrap().len(),
        before,
        "store unchanged"
    );

    // rmi of the last tag untags and deletes
    let v = s
        .remove("imported:v1", RemoveOptions::default(), &[])
        .unwrap();
    assert_eq!(v[0], DeleteItem::Untagged("imported:v1".into()));
    assert_eq!(v[1], DeleteItem::Deleted(id.to_string()));
    assert_eq!(
        s.store().db.layers().unwrap().len(),
        1,
        "only busybox's layer left"
    );

    // an untagged import is dangling; prune removes only it
    let rootfs = fs::File::open(fixture("busybox-rootfs.tar")).unwrap();
    let dangling = s
        .import(
            rootfs,
            &ImportOptions {
                changes: vec!["LABEL x=y".into()],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        list(&s, &[("dangling", "true")])[0].id,
        dangling.to_string()
    );
    assert_eq!(list(&s, &[("dangling", "false")])[0].id, busybox_id());
    let r = s.prune(false, &Filters::new(), &[]).unwrap();
    assert_eq!(
        r.images_deleted[0],
        DeleteItem::Deleted(dangling.to_string())
    );
    assert_eq!(r.images_deleted.len(), 2, "the image and its layer: {r:?}");
    assert_eq!(list(&s, &[]).len(), 1);
    let busybox = s.resolve("busybox").unwrap();
    let users = [ContainerUse {
        container_id: "x".into(),
        image_id: busybox.clone(),
        running: true,
    }];
    let r = s.prune(true, &Filters::new(), &users).unwrap();
    assert!(r.images_deleted.is_empty(), "in use: kept");
    let r = s.prune(true, &Filters::new(), &[]).unwrap();
    assert!(r
        .images_deleted
        .contains(&DeleteItem::Untagged("busybox:latest".into())));
    assert!(r
        .images_deleted
        .contains(&DeleteItem::Deleted(busybox_id().into())));
    assert!(r.space_reclaimed > 1_000_000);
    assert!(list(&s, &[]).is_empty());
    assert!(s.store().content.list().unwrap().is_empty());
}

#[test]
fn export_of_a_containers_rw_layer_and_rootfs_round_trips() {
    berth_testutil::require_root();
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    load(&s, "busybox-docker.tar");
    let cid = berth_types::new_id();
    let m = s.prepare_snapshot(&cid, "busybox").unwrap();
    let target = tmp.path().join("rootfs");
    fs::create_dir_all(&target).unwrap();
    let (cwd, data) = m.mount_data();
    let mut c = Command::new("mount");
    c.args(["-t", "overlay", "overlay", "-o", &data])
        .arg(&target);
    if let Some(d) = &cwd {
        c.current_dir(d);
    }
    assert!(c.status().unwrap().success());
    // changes through the real overlay: a new file, a hard link, a removed
    // file (whiteout) and a replaced directory (opaque)
    let changes = (|| -> std::io::Result<()> {
        fs::write(target.join("etc/new"), b"new")?;
        fs::hard_link(target.join("etc/new"), target.join("etc/new-link"))?;
        fs::remove_file(target.join("etc/group"))?;
        fs::remove_dir_all(target.join("usr"))?;
        fs::create_dir(target.join("usr"))?;
        fs::write(target.join("usr/only"), b"o")?;
        Ok(())
    })();
    let flat = s.export_rootfs(&target, Vec::new());
    let umounted = Command::new("umount")
        .arg(&target)
        .status()
        .unwrap()
        .success();
    changes.unwrap();
    assert!(umounted);
    let flat = flat.unwrap();

    let diff = s.export_snapshot_diff(&cid, Vec::new()).unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&diff[..]).entries().unwrap() {
        let e = e.unwrap();
        names.push((
            e.path().unwrap().display().to_string(),
            e.header().entry_type(),
        ));
    }
    let has = |n: &str| names.iter().any(|(p, _)| p == n);
    assert!(
        has("etc/new") && has("etc/.wh.group") && has("usr/.wh..wh..opq") && has("usr/only"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|(p, t)| p == "etc/new-link" && *t == tar::EntryType::Link),
        "{names:?}"
    );
    assert!(!has("bin/busybox"), "only the rw layer");

    // the diff applies as a layer on top of busybox with the same effect
    let base = s.inspect("busybox").unwrap();
    let busybox_chain = s
        .store()
        .db
        .image(&s.resolve("busybox").unwrap())
        .unwrap()
        .unwrap()
        .layers;
    let rec = s
        .store()
        .unpack_layer(&mut &diff[..], busybox_chain.last(), None)
        .unwrap();
    let d = s.store().layer_dir(&rec.chain_id);
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata(d.join("etc/group"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(base.root_fs.layers.len() == 1);

    // the flat export is the whole merged tree with the changes
    let mut flat_names = Vec::new();
    for e in tar::Archive::new(&flat[..]).entries().unwrap() {
        flat_names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(flat_names.contains(&"bin/busybox".to_string()));
    assert!(flat_names.contains(&"etc/new".to_string()));
    assert!(!flat_names.contains(&"etc/group".to_string()));
    assert!(!flat_names.iter().any(|n| n.contains(".wh.")));
    s.remove_snapshot(&cid).unwrap();
    assert!(berth_testutil::mounts_containing(&tmp.path().to_string_lossy()).is_empty());
}

/// dockerd's image delete: removing the last tag of a repository also
/// removes that repository's digest references (`repo@sha256:...`, as a
/// pull records them); the image goes once no reference is left.
#[test]
fn rmi_of_a_repositorys_last_tag_takes_its_digest_references() {
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    load(&s, "busybox-docker.tar");
    let id = s.resolve("busybox").unwrap();
    let digest = format!(
        "sha256:{}",
        "ab".repeat(32) // any manifest digest: the reference is what counts
    );
    let pin = |name: &str| {
        s.store()
            .db
            .set_ref(
                &format!("docker.io/library/{name}@{digest}"),
                &id,
                berth_store::RefKind::Digest,
                1,
            )
            .unwrap()
    };
    s.tag("busybox", "reg.example/app:1").unwrap();
    s.tag("busybox", "reg.example/app:2").unwrap();
    s.store()
        .db
        .set_ref(
            &format!("reg.example/app@{digest}"),
            &id,
            berth_store::RefKind::Digest,
            1,
        )
        .unwrap();
    pin("busybox");

    // Another tag of app remains: only the tag goes.
    let v = s
        .remove("reg.example/app:1", RemoveOptions::default(), &[])
        .unwrap();
    assert_eq!(v, vec![DeleteItem::Untagged("reg.example/app:1".into())]);
    // The last tag of app: app@digest goes along; busybox keeps the image.
    let v = s
        .remove("reg.example/app:2", RemoveOptions::default(), &[])
        .unwrap();
    assert_eq!(
        v,
        vec![
            DeleteItem::Untagged("reg.example/app:2".into()),
            DeleteItem::Untagged(format!("reg.example/app@{digest}")),
        ]
    );
    assert!(s.resolve(&format!("reg.example/app@{digest}")).is_err());
    // The last tag of the image: busybox@digest goes and so does the image.
    let v = s.remove("busybox", RemoveOptions::default(), &[]).unwrap();
    assert_eq!(v[0], DeleteItem::Untagged("busybox:latest".into()));
    assert_eq!(v[1], DeleteItem::Untagged(format!("busybox@{digest}")));
    assert_eq!(v[2], DeleteItem::Deleted(id.to_string()));
    assert!(list(&s, &[]).is_empty());
}
