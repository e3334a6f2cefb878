//! The server as a client sees it, in process (tower `oneshot` on the router): outputs equal
//! the decode loop's, streams equal whole responses, bad requests get OpenAI errors and 4xx,
//! a full queue gets 429, a client that leaves cancels its generation, and requests served
//! together equal the same requests served one at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use autojudge_core::{
    CoreResult, FeatureSet, Judge, ModelInfo, Rows, TargetModel, TextTokenizer, Threshold, TokenId,
};
use autojudge_decode::policies::{ExactMatch, JudgePolicy};
use autojudge_decode::testing::{IdText, MockLm};
use autojudge_decode::{
    generate_speculative, generate_target_only, AcceptancePolicy, DecodeConfig, Hooks, ModelDrafter,
};
use autojudge_serve::{
    router, ChatMessage, ChatTemplate, GenEvent, GenRequest, Generator, Pool, ServeConfig,
    ServedModels,
};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const VOCAB: usize = 64;

/// `role: content` lines, then the assistant's turn.
struct Lines;

impl ChatTemplate for Lines {
    fn render(&self, messages: &[ChatMessage]) -> Result<String, autojudge_core::BoxError> {
        if messages.iter().any(|m| m.role == "tool") {
            return Err("role `tool` is not supported".into());
        }
        Ok(messages.iter().map(|m| m.content.clone() + " ").collect())
    }
}

/// A judge whose P(important) is the first target feature's fractional part.
#[derive(Clone)]
struct Fraction;

impl Judge for Fraction {
    fn name(&self) -> String {
        "fraction".into()
    }
    fn features(&self) -> FeatureSet {
        FeatureSet::Target
    }
    fn p_important(&self, rows: &Rows) -> Vec<f32> {
        rows.iter().map(|r| (r[0] * 7.0).abs().fract()).collect()
    }
}

/// A model whose sessions can only be opened while its gate is open (holds workers busy).
#[derive(Clone)]
struct Gated {
    inner: MockLm,
    gate: Arc<(Mutex<bool>, Condvar)>,
    sessions: Arc<AtomicUsize>,
}

impl Gated {
    fn new(inner: MockLm, open: bool) -> Self {
        Gated {
            inner,
            gate: Arc::new((Mutex::new(open), Condvar::new())),
            sessions: Arc::new(AtomicUsize::new(0)),
        }
    }
    fn open(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
}

impl TargetModel for Gated {
    type Session = <MockLm as TargetModel>::Session;
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    fn new_session(&self) -> CoreResult<Self::Session> {
        let (m, c) = &*self.gate;
        let _open = c.wait_while(m.lock().unwrap(), |open| !*open).unwrap();
        self.sessions.fetch_add(1, Ordering::SeqCst);
        self.inner.new_session()
    }
}

fn target() -> MockLm {
    MockLm::new(3, VOCAB, 3.0).with_max_context(200)
}

fn draft() -> MockLm {
    target().noisy_copy(4, 0.6)
}

fn pool_with(config: ServeConfig, judge: bool) -> Arc<Pool> {
    Arc::new(
        Pool::start(
            ServedModels {
                name: "mock".into(),
                target: target(),
                draft: Some(draft()),
                tokenizer: Arc::new(IdText::of(&target())),
                chat: Some(Arc::new(Lines)),
                judge: judge.then(|| (Fraction, Threshold::new(0.5).unwrap())),
            },
            config,
        )
        .unwrap(),
    )
}

fn app() -> axum::Router {
    router(pool_with(ServeConfig::default(), true) as Arc<dyn Generator>)
}

async fn send(app: &axum::Router, path: &str, body: impl Into<Body>) -> (StatusCode, Vec<u8>) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    (
        status,
        r.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

async fn post(app: &axum::Router, path: &str, body: Value) -> (StatusCode, Value) {
    let (s, b) = send(app, path, body.to_string()).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let req = Request::builder().uri(path).body(Body::empty()).unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let b = r.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&b).into_owned())
}

fn text_of(tokens: &[TokenId]) -> String {
    IdText::of(&target()).decode(tokens).unwrap()
}

const PROMPT: &str = "1 2 3 4";

/// The decode loop's own outputs for `PROMPT`: target-only, lossless and AutoJudge (k = 8).
fn direct(max_new: usize) -> [Vec<TokenId>; 3] {
    let prompt = [1, 2, 3, 4];
    let cfg = DecodeConfig::greedy(8, max_new);
    let t = target();
    let only = generate_target_only(
        &mut t.new_session().unwrap(),
        &prompt,
        &cfg,
        Hooks::default(),
    )
    .unwrap()
    .tokens;
    fn spec<P: AcceptancePolicy>(
        t: &MockLm,
        prompt: &[TokenId],
        cfg: &DecodeConfig,
        mut p: P,
    ) -> Vec<TokenId> {
        let mut d = ModelDrafter::new(draft().new_session().unwrap());
        let mut s = t.new_session().unwrap();
        generate_speculative(&mut s, &mut d, &mut p, prompt, cfg, Hooks::default())
            .unwrap()
            .tokens
    }
    let judged = JudgePolicy {
        judge: Fraction,
        threshold: Threshold::new(0.5).unwrap(),
    };
    [
        only,
        spec(&t, &prompt, &cfg, ExactMatch),
        spec(&t, &prompt, &cfg, judged),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_text_equals_the_decode_loops_for_every_method() {
    let app = app();
    let [only, lossless, judged] = direct(40);
    assert_eq!(only, lossless);
    assert_ne!(
        only, judged,
        "the judge accepts some mismatches on this prompt"
    );
    for (method, want) in [
        ("target-only", &only),
        ("lossless", &lossless),
        ("autojudge", &judged),
    ] {
        let (s, r) = post(
            &app,
            "/v1/completions",
            json!({"model": "mock", "prompt": PROMPT, "max_tokens": 40, "method": method}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["choices"][0]["text"], text_of(want), "{method}");
        assert_eq!(r["choices"][0]["finish_reason"], "length");
        let u = &r["usage"];
        assert_eq!(
            (u["prompt_tokens"].as_u64(), u["completion_tokens"].as_u64()),
            (Some(4), Some(40))
        );
        assert_eq!(u["method"], method);
        if method != "target-only" {
            assert!(u["accepted_tokens"].as_u64().unwrap() > 0, "{u}");
            assert!(u["target_calls"].as_u64().unwrap() < 40, "{u}");
        }
    }
    // The server's default with a judge is AutoJudge at the judge's threshold.
    let (_, r) = post(
        &app,
        "/v1/completions",
        json!({"model": "mock", "prompt": PROMPT, "max_tokens": 40}),
    )
    .await;
    assert_eq!(r["choices"][0]["text"], text_of(&judged));
}

/// The `data:` payloads of a server-sent-event body.
fn sse_data(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("data: ").map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_carries_the_whole_text_then_usage_then_done() {
    let app = app();
    for (path, body) in [
        (
            "/v1/completions",
            json!({"model": "mock", "prompt": PROMPT, "max_tokens": 30, "stream": true, "stop": ["9 "]}),
        ),
        (
            "/v1/chat/completions",
            json!({"model": "mock", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 30, "stream": true, "stop": ["9 "]}),
        ),
    ] {
        let mut whole = body.clone();
        whole["stream"] = json!(false);
        let (_, w) = post(&app, path, whole).await;
        let (s, b) = send(&app, path, body.to_string()).await;
        assert_eq!(s, StatusCode::OK);
        let data = sse_data(&b);
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let chat = path.contains("chat");
        let piece = |c: &Value| {
            if chat {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            } else {
                c["choices"][0]["text"].as_str().unwrap().to_string()
            }
        };
        let streamed: String = chunks.iter().map(piece).collect();
        let want = if chat {
            w["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        } else {
            w["choices"][0]["text"].as_str().unwrap().to_string()
        };
        assert_eq!(streamed, want, "{path}");
        let last = chunks.last().unwrap();
        assert_eq!(
            last["choices"][0]["finish_reason"],
            w["choices"][0]["finish_reason"]
        );
        assert_eq!(last["usage"], w["usage"]);
        if chat {
            assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_strings_are_cut_from_the_text() {
    let app = app();
    let [only, ..] = direct(40);
    let full = text_of(&only);
    // A stop string made of the 5th and 6th tokens' text.
    let words: Vec<&str> = full.split_whitespace().collect();
    let stop = format!("{} {}", words[4], words[5]);
    let (_, r) = post(
        &app,
        "/v1/completions",
        json!({"model": "mock", "prompt": PROMPT, "max_tokens": 40, "method": "target-only", "stop": stop}),
    )
    .await;
    let want = &full[..full.find(&stop).unwrap()];
    assert_eq!(r["choices"][0]["text"], want);
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_openai_errors_and_4xx() {
    let small = router(pool_with(
        ServeConfig {
            max_body_bytes: 2000,
            ..ServeConfig::default()
        },
        false,
    ) as Arc<dyn Generator>);
    let ok = json!({"model": "mock", "prompt": PROMPT, "max_tokens": 4});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, StatusCode, Option<&str>)> = vec![
        (
            with("max_tokens", json!(0)),
            StatusCode::BAD_REQUEST,
            Some("max_tokens"),
        ),
        (
            with("max_tokens", json!(-3)),
            StatusCode::BAD_REQUEST,
            Some("max_tokens"),
        ),
        (
            with("max_tokens", json!(500)),
            StatusCode::BAD_REQUEST,
            Some("max_tokens"),
        ),
        (
            with("max_tokens", json!("many")),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            with("prompt", json!("")),
            StatusCode::BAD_REQUEST,
            Some("prompt"),
        ),
        (with("prompt", json!(7)), StatusCode::BAD_REQUEST, None),
        (
            with("prompt", json!(["a", "b"])),
            StatusCode::BAD_REQUEST,
            Some("prompt"),
        ),
        (
            with("judge_threshold", json!(1.5)),
            StatusCode::BAD_REQUEST,
            Some("judge_threshold"),
        ),
        (
            with("method", json!("autojudge")),
            StatusCode::BAD_REQUEST,
            Some("method"),
        ),
        (
            with("method", json!("fastest")),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            with("temperature", json!(-1)),
            StatusCode::BAD_REQUEST,
            Some("temperature"),
        ),
        (
            with("top_p", json!(0)),
            StatusCode::BAD_REQUEST,
            Some("top_p"),
        ),
        (with("n", json!(2)), StatusCode::BAD_REQUEST, Some("n")),
        (
            with("draft_window", json!(0)),
            StatusCode::BAD_REQUEST,
            Some("draft_window"),
        ),
        (
            with("stop", json!(["a", "b", "c", "d", "e"])),
            StatusCode::BAD_REQUEST,
            Some("stop"),
        ),
        (
            with("model", json!("gpt-4")),
            StatusCode::NOT_FOUND,
            Some("model"),
        ),
        (
            with("prompt", json!("x".repeat(5000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
    ];
    for (body, status, param) in cases {
        let (s, r) = post(&small, "/v1/completions", body.clone()).await;
        assert_eq!(s, status, "{body} -> {r}");
        assert!(r["error"]["message"].is_string(), "{body} -> {r}");
        assert!(r["error"]["type"].is_string(), "{body} -> {r}");
        if let Some(p) = param {
            assert_eq!(r["error"]["param"], p, "{body} -> {r}");
        }
    }
    for raw in ["{", "not json", "[1,2]", ""] {
        let (s, b) = send(&small, "/v1/completions", raw).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{raw}");
        let r: Value = serde_json::from_slice(&b).unwrap();
        assert!(r["error"]["message"].is_string());
    }
    let (s, r) = post(
        &small,
        "/v1/chat/completions",
        json!({"model": "mock", "messages": []}),
    )
    .await;
    assert_eq!(
        (s, r["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("messages"))
    );
    let (s, _) = get(&small, "/v1/nothing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // None of them disturbed the server.
    let (s, r) = post(&small, "/v1/completions", ok).await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_health_and_metrics() {
    let app = app();
    let (s, m) = get(&app, "/v1/models").await;
    assert_eq!(s, StatusCode::OK);
    let m: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["data"][0]["id"], "mock");
    let (s, h) = get(&app, "/health").await;
    assert_eq!((s, h.contains("ok")), (StatusCode::OK, true));
    post(
        &app,
        "/v1/completions",
        json!({"model": "mock", "prompt": PROMPT, "max_tokens": 20, "method": "lossless"}),
    )
    .await;
    post(
        &app,
        "/v1/completions",
        json!({"model": "mock", "prompt": PROMPT, "max_tokens": 0}),
    )
    .await;
    let (s, text) = get(&app, "/metrics").await;
    assert_eq!(s, StatusCode::OK);
    for needle in [
        "autojudge_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 1",
        "autojudge_requests_total{endpoint=\"/v1/completions\",status=\"400\"} 1",
        "autojudge_completion_tokens_total{method=\"lossless\"} 20",
        "autojudge_accepted_tokens_per_cycle{method=\"lossless\"}",
        "autojudge_tokens_per_target_call{method=\"lossless\"}",
        "autojudge_queue_depth 0",
        "autojudge_time_to_first_token_seconds_count 1",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

fn gated_pool(config: ServeConfig) -> (Gated, Pool) {
    let gated = Gated::new(target(), false);
    let pool = Pool::start(
        ServedModels::<_, _, Fraction> {
            name: "mock".into(),
            target: gated.clone(),
            draft: Some(draft()),
            tokenizer: Arc::new(IdText::of(&target())),
            chat: None,
            judge: None,
        },
        config,
    )
    .unwrap();
    (gated, pool)
}

fn request(max_new: usize) -> GenRequest {
    GenRequest {
        prompt: vec![1, 2, 3, 4],
        cfg: DecodeConfig::greedy(1, max_new),
        decoding: autojudge_serve::Decoding::TargetOnly,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_queue_a_request_gets_429_with_retry_after() {
    let (gated, pool) = gated_pool(ServeConfig {
        max_concurrent: 1,
        max_queue: 1,
        ..ServeConfig::default()
    });
    let pool = Arc::new(pool);
    let mut running = pool.submit(request(5)).unwrap();
    // The worker holds the first request (its session waits for the gate).
    assert!(matches!(running.recv().await, Some(GenEvent::Started)));
    let mut queued = pool.submit(request(5)).unwrap();
    let app = router(Arc::clone(&pool) as Arc<dyn Generator>);
    let req = Request::builder()
        .method("POST")
        .uri("/v1/completions")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"model": "mock", "prompt": PROMPT, "max_tokens": 3, "method": "target-only"})
                .to_string(),
        ))
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    let b: Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(b["error"]["type"], "rate_limit_error");
    gated.open();
    for rx in [&mut running, &mut queued] {
        loop {
            match rx.recv().await {
                Some(GenEvent::Done(g)) => {
                    assert_eq!((*g).unwrap().tokens.len(), 5);
                    break;
                }
                Some(_) => {}
                None => panic!("no result"),
            }
        }
    }
    // Once they are done the server admits again.
    let (s, _) = post(
        &app,
        "/v1/completions",
        json!({"model": "mock", "prompt": PROMPT, "max_tokens": 3, "method": "target-only"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_cancels_its_generation() {
    let (gated, pool) = gated_pool(ServeConfig::default());
    gated.open();
    let mut rx = pool.submit(request(190)).unwrap();
    // Wait for the first tokens, then go away.
    loop {
        if let Some(GenEvent::Tokens(_)) = rx.recv().await {
            break;
        }
    }
    drop(rx);
    let t = Instant::now();
    while pool.counts().admitted.load(Ordering::SeqCst) > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the generation did not stop"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A full generation of 190 tokens is still served afterwards.
    let mut rx = pool.submit(request(190)).unwrap();
    let g = loop {
        if let Some(GenEvent::Done(g)) = rx.recv().await {
            break (*g).unwrap();
        }
    };
    assert_eq!(g.tokens.len(), 190);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_served_together_equal_each_served_alone() {
    let app = app();
    let bodies: Vec<Value> = (0..12)
        .map(|i| {
            let method = ["target-only", "lossless", "autojudge"][i % 3];
            json!({"model": "mock", "prompt": format!("{} {} {}", i + 1, 2 * i + 3, 5), "max_tokens": 10 + i, "method": method})
        })
        .collect();
    let mut alone = Vec::new();
    for b in &bodies {
        alone.push(post(&app, "/v1/completions", b.clone()).await.1["choices"][0]["text"].clone());
    }
    let together = futures_join(&app, &bodies).await;
    assert_eq!(together, alone);
}

async fn futures_join(app: &axum::Router, bodies: &[Value]) -> Vec<Value> {
    let handles: Vec<_> = bodies
        .iter()
        .map(|b| {
            let (app, b) = (app.clone(), b.clone());
            tokio::spawn(async move {
                post(&app, "/v1/completions", b).await.1["choices"][0]["text"].clone()
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[ -~]{0,12}".prop_map(Value::from),
            Just(json!("mock")),
            Just(json!(PROMPT)),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("model".to_string()),
                            Just("prompt".to_string()),
                            Just("messages".to_string()),
                            Just("max_tokens".to_string()),
                            Just("stream".to_string()),
                            Just("stop".to_string()),
                            Just("temperature".to_string()),
                            Just("top_p".to_string()),
                            Just("method".to_string()),
                            Just("judge_threshold".to_string()),
                            Just("draft_window".to_string()),
                            Just("n".to_string()),
                            Just("role".to_string()),
                            Just("content".to_string()),
                            "[a-z]{1,6}",
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
        /// Whatever the body, the server answers: 2xx, or a 4xx with an OpenAI error. Never a
        /// 5xx, never a panic.
        #[test]
        fn no_body_gets_a_5xx(body in value(), raw in prop::collection::vec(any::<u8>(), 0..40), chat in any::<bool>(), use_raw in any::<bool>()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let app = FUZZ_APP.with(|a| a.clone());
            let path = if chat { "/v1/chat/completions" } else { "/v1/completions" };
            let mut body = body;
            if let Some(o) = body.as_object_mut() {
                // Keep generations short so the fuzzer spends its time on parsing.
                if o.get("max_tokens").and_then(Value::as_i64).is_some_and(|m| m > 8) {
                    o.insert("max_tokens".into(), json!(8));
                }
                o.insert("max_tokens".into(), o.get("max_tokens").cloned().unwrap_or(json!(4)));
            }
            let payload: Vec<u8> = if use_raw { raw } else { body.to_string().into_bytes() };
            let (status, bytes) = rt.block_on(send(&app, path, payload));
            prop_assert!(!status.is_server_error(), "{status} for {body}");
            if status.is_client_error() {
                let v: Value = serde_json::from_slice(&bytes).unwrap();
                prop_assert!(v["error"]["message"].is_string());
            }
        }
    }

    thread_local! {
        static FUZZ_APP: axum::Router = app();
    }
}
