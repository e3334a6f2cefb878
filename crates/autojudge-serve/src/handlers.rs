//! The HTTP endpoints: completions and chat completions (whole or streamed as server-sent
//! events), the model list, health and metrics.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use autojudge_core::{ErrorChain, TokenId};
use autojudge_decode::{Generation, StopReason};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::api::{
    ChatChoice, ChatCompletion, ChatDelta, ChatRequest, Common, Completion, CompletionChoice,
    CompletionRequest, ModelCard, ModelList, Prompt, Usage,
};
use crate::engine::{Decoding, GenEvent, GenRequest, Generator};
use crate::extract::ApiJson;
use crate::metrics::Metrics;
use crate::plan::plan;
use crate::text::TextStream;
use crate::ApiError;

/// What every handler shares.
pub struct AppState {
    /// The generation pool.
    pub generator: Arc<dyn Generator>,
    /// The metrics.
    pub metrics: Metrics,
    /// Server start, Unix seconds.
    pub created: u64,
}

type Shared = State<Arc<AppState>>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn request_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{:x}{:06x}",
        now(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Counts every answered request by path and status.
pub async fn count_requests(State(s): Shared, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let r = next.run(req).await;
    let endpoint = match path.as_str() {
        "/v1/completions" | "/v1/chat/completions" | "/v1/models" | "/health" | "/metrics" => path,
        _ => "other".into(),
    };
    s.metrics.request(&endpoint, r.status().as_u16());
    r
}

/// `GET /health`.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /metrics`.
pub async fn metrics(State(s): Shared) -> Response {
    let body = s.metrics.render(s.generator.counts());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `GET /v1/models`.
pub async fn models(State(s): Shared) -> Json<ModelList> {
    Json(ModelList {
        object: "list".into(),
        data: vec![ModelCard {
            id: s.generator.name().to_string(),
            object: "model".into(),
            created: s.created,
            owned_by: "autojudge".into(),
        }],
    })
}

/// Any other path.
pub async fn not_found(req: Request) -> ApiError {
    ApiError::body(
        StatusCode::NOT_FOUND,
        format!("no route {} {}", req.method(), req.uri().path()),
    )
}

/// `POST /v1/completions`.
pub async fn completions(
    State(s): Shared,
    ApiJson(r): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let text = match r.prompt {
        Prompt::Text(t) => t,
        Prompt::Batch(mut v) if v.len() == 1 => v.remove(0),
        Prompt::Batch(v) => {
            return Err(ApiError::invalid(
                "prompt",
                format!("{} prompts: one prompt per request is served", v.len()),
            ))
        }
    };
    if text.is_empty() {
        return Err(ApiError::invalid("prompt", "the prompt is empty"));
    }
    let run = Admitted::start(&s, &text, &r.common, arrived)?;
    let (id, model, created) = (request_id("cmpl"), s.generator.name().to_string(), now());
    if !r.common.stream {
        let (text, finish, usage) = run.whole(&s).await?;
        return Ok(Json(Completion {
            id,
            object: "text_completion".into(),
            created,
            model,
            choices: vec![CompletionChoice {
                index: 0,
                text,
                finish_reason: Some(finish.into()),
                logprobs: None,
            }],
            usage: Some(usage),
        })
        .into_response());
    }
    let chunk = move |text: String, finish: Option<String>, usage: Option<Usage>| Completion {
        id: id.clone(),
        object: "text_completion".into(),
        created,
        model: model.clone(),
        choices: vec![CompletionChoice {
            index: 0,
            text,
            finish_reason: finish,
            logprobs: None,
        }],
        usage,
    };
    Ok(stream(s, run, None, move |t, f, u| {
        serde_json::to_string(&chunk(t, f, u))
    }))
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(s): Shared,
    ApiJson(r): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    if r.messages.is_empty() {
        return Err(ApiError::invalid("messages", "no messages"));
    }
    let template = s.generator.chat().ok_or_else(|| {
        ApiError::invalid(
            "messages",
            "this model has no chat template; use /v1/completions",
        )
    })?;
    let text = template
        .render(&r.messages)
        .map_err(|e| ApiError::invalid("messages", ErrorChain(&*e).to_string()))?;
    let run = Admitted::start(&s, &text, &r.common, arrived)?;
    let (id, model, created) = (
        request_id("chatcmpl"),
        s.generator.name().to_string(),
        now(),
    );
    if !r.common.stream {
        let (text, finish, usage) = run.whole(&s).await?;
        return Ok(Json(ChatCompletion {
            id,
            object: "chat.completion".into(),
            created,
            model,
            choices: vec![ChatChoice {
                index: 0,
                message: Some(ChatDelta {
                    role: Some("assistant".into()),
                    content: Some(text),
                }),
                delta: None,
                finish_reason: Some(finish.into()),
            }],
            usage: Some(usage),
        })
        .into_response());
    }
    let chunk =
        move |delta: ChatDelta, finish: Option<String>, usage: Option<Usage>| ChatCompletion {
            id: id.clone(),
            object: "chat.completion.chunk".into(),
            created,
            model: model.clone(),
            choices: vec![ChatChoice {
                index: 0,
                message: None,
                delta: Some(delta),
                finish_reason: finish,
            }],
            usage,
        };
    let opening = serde_json::to_string(&chunk(
        ChatDelta {
            role: Some("assistant".into()),
            content: Some(String::new()),
        },
        None,
        None,
    ))
    .ok();
    Ok(stream(s, run, opening, move |t, f, u| {
        let delta = ChatDelta {
            role: None,
            content: (!t.is_empty() || f.is_none()).then_some(t),
        };
        serde_json::to_string(&chunk(delta, f, u))
    }))
}

fn encode(s: &AppState, text: &str) -> Result<Vec<TokenId>, ApiError> {
    s.generator
        .tokenizer()
        .encode(text, true)
        .map_err(|e| ApiError::invalid("prompt", ErrorChain(&e).to_string()))
}

fn finish_reason(stop: StopReason, cut_at_stop_string: bool) -> &'static str {
    match stop {
        _ if cut_at_stop_string => "stop",
        StopReason::Eos | StopReason::StopString | StopReason::Cancelled => "stop",
        StopReason::MaxTokens | StopReason::ContextFull => "length",
    }
}

fn usage(s: &AppState, decoding: Decoding, prompt: usize, g: &Generation) -> Usage {
    let u = Usage {
        prompt_tokens: prompt,
        completion_tokens: g.tokens.len(),
        total_tokens: prompt + g.tokens.len(),
        accepted_tokens: g.stats.accepted,
        cycles: g.stats.cycles,
        target_calls: g.stats.target_calls,
        draft_calls: g.stats.draft_calls,
        method: Some(decoding.method()),
    };
    s.metrics.generation(decoding.method(), &u);
    u
}

/// A request the pool admitted: its events and what its answer needs.
struct Admitted {
    events: UnboundedReceiver<GenEvent>,
    stops: Vec<String>,
    decoding: Decoding,
    prompt_tokens: usize,
    arrived: Instant,
}

impl Admitted {
    /// Tokenizes `text`, checks `common` against it and submits the generation.
    fn start(
        s: &AppState,
        text: &str,
        common: &Common,
        arrived: Instant,
    ) -> Result<Self, ApiError> {
        let prompt = encode(s, text)?;
        let (cfg, decoding) = plan(common, prompt.len(), &*s.generator)?;
        let stops = cfg.stop.stop_strings.clone();
        let prompt_tokens = prompt.len();
        let events = s.generator.submit(GenRequest {
            prompt,
            cfg,
            decoding,
        })?;
        Ok(Admitted {
            events,
            stops,
            decoding,
            prompt_tokens,
            arrived,
        })
    }

    /// Waits for the generation to end (non-streaming): its text, finish reason and usage.
    async fn whole(mut self, s: &AppState) -> Result<(String, &'static str, Usage), ApiError> {
        let mut first = true;
        while let Some(e) = self.events.recv().await {
            match e {
                GenEvent::Started => {}
                GenEvent::Tokens(_) => {
                    if std::mem::take(&mut first) {
                        s.metrics.first_token(self.arrived.elapsed());
                    }
                }
                GenEvent::Done(done) => {
                    let g = (*done).map_err(|e| ApiError::internal(ErrorChain(&e).to_string()))?;
                    let (text, stopped) =
                        TextStream::whole(&g.tokens, &self.stops, s.generator.tokenizer());
                    let u = usage(s, self.decoding, self.prompt_tokens, &g);
                    return Ok((text, finish_reason(g.stop, stopped), u));
                }
            }
        }
        Err(ApiError::shutting_down())
    }
}

/// Streams a generation as server-sent events: `opening` first (chat's role chunk), one chunk
/// per new piece of text, a last chunk with the finish reason and usage, then `[DONE]`.
/// Dropping the response (the client went away) drops the pool's receiver, which cancels the
/// generation.
fn stream<F>(s: Arc<AppState>, run: Admitted, opening: Option<String>, chunk: F) -> Response
where
    F: Fn(String, Option<String>, Option<Usage>) -> serde_json::Result<String> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(64);
    let Admitted {
        mut events,
        stops,
        decoding,
        prompt_tokens,
        arrived,
    } = run;
    tokio::spawn(async move {
        let send = |data: String| {
            let tx = tx.clone();
            async move { tx.send(Ok(Event::default().data(data))).await.is_ok() }
        };
        if let Some(o) = opening {
            if !send(o).await {
                return;
            }
        }
        let mut text = TextStream::new(stops);
        let mut first = true;
        while let Some(e) = events.recv().await {
            match e {
                GenEvent::Started => {}
                GenEvent::Tokens(new) => {
                    if std::mem::take(&mut first) {
                        s.metrics.first_token(arrived.elapsed());
                    }
                    let delta = text.push(&new, s.generator.tokenizer());
                    if !delta.is_empty() {
                        let Ok(data) = chunk(delta, None, None) else {
                            return;
                        };
                        if !send(data).await {
                            return;
                        }
                    }
                }
                GenEvent::Done(done) => {
                    let g = match *done {
                        Ok(g) => g,
                        Err(e) => {
                            let err = ApiError::internal(ErrorChain(&e).to_string());
                            if send(err.body_json().to_string()).await {
                                send("[DONE]".into()).await;
                            }
                            return;
                        }
                    };
                    let rest = text.finish(s.generator.tokenizer());
                    let u = usage(&s, decoding, prompt_tokens, &g);
                    if !rest.is_empty() {
                        let Ok(data) = chunk(rest, None, None) else {
                            return;
                        };
                        if !send(data).await {
                            return;
                        }
                    }
                    let reason = finish_reason(g.stop, text.stopped());
                    let Ok(data) = chunk(String::new(), Some(reason.into()), Some(u)) else {
                        return;
                    };
                    if send(data).await {
                        send("[DONE]".into()).await;
                    }
                    return;
                }
            }
        }
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}
