//! `POST /auth` (`docker login`): checks credentials against a registry's
//! `/v2/` endpoint, as dockerd's `loginV2` does.

use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;

use crate::auth::{normalize_server, AuthConfig};
use crate::client::{status_line, Distribution};
use crate::error::{DistributionError, Result};

/// `POST /auth`'s answer (swagger `AuthResponse`... `{"Status","IdentityToken"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoginOutcome {
    /// A refresh token the CLI may store instead of the password (empty
    /// unless the token server handed one out; always sent, as dockerd does).
    #[serde(rename = "IdentityToken")]
    pub identity_token: String,
    /// `Login Succeeded`.
    #[serde(rename = "Status")]
    pub status: String,
}

/// Checks `auth` against its `serveraddress` (empty: Docker Hub). A
/// registry that asks for no authentication succeeds; Basic credentials
/// are checked with `GET /v2/`; Bearer credentials by getting a token
/// (no scope, asking for a refresh token as dockerd does) and then
/// `GET /v2/` with it. A refresh token the token server hands out is the
/// answer's `IdentityToken`, which the docker CLI stores in place of the
/// password and sends back in `X-Registry-Auth`; pulls and pushes then use
/// the OAuth2 refresh-token grant ([`crate::auth::Credentials::identity_token`]).
///
/// Errors (401): `unauthorized: <the token server's words>` when the token
/// endpoint refuses the credentials; `login attempt to <url> failed with
/// status: 401 Unauthorized` when `/v2/` refuses them. Unreachable
/// registry: a transport error (500).
pub async fn login(dist: &Distribution, auth: &AuthConfig) -> Result<LoginOutcome> {
    let domain = if auth.serveraddress.is_empty() {
        "docker.io".to_string()
    } else {
        normalize_server(&auth.serveraddress)
    };
    let creds = auth.credentials();
    let mut last_err = None;
    for ep in dist.endpoints(&domain, false) {
        let challenge = match dist.ping(&ep).await {
            Ok(c) => c,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        let url = format!("{}/v2/", ep.base);
        let mut identity_token = String::new();
        let header = match &challenge {
            None => {
                return Ok(LoginOutcome {
                    status: "Login Succeeded".into(),
                    identity_token: String::new(),
                })
            }
            Some(c) if c.scheme == "basic" => creds.basic_header(),
            Some(c) => {
                let (t, refresh) = dist
                    .token_offline(&ep.base, ep.skip_verify, c, &[], &creds, true, true)
                    .await?;
                identity_token = refresh.unwrap_or_default();
                format!("Bearer {t}")
            }
        };
        let resp = dist
            .http(ep.skip_verify)
            .get(&url)
            .header(AUTHORIZATION, header)
            .send()
            .await
            .map_err(|e| crate::client::transport(&reqwest::Method::GET, &url, &e))?;
        if resp.status() == StatusCode::OK {
            return Ok(LoginOutcome {
                status: "Login Succeeded".into(),
                identity_token,
            });
        }
        return Err(DistributionError::Unauthorized(format!(
            "login attempt to {url} failed with status: {}",
            status_line(resp.status().as_u16())
        )));
    }
    Err(last_err
        .unwrap_or_else(|| DistributionError::Transport(format!("no endpoint for {domain}"))))
}
