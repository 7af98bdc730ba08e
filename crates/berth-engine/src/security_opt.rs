//! `HostConfig.SecurityOpt` as dockerd reads it (moby
//! `daemon/daemon_unix.go` `parseSecurityOpt`): `no-new-privileges[=bool]`,
//! `seccomp=<json|unconfined|builtin|"">`, `apparmor=<profile>`,
//! `label=<opt>` (and the bare `disable`); `key:value` is the older
//! spelling of `key=value`, tried only when there is no `=`. Later options
//! win. AppArmor and SELinux are not enforced: as dockerd on a host where
//! neither is enabled, the profile and labels are accepted and kept (the
//! AppArmor profile shows in inspect's `AppArmorProfile`) but change
//! nothing in the container. `systempaths=unconfined` never reaches the
//! daemon: the docker CLI turns it into empty `MaskedPaths` and
//! `ReadonlyPaths`, and dockerd refuses it as an unknown key.

use berth_api::ApiError;

/// A container's security options, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    /// `process.noNewPrivileges` of the OCI spec.
    pub no_new_privileges: bool,
    /// The `seccomp` value when given: a profile in Docker's JSON format,
    /// `unconfined`, `builtin`, or empty (the default profile).
    pub seccomp: Option<String>,
    /// The `apparmor` value (empty when not given).
    pub apparmor_profile: String,
    /// The `label` values and `disable`, in order (SELinux; unused here).
    pub labels: Vec<String>,
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses `opts` as dockerd does at container create.
///
/// Errors (500, dockerd's words): `invalid --security-opt 1: "<opt>"` for
/// an option with neither `=` nor `:`, `invalid --security-opt 2: "<opt>"`
/// for an unknown key or a `no-new-privileges` value that is not a Go
/// boolean.
pub fn parse(opts: &[String]) -> Result<SecurityOptions, ApiError> {
    let mut out = SecurityOptions::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        if opt == "disable" {
            out.labels.push("disable".into());
            continue;
        }
        let kv = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((k, v)) = kv else {
            return Err(ApiError::system(format!(
                "invalid --security-opt 1: {opt:?}"
            )));
        };
        match k {
            "label" => out.labels.push(v.to_string()),
            "apparmor" => out.apparmor_profile = v.to_string(),
            "seccomp" => out.seccomp = Some(v.to_string()),
            "no-new-privileges" => {
                out.no_new_privileges = go_bool(v)
                    .ok_or_else(|| ApiError::system(format!("invalid --security-opt 2: {opt:?}")))?
            }
            _ => {
                return Err(ApiError::system(format!(
                    "invalid --security-opt 2: {opt:?}"
                )))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(o: &[&str]) -> Result<SecurityOptions, String> {
        parse(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(|e| e.message)
    }

    #[test]
    fn as_dockerd() {
        assert!(p(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(p(&["no-new-privileges:1"]).unwrap().no_new_privileges);
        assert!(p(&["no-new-privileges=TRUE"]).unwrap().no_new_privileges);
        assert!(
            !p(&["no-new-privileges", "no-new-privileges=false"])
                .unwrap()
                .no_new_privileges
        );
        let o = p(&["apparmor=foo", "label=disable", "disable", "seccomp="]).unwrap();
        assert_eq!(o.apparmor_profile, "foo");
        assert_eq!(o.labels, ["disable", "disable"]);
        assert_eq!(o.seccomp.as_deref(), Some(""));
        // '=' is looked for first, so JSON with ':' in it stays whole
        let o = p(&[r#"seccomp={"defaultAction":"SCMP_ACT_LOG"}"#]).unwrap();
        assert_eq!(
            o.seccomp.as_deref(),
            Some(r#"{"defaultAction":"SCMP_ACT_LOG"}"#)
        );
        assert_eq!(
            p(&["seccomp:unconfined"]).unwrap().seccomp.as_deref(),
            Some("unconfined")
        );
        assert_eq!(
            p(&["foo"]).unwrap_err(),
            r#"invalid --security-opt 1: "foo""#
        );
        for bad in [
            "foo=bar",
            "no-new-privileges=maybe",
            "no-new-privileges:",
            "systempaths=unconfined",
            "writable-cgroups=true",
        ] {
            assert_eq!(
                p(&[bad]).unwrap_err(),
                format!("invalid --security-opt 2: {bad:?}")
            );
        }
    }
}
