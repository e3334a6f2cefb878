//! `GET /metrics`: Prometheus text exposition (OpenMetrics) of what the server did: requests by
//! endpoint and status, tokens, accepted draft tokens, verification cycles and target calls by
//! method (with their running ratios), queue depth, requests running, time to first token.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::api::{MethodName, Usage};
use crate::engine::PoolCounts;

/// Labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    status: u16,
}

/// Labels of a per-method count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    completion_tokens: Family<MethodLabels, Counter>,
    accepted_tokens: Family<MethodLabels, Counter>,
    cycles: Family<MethodLabels, Counter>,
    target_calls: Family<MethodLabels, Counter>,
    accepted_per_cycle: Family<MethodLabels, Gauge<f64, AtomicU64>>,
    tokens_per_target_call: Family<MethodLabels, Gauge<f64, AtomicU64>>,
    queue_depth: Gauge,
    running: Gauge,
    ttft: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("autojudge");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "HTTP requests by endpoint and status",
            requests.clone(),
        );
        let per_method = |registry: &mut Registry, name: &str, help: &str| {
            let f = Family::<MethodLabels, Counter>::default();
            registry.register(name, help, f.clone());
            f
        };
        let completion_tokens = per_method(&mut registry, "completion_tokens", "Generated tokens");
        let accepted_tokens = per_method(
            &mut registry,
            "accepted_tokens",
            "Draft tokens the target accepted",
        );
        let cycles = per_method(
            &mut registry,
            "cycles",
            "Verification cycles (one target forward each)",
        );
        let target_calls = per_method(
            &mut registry,
            "target_calls",
            "Target forwards, prefill included",
        );
        let accepted_per_cycle = Family::<MethodLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "accepted_tokens_per_cycle",
            "Accepted draft tokens per verification cycle, over every finished request",
            accepted_per_cycle.clone(),
        );
        let tokens_per_target_call = Family::<MethodLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "tokens_per_target_call",
            "Generated tokens per target forward, over every finished request",
            tokens_per_target_call.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Requests admitted and waiting for a worker",
            queue_depth.clone(),
        );
        let running = Gauge::default();
        registry.register(
            "requests_running",
            "Requests being decoded",
            running.clone(),
        );
        let ttft = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "time_to_first_token_seconds",
            "From the request's arrival to its first generated token",
            ttft.clone(),
        );
        Metrics {
            registry,
            requests,
            completion_tokens,
            accepted_tokens,
            cycles,
            target_calls,
            accepted_per_cycle,
            tokens_per_target_call,
            queue_depth,
            running,
            ttft,
        }
    }

    /// Counts an answered request.
    pub fn request(&self, endpoint: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.to_string(),
                status,
            })
            .inc();
    }

    /// Records a first token `after` the request arrived.
    pub fn first_token(&self, after: Duration) {
        self.ttft.observe(after.as_secs_f64());
    }

    /// Adds a finished generation's counts.
    pub fn generation(&self, method: MethodName, usage: &Usage) {
        let labels = MethodLabels {
            method: method.as_str().to_string(),
        };
        self.completion_tokens
            .get_or_create(&labels)
            .inc_by(usage.completion_tokens as u64);
        self.accepted_tokens
            .get_or_create(&labels)
            .inc_by(usage.accepted_tokens);
        self.cycles.get_or_create(&labels).inc_by(usage.cycles);
        self.target_calls
            .get_or_create(&labels)
            .inc_by(usage.target_calls);
        // The running ratios, from the counters themselves.
        let count = |f: &Family<MethodLabels, Counter>| f.get_or_create(&labels).get() as f64;
        let (tokens, accepted) = (count(&self.completion_tokens), count(&self.accepted_tokens));
        let (cycles, calls) = (count(&self.cycles), count(&self.target_calls));
        if cycles > 0.0 {
            self.accepted_per_cycle
                .get_or_create(&labels)
                .set(accepted / cycles);
        }
        if calls > 0.0 {
            self.tokens_per_target_call
                .get_or_create(&labels)
                .set(tokens / calls);
        }
    }

    /// The text exposition, with the pool's current queue depth and running count.
    pub fn render(&self, counts: &PoolCounts) -> String {
        use std::sync::atomic::Ordering;
        let admitted = counts.admitted.load(Ordering::SeqCst);
        let running = counts.running.load(Ordering::SeqCst);
        self.queue_depth
            .set(admitted.saturating_sub(running) as i64);
        self.running.set(running as i64);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
