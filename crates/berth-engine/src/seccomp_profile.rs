//! The container's seccomp filter, chosen as dockerd chooses it
//! (moby `daemon/seccomp_linux.go`): none for `Privileged` or
//! `--security-opt seccomp=unconfined`; the profile given inline as
//! `seccomp=<json>` (what the docker CLI sends for
//! `--security-opt seccomp=<file>`); otherwise, and for `seccomp=builtin`,
//! Docker's default profile ([`berth_seccomp::docker::default_profile`]).
//! The profile is filtered against the capability bounding set of the
//! spec (so `--cap-add SYS_ADMIN` grants what Docker grants with it) and
//! written to the spec's `linux.seccomp`.

use berth_api::models::HostConfig;
use berth_api::ApiError;
use berth_seccomp::docker;
use serde_json::Value;

/// Sets `spec.linux.seccomp` for a container with `host`'s options; the
/// spec's `process.capabilities.bounding` must be final.
///
/// Errors (500, as dockerd's spec errors): `Decoding seccomp profile
/// failed: ...` for a profile that does not decode, and dockerd's words
/// for `architectures` with `archMap` or `name` with `names`.
pub fn apply(host: &HostConfig, spec: &mut Value) -> Result<(), ApiError> {
    if host.privileged {
        return Ok(());
    }
    let seccomp = crate::security_opt::parse(&host.security_opt)?.seccomp;
    let profile = match seccomp.as_deref() {
        Some("unconfined") => return Ok(()),
        None | Some("builtin") | Some("") => docker::default_profile(),
        Some(json) => docker::parse(json).map_err(ApiError::system)?,
    };
    let caps: Vec<String> = spec["process"]["capabilities"]["bounding"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let Some(oci) = profile
        .to_oci(&caps, &docker::Host::current())
        .map_err(ApiError::system)?
    else {
        return Ok(());
    };
    let v = serde_json::to_value(oci)
        .map_err(|e| ApiError::system(format!("encode seccomp profile: {e}")))?;
    if let Some(linux) = spec.get_mut("linux").and_then(Value::as_object_mut) {
        linux.insert("seccomp".into(), v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host(opts: &[&str], privileged: bool) -> HostConfig {
        HostConfig {
            security_opt: opts.iter().map(|s| s.to_string()).collect(),
            privileged,
            ..HostConfig::default()
        }
    }

    fn spec() -> Value {
        json!({"process": {"capabilities": {"bounding": ["CAP_CHOWN"]}}, "linux": {}})
    }

    #[test]
    fn choices() {
        let mut s = spec();
        apply(&host(&[], false), &mut s).unwrap();
        assert_eq!(s["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        for (opts, privileged) in [(&["seccomp=unconfined"][..], false), (&[][..], true)] {
            let mut s = spec();
            apply(&host(opts, privileged), &mut s).unwrap();
            assert!(s["linux"].get("seccomp").is_none());
        }
        let mut s = spec();
        apply(
            &host(&[r#"seccomp={"defaultAction":"SCMP_ACT_LOG"}"#], false),
            &mut s,
        )
        .unwrap();
        assert_eq!(s["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_LOG");
        let e = apply(&host(&["seccomp=/etc/x.json"], false), &mut spec()).unwrap_err();
        assert!(
            e.message.starts_with("Decoding seccomp profile failed: "),
            "{}",
            e.message
        );
    }
}
