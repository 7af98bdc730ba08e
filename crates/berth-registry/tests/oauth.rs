//! The built-in token endpoint's refresh tokens (Docker's token spec,
//! `token.md` `offline_token` and `oauth.md`): a GET with credentials and
//! `offline_token=true` hands one out; POST grants (`refresh_token`,
//! `password` with `access_type=offline`) exchange it or a password for
//! an access token; every bad input gets its error and status, and a
//! refresh token is never a bearer token (nor the reverse).

mod common;

use std::time::Duration;

use berth_registry::{AuthConfig, TokenConfig};
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn code(r: reqwest::Response) -> String {
    let v: Value = r.json().await.unwrap();
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_offline_and_oauth_grants() {
    let dir = tempdir();
    let htpasswd = make_htpasswd(dir.path(), "dora", "s3cret");
    let auth = AuthConfig::Token(TokenConfig {
        realm: "/token".into(),
        service: "berth-oauth".into(),
        issuer: "berth-oauth-issuer".into(),
        htpasswd: Some(htpasswd),
        key_file: None,
        ttl: Duration::from_secs(300),
        anonymous_pull: false,
    });
    let srv = start(&dir.path().join("root"), auth, None).await;
    let base = srv.url();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let scope = "repository:o/a:pull,push";

    // GET without offline_token: no refresh token; with it: one.
    let v: Value = c
        .get(format!("{base}/token?service=berth-oauth&scope={scope}"))
        .basic_auth("dora", Some("s3cret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["token"].is_string() && v.get("refresh_token").is_none(),
        "{v}"
    );
    let r = c
        .get(format!(
            "{base}/token?service=berth-oauth&offline_token=true&client_id=docker"
        ))
        .basic_auth("dora", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let refresh = v["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    let access = v["token"].as_str().unwrap().to_string();
    // Anonymous offline request: no refresh token (and no access here).
    let v: Value = c
        .get(format!(
            "{base}/token?service=berth-oauth&offline_token=true&client_id=docker"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v.get("refresh_token").is_none(), "{v}");
    // Wrong password with offline_token: 401, nothing handed out.
    let r = c
        .get(format!("{base}/token?offline_token=true&client_id=docker"))
        .basic_auth("dora", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The refresh token is not a bearer token.
    let r = c
        .get(format!("{base}/v2/o/a/tags/list"))
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // grant_type=refresh_token: an access token for the scope, which
    // works (push a blob, read it back), and no new refresh token.
    let form = |pairs: &[(&str, &str)]| {
        c.post(format!("{base}/token"))
            .form(&pairs.iter().map(|(a, b)| (*a, *b)).collect::<Vec<_>>())
    };
    let r = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh),
        ("service", "berth-oauth"),
        ("client_id", "docker"),
        ("scope", scope),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], scope, "{v}");
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    assert!(v.get("refresh_token").is_none(), "{v}");
    let tok = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(v["token"], tok.as_str());
    let blob = b"oauth blob";
    let d = format!("sha256:{}", berth_types::Digest::sha256_of(blob).hex());
    let r = c
        .post(format!("{base}/v2/o/a/blobs/uploads/?digest={d}"))
        .bearer_auth(&tok)
        .header("content-type", "application/octet-stream")
        .body(blob.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = c
        .get(format!("{base}/v2/o/a/blobs/{d}"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), blob);
    // ...but not for another repository.
    let r = c
        .get(format!("{base}/v2/o/b/tags/list"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Bad refresh grants: 401 UNAUTHORIZED.
    for bad in [format!("{refresh}x"), access.clone(), "garbage".into()] {
        let r = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &bad),
            ("client_id", "docker"),
        ])
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(code(r).await, "UNAUTHORIZED");
    }
    // Malformed requests: 400.
    for pairs in [
        vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ],
        vec![("grant_type", "refresh_token"), ("client_id", "docker")],
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "docker"),
        ],
        vec![("client_id", "docker")],
        vec![
            ("grant_type", "password"),
            ("client_id", "docker"),
            ("username", "dora"),
        ],
    ] {
        let r = form(&pairs).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{pairs:?}");
        assert_eq!(code(r).await, "UNSUPPORTED", "{pairs:?}");
    }

    // grant_type=password: wrong password 401; right one with
    // access_type=offline gives a refresh token that works in turn.
    let r = form(&[
        ("grant_type", "password"),
        ("username", "dora"),
        ("password", "wrong"),
        ("client_id", "docker"),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = form(&[
        ("grant_type", "password"),
        ("username", "dora"),
        ("password", "s3cret"),
        ("client_id", "docker"),
        ("access_type", "offline"),
        ("scope", "repository:o/a:pull"),
    ])
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let r2 = v["refresh_token"].as_str().expect("refresh_token");
    assert_ne!(r2, refresh);
    let r = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", r2),
        ("client_id", "docker"),
        ("scope", "repository:o/a:pull"),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = form(&[
        ("grant_type", "password"),
        ("username", "dora"),
        ("password", "s3cret"),
        ("client_id", "docker"),
    ])
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(v.get("refresh_token").is_none(), "{v}");

    // A restarted server (new random key) refuses the old refresh token.
    srv.shutdown().await;
    let auth = AuthConfig::Token(TokenConfig {
        realm: "/token".into(),
        service: "berth-oauth".into(),
        issuer: "berth-oauth-issuer".into(),
        htpasswd: Some(dir.path().join("htpasswd")),
        key_file: None,
        ttl: Duration::from_secs(300),
        anonymous_pull: false,
    });
    let srv = start(&dir.path().join("root"), auth, None).await;
    let base = srv.url();
    let r = c
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", "docker"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    srv.shutdown().await;
}
