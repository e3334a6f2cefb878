//! The OpenAI wire format: request bodies as clients send them, responses and stream chunks
//! as clients parse them. Fields this server does not use are accepted and ignored (clients
//! send many); fields it uses are checked ([`crate::ApiError`] names them).

use serde::{Deserialize, Serialize};

/// `stop`: one string or several.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Stop {
    /// No stop string.
    #[default]
    None,
    /// One stop string.
    One(String),
    /// Several (OpenAI allows up to 4).
    Many(Vec<String>),
}

impl Stop {
    /// The stop strings, empty ones dropped.
    pub fn strings(&self) -> Vec<String> {
        let all = match self {
            Stop::None => Vec::new(),
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        };
        all.into_iter().filter(|s| !s.is_empty()).collect()
    }
}

/// `prompt` of a completion: a string, or an array holding one string.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Prompt {
    /// The prompt text.
    Text(String),
    /// A batch of prompts (only one is served per request).
    Batch(Vec<String>),
}

/// The decoding method of a request: an extension field (`"method"`), documented in
/// `docs/serve.md`. Without it the server's default applies.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MethodName {
    /// The target alone, one forward per token.
    TargetOnly,
    /// Speculative decoding that keeps the target's distribution (greedy: its exact output).
    Lossless,
    /// Speculative decoding that also accepts mismatching draft tokens the judge calls
    /// unimportant.
    Autojudge,
}

impl MethodName {
    /// The name as requests and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodName::TargetOnly => "target-only",
            MethodName::Lossless => "lossless",
            MethodName::Autojudge => "autojudge",
        }
    }
}

/// What both endpoints share: sampling, budget, stop and the AutoJudge extensions.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Common {
    /// The served model's id (`GET /v1/models`).
    pub model: String,
    /// Maximum new tokens (`max_completion_tokens` is its newer chat name).
    pub max_tokens: Option<i64>,
    /// Chat's newer name for `max_tokens`.
    pub max_completion_tokens: Option<i64>,
    /// 0 (or absent): greedy; above 0: sampling with the lossless sampler.
    pub temperature: Option<f64>,
    /// Nucleus mass for sampling.
    pub top_p: Option<f64>,
    /// Stop strings (excluded from the returned text).
    #[serde(default)]
    pub stop: Stop,
    /// Seed of the sampler (sampling only).
    pub seed: Option<u64>,
    /// Stream server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Choices wanted (only 1 is served).
    pub n: Option<i64>,
    /// Extension: the decoding method (default: the server's).
    pub method: Option<MethodName>,
    /// Extension: the judge threshold of `autojudge` (default: the judge file's).
    pub judge_threshold: Option<f64>,
    /// Extension: the draft window k (default: the server's).
    pub draft_window: Option<i64>,
}

/// `POST /v1/completions`.
#[derive(Clone, Debug, Deserialize)]
pub struct CompletionRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
}

/// One chat message.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub content: String,
}

/// `POST /v1/chat/completions`.
#[derive(Clone, Debug, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
}

/// Token counts, with what speculation did for them (extension fields).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Generated tokens.
    pub completion_tokens: usize,
    /// Their sum.
    pub total_tokens: usize,
    /// Extension: draft tokens the target accepted.
    pub accepted_tokens: u64,
    /// Extension: verification cycles (one target forward each, prefill aside).
    pub cycles: u64,
    /// Extension: target forwards, prefill included.
    pub target_calls: u64,
    /// Extension: draft forwards.
    pub draft_calls: u64,
    /// Extension: the method that served the request.
    pub method: Option<MethodName>,
}

/// One choice of a non-streaming completion.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CompletionChoice {
    /// Always 0.
    pub index: usize,
    /// The generated text.
    pub text: String,
    /// `stop` (EOS or a stop string) or `length` (budget or context).
    pub finish_reason: Option<String>,
    /// Always null.
    pub logprobs: Option<()>,
}

/// A non-streaming completion, or one stream chunk of it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Completion {
    /// `cmpl-…`.
    pub id: String,
    /// `text_completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The served model.
    pub model: String,
    /// One choice.
    pub choices: Vec<CompletionChoice>,
    /// Token counts (the last stream chunk carries them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// The message of a chat choice (or the delta of a stream chunk).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ChatDelta {
    /// `assistant` (first chunk and whole messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// One choice of a chat completion.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ChatChoice {
    /// Always 0.
    pub index: usize,
    /// The whole message (non-streaming).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<ChatDelta>,
    /// The new text (streaming).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<ChatDelta>,
    /// `stop` or `length`; null until the last chunk.
    pub finish_reason: Option<String>,
}

/// A chat completion (`chat.completion`) or a stream chunk (`chat.completion.chunk`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// `chat.completion` or `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The served model.
    pub model: String,
    /// One choice.
    pub choices: Vec<ChatChoice>,
    /// Token counts (the last stream chunk carries them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One entry of `GET /v1/models`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelCard {
    /// The id requests name.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix seconds (server start).
    pub created: u64,
    /// `autojudge`.
    pub owned_by: String,
}

/// `GET /v1/models`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The one served model.
    pub data: Vec<ModelCard>,
}
