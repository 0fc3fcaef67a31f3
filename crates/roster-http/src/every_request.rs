//! What happens around every request: a request id, the time limit, the metrics and the access
//! log.
//!
//! It is one middleware rather than a stack of five: each layer cloned its service and the
//! shared state and boxed its future on every request, which together cost a simple GET about a
//! fifth of its throughput (bench/README.md).

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};
use roster_core::commit_gate::CommitGate;
use uuid::Uuid;

use crate::{REQUEST_ID, access_log, problem::ApiError, state::AppState};

/// The request's id, as the client sent it or as made up here, for whatever logs the request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id =
        request.headers().get(REQUEST_ID).filter(|id| is_request_id(id)).cloned().unwrap_or_else(new_request_id);
    request.extensions_mut().insert(RequestId(request_id.to_str().unwrap_or("").to_owned()));
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |path| path.as_str()).to_owned();
    let path = request.uri().path().to_owned();

    // At the limit the request gives up through its commit gate: an unfinished write rolls
    // back and the answer is 503, unless a commit has begun, whose outcome is then the answer
    // (a 503 must mean nothing was written). A request dropped for any other reason (the
    // client went away) gives up the same way.
    let gate = CommitGate::new();
    let _give_up_if_dropped = GiveUpOnDrop(&gate);
    let handled = gate.guard(next.run(request));
    tokio::pin!(handled);
    let mut response = match tokio::time::timeout(state.request_timeout, &mut handled).await {
        Ok(response) => response,
        Err(_) if gate.abandon() => crate::dialects::render(&path, ApiError::TimedOut(state.request_timeout)),
        Err(_) => handled.await,
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.observe(&method, route, status, elapsed);
    access_log::write(&access_log::Entry {
        method: &method,
        path: &path,
        status,
        latency: elapsed,
        request_id: request_id.to_str().unwrap_or(""),
        internal_cause: response.extensions().get::<access_log::InternalCause>(),
    });
    response.headers_mut().insert(REQUEST_ID, request_id);
    response
}

struct GiveUpOnDrop<'a>(&'a CommitGate);

impl Drop for GiveUpOnDrop<'_> {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// The longest request id a client may choose: a UUID with room to spare.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether a client's `X-Request-Id` is kept: a short token of letters, digits and `-_.:`.
/// Any other (too long, spaces, bytes outside ASCII) is replaced by a new one, since the id is
/// logged and recorded in the request's events.
fn is_request_id(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(byte))
}

/// A new UUID (v4), for a request that came without an id.
fn new_request_id() -> HeaderValue {
    let mut text = Uuid::encode_buffer();
    // A UUID's text is hex digits and hyphens, always a valid header value.
    HeaderValue::from_str(Uuid::new_v4().hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_short_plain_request_id_is_kept() {
        for kept in ["req-1", "0f8fad5b-d9cb-469f-a165-70867728950e", "trace:abc.def_1"] {
            assert!(is_request_id(&HeaderValue::from_static(kept)), "{kept}");
        }
        let long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        for replaced in ["", "a b", "<script>", long.as_str()] {
            assert!(!is_request_id(&HeaderValue::from_str(replaced).unwrap()), "{replaced}");
        }
        assert!(!is_request_id(&HeaderValue::from_bytes(b"\xff\xfe").unwrap()));
    }
}
