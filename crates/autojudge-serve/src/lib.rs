//! An OpenAI-compatible HTTP server for AutoJudge decoding over any
//! [`TargetModel`](autojudge_core::TargetModel): `POST /v1/completions` and
//! `POST /v1/chat/completions` (whole or streamed as server-sent events), `GET /v1/models`,
//! `GET /health` and `GET /metrics` (Prometheus).
//!
//! Each request is decoded target-only, lossless or with AutoJudge (an extension field,
//! `"method"`, with `"judge_threshold"` and `"draft_window"`; `docs/serve.md`), greedily or,
//! above temperature 0, with the lossless sampler. Requests share forwards: a pool of workers
//! decodes them through one batch group, so a request joins the batched forward when a worker
//! takes it and leaves when it ends. Past the queue limit a request gets 429 with
//! `Retry-After`; a client that disconnects cancels its generation; SIGTERM (or Ctrl-C) stops
//! accepting connections and drains the requests in flight before [`run`] returns.
//!
//! An engine gets the server by implementing the model contract: build [`ServedModels`] with
//! its target (and draft, judge, tokenizer, chat template), start a [`Pool`], and [`run`] it
//! (or mount [`router`] in an axum application of its own).
#![warn(missing_docs)]

mod api;
mod engine;
mod error;
mod extract;
mod handlers;
mod metrics;
mod plan;
mod text;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use api::{
    ChatChoice, ChatCompletion, ChatDelta, ChatMessage, ChatRequest, Common, Completion,
    CompletionChoice, CompletionRequest, MethodName, ModelCard, ModelList, Prompt, Stop, Usage,
};
pub use engine::{
    ChatTemplate, Decoding, GenEvent, GenRequest, Generator, Pool, PoolCounts, ServeConfig,
    ServedModels,
};
pub use error::{ApiError, ServeError};
pub use metrics::Metrics;
pub use text::TextStream;

/// The server's routes over `generator`.
pub fn router(generator: Arc<dyn Generator>) -> Router {
    let limit = generator.config().max_body_bytes;
    let state = Arc::new(handlers::AppState {
        generator,
        metrics: Metrics::new(),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    });
    Router::new()
        .route("/v1/completions", post(handlers::completions))
        .route("/v1/chat/completions", post(handlers::chat_completions))
        .route("/v1/models", get(handlers::models))
        .route("/health", get(handlers::health))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            handlers::count_requests,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Serves `generator` on `addr` until `shutdown` resolves, then drains the requests in flight
/// (streams included) and returns. `on_listening` gets the bound address (port 0 picks one).
/// Builds its own multi-threaded tokio runtime, so a synchronous program calls it directly.
pub fn run(
    generator: Arc<dyn Generator>,
    addr: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(std::net::SocketAddr),
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Http)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(ServeError::Http)?;
        on_listening(local);
        axum::serve(listener, router(generator))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServeError::Http)
    })
}
