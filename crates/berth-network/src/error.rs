//! Errors of the network service, each with the HTTP status the Docker
//! Engine API gives for it and Docker's wording.

/// What went wrong, in Docker's words. [`NetError::status`] gives the
/// Engine API status code the daemon should answer with.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// 404: `network NAME not found` (unknown name, ID or ID prefix).
    #[error("network {0} not found")]
    NotFound(String),
    /// 404: no endpoint with this ID, or the container is not connected.
    #[error("{0}")]
    EndpointNotFound(String),
    /// 404: an unknown network driver (`plugin "NAME" not found`).
    #[error("plugin \"{0}\" not found")]
    PluginNotFound(String),
    /// 409: `network with name NAME already exists`.
    #[error("network with name {0} already exists")]
    DuplicateName(String),
    /// 403: the requested subnet overlaps an existing network's pool.
    #[error("invalid pool request: Pool overlaps with other one on this address space")]
    PoolOverlap,
    /// 403: removing a network that still has endpoints
    /// (`error while removing network: network NAME id ID has active endpoints`).
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    ActiveEndpoints {
        /// Network name.
        name: String,
        /// Full network ID.
        id: String,
    },
    /// 403: the operation is not allowed (pre-defined network, connect twice).
    #[error("{0}")]
    Forbidden(String),
    /// 400: bad input (invalid subnet, gateway outside subnet, bad port spec).
    #[error("{0}")]
    InvalidParameter(String),
    /// 500 (as Docker): `Bind for IP:PORT failed: port is already allocated`.
    #[error("Bind for {addr}:{port} failed: port is already allocated")]
    PortAllocated {
        /// The host IP of the binding (`0.0.0.0` for all).
        addr: String,
        /// The host port.
        port: u16,
    },
    /// 503-ish: no free address or port left in a pool or range.
    #[error("{0}")]
    Exhausted(String),
    /// 500: a kernel, nft or file-system failure.
    #[error("{0}")]
    System(String),
}

impl NetError {
    /// The Engine API status code Docker answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            NetError::NotFound(_) | NetError::EndpointNotFound(_) | NetError::PluginNotFound(_) => {
                404
            }
            NetError::DuplicateName(_) => 409,
            NetError::PoolOverlap | NetError::ActiveEndpoints { .. } | NetError::Forbidden(_) => {
                403
            }
            NetError::InvalidParameter(_) => 400,
            NetError::PortAllocated { .. } | NetError::Exhausted(_) | NetError::System(_) => 500,
        }
    }

    pub(crate) fn sys(ctx: &str, e: impl std::fmt::Display) -> NetError {
        NetError::System(format!("{ctx}: {e}"))
    }
}

/// Result alias for this crate.
pub type Result<T, E = NetError> = std::result::Result<T, E>;
