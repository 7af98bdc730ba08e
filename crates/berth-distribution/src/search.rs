//! The registry index search API (`GET /v1/search?q=&n=`), which dockerd's
//! `GET /images/search` forwards to: Docker Hub's index offers it; the
//! distribution project's registry (and berth-registry) do not, and answer
//! 404, which dockerd reports as `Unexpected status code 404`.

use crate::client::{transport, Distribution};
use crate::error::{DistributionError, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// Docker Hub's index host (dockerd's `IndexServer`).
pub const DOCKER_INDEX_HOST: &str = "index.docker.io";

/// One search result, with the JSON field names of the v1 search API and
/// of Engine API `GET /images/search` (`ImageSearchResponseItem`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Repository name (`library/busybox` on Docker Hub's index).
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Stars on the index.
    #[serde(default)]
    pub star_count: i64,
    /// An official image.
    #[serde(default)]
    pub is_official: bool,
    /// Deprecated by Docker Hub, always false there now.
    #[serde(default)]
    pub is_automated: bool,
}

#[derive(Deserialize)]
struct SearchResults {
    #[serde(default)]
    results: Vec<SearchResult>,
}

impl Distribution {
    /// Searches the index of registry `domain` (`docker.io` means Docker
    /// Hub's index) for `query`, at most `limit` results, trying https and,
    /// for an insecure registry, http.
    ///
    /// # Errors
    /// [`DistributionError::Transport`] when no endpoint answers;
    /// [`DistributionError::Registry`] with `Unexpected status code N`
    /// (dockerd's words) for any answer but 200; a body that is not the
    /// search API's JSON.
    pub async fn search(&self, domain: &str, query: &str, limit: u32) -> Result<Vec<SearchResult>> {
        let bases: Vec<(String, bool)> = if domain == "docker.io" {
            vec![(format!("https://{DOCKER_INDEX_HOST}"), false)]
        } else {
            self.endpoints(domain, false)
                .into_iter()
                .map(|e| (e.base, e.skip_verify))
                .collect()
        };
        let mut last = None;
        for (base, skip_verify) in bases {
            let url = format!("{base}/v1/search");
            let resp = self
                .http(skip_verify)
                .get(&url)
                .query(&[("q", query), ("n", &limit.to_string())])
                .send()
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    last = Some(transport(&Method::GET, &url, &e));
                    continue;
                }
            };
            if resp.status().as_u16() != 200 {
                return Err(DistributionError::Registry(format!(
                    "Unexpected status code {}",
                    resp.status().as_u16()
                )));
            }
            let body = resp
                .bytes()
                .await
                .map_err(|e| transport(&Method::GET, &url, &e))?;
            let r: SearchResults = serde_json::from_slice(&body).map_err(|e| {
                DistributionError::Registry(format!("invalid search response from {url}: {e}"))
            })?;
            return Ok(r.results);
        }
        Err(last
            .unwrap_or_else(|| DistributionError::Transport(format!("no endpoint for {domain}"))))
    }
}
