//! `POST` to the built-in token endpoint: the OAuth2 grants of Docker's
//! token specification (distribution's `docs/spec/auth/oauth.md`), which
//! dockerd uses once it holds a refresh token (the docker CLI's
//! `identitytoken`).
//!
//! The form (`application/x-www-form-urlencoded`) carries `grant_type`
//! (`refresh_token` or `password`), `client_id` (required), `service`,
//! `scope` (space-separated, possibly repeated), and `refresh_token`, or
//! `username`, `password` and optionally `access_type=offline`. The answer
//! is `{"access_token","token","scope","expires_in","issued_at"}`, plus
//! `refresh_token` for a password grant with `access_type=offline`.
//! Errors, in the registry's JSON error shape: 400 `UNSUPPORTED` for a
//! malformed form, a missing `client_id` or an unknown grant type; 401
//! `UNAUTHORIZED` for wrong credentials or an invalid, expired or foreign
//! refresh token (or one whose user is no longer in the htpasswd file).

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;

use crate::auth::{self, Access, Auth, TokenAuth};
use crate::error::{Code, RegistryError};
use crate::server::{blocking, error_resp, json_resp, App, Body};

/// Largest form accepted.
const MAX_FORM: usize = 64 * 1024;

fn bad_request(msg: &str) -> Response<Body> {
    error_resp(&RegistryError::new(Code::Unsupported, msg).with_status(StatusCode::BAD_REQUEST))
}

fn unauthorized(msg: &str) -> Response<Body> {
    error_resp(&RegistryError::new(Code::Unauthorized, msg))
}

/// Answers `POST <token realm>` (see the module docs).
pub(crate) async fn token_post(app: &Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let Auth::Token(t) = &app.auth else {
        return error_resp(&RegistryError::new(Code::Unsupported, "no token endpoint"));
    };
    let body = match Limited::new(req.into_body(), MAX_FORM).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return bad_request("token request form unreadable or too large"),
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    if get("client_id").is_none() {
        return bad_request("client_id is required");
    }
    let requested: Vec<Access> = form
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| {
            v.split(' ')
                .filter_map(Access::parse_scope)
                .collect::<Vec<_>>()
        })
        .collect();
    let (user, refresh) = match get("grant_type") {
        Some("refresh_token") => {
            let Some(rt) = get("refresh_token") else {
                return bad_request("refresh_token is required");
            };
            match t.verify_refresh(rt) {
                Some(u) => (u, None),
                None => return unauthorized("invalid or expired refresh token"),
            }
        }
        Some("password") => {
            let (Some(u), Some(p)) = (get("username"), get("password")) else {
                return bad_request("username and password are required");
            };
            let (u, p) = (u.to_string(), p.to_string());
            let app2 = app.clone();
            let u2 = u.clone();
            // bcrypt is slow: keep it off the async workers.
            let ok = blocking(move || match &app2.auth {
                Auth::Token(TokenAuth { users: Some(h), .. }) => h.verify(&u2, &p),
                _ => false,
            })
            .await;
            if !ok {
                return unauthorized("invalid username or password");
            }
            let offline = get("access_type") == Some("offline");
            let refresh = offline.then(|| t.issue_refresh(&u));
            (u, refresh)
        }
        Some(g) => return bad_request(&format!("unsupported grant_type {g:?}")),
        None => return bad_request("grant_type is required"),
    };
    let (token, ttl) = t.issue(Some(&user), &requested);
    let scope: Vec<String> = requested.iter().map(Access::scope).collect();
    let mut out = json!({
        "access_token": token,
        "token": token,
        "scope": scope.join(" "),
        "expires_in": ttl,
        "issued_at": auth::now_rfc3339(),
    });
    if let Some(r) = refresh {
        out["refresh_token"] = json!(r);
    }
    json_resp(StatusCode::OK, &out)
}
