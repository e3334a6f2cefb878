//! From a request's fields to a checked generation: budget, sampling, stop strings, method,
//! threshold and window, each refused by name when out of range.

use autojudge_core::Threshold;
use autojudge_decode::{DecodeConfig, Sampling, StopConditions, WindowPolicy};

use crate::api::{Common, MethodName};
use crate::engine::{Decoding, Generator};
use crate::ApiError;

/// At most this many stop strings (OpenAI's limit).
pub const MAX_STOP_STRINGS: usize = 4;

/// The decode settings and method of a request whose prompt holds `prompt_tokens` tokens.
pub fn plan(
    c: &Common,
    prompt_tokens: usize,
    g: &dyn Generator,
) -> Result<(DecodeConfig, Decoding), ApiError> {
    if c.model != g.name() {
        return Err(ApiError::model_not_found(&c.model, g.name()));
    }
    if let Some(n) = c.n {
        if n != 1 {
            return Err(ApiError::invalid(
                "n",
                format!("n = {n}: one choice per request is served"),
            ));
        }
    }
    if prompt_tokens == 0 {
        return Err(ApiError::invalid("prompt", "the prompt is empty"));
    }
    let config = g.config();
    let (field, asked) = match (c.max_completion_tokens, c.max_tokens) {
        (Some(v), _) => ("max_completion_tokens", Some(v)),
        (None, v) => ("max_tokens", v),
    };
    let room = g.max_context().saturating_sub(prompt_tokens);
    let max_new = match asked {
        Some(v) if v <= 0 => {
            return Err(ApiError::invalid(
                field,
                format!("{field} = {v}: must be at least 1"),
            ))
        }
        Some(v) if v as u64 > room as u64 => {
            return Err(ApiError {
                code: Some("context_length_exceeded"),
                ..ApiError::invalid(
                    field,
                    format!(
                        "{field} = {v} is past the context: the prompt holds {prompt_tokens} \
                         tokens of {} (room for {room})",
                        g.max_context()
                    ),
                )
            })
        }
        Some(v) => v as usize,
        None if room == 0 => {
            return Err(ApiError {
                code: Some("context_length_exceeded"),
                ..ApiError::invalid(
                    "prompt",
                    format!(
                        "the prompt holds {prompt_tokens} tokens, the whole context of {}",
                        g.max_context()
                    ),
                )
            })
        }
        None => config.default_max_tokens.min(room),
    };
    let top_p = c.top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(ApiError::invalid(
            "top_p",
            format!("top_p = {top_p}: must be in (0, 1]"),
        ));
    }
    let sampling = match c.temperature {
        None => Sampling::Greedy,
        Some(t) if !(0.0..=2.0).contains(&t) => {
            return Err(ApiError::invalid(
                "temperature",
                format!("temperature = {t}: must be in [0, 2]"),
            ))
        }
        // 0 (the range check above leaves no lower value).
        Some(t) if t <= 0.0 => Sampling::Greedy,
        Some(t) => Sampling::Temperature {
            temperature: t as f32,
            top_p: top_p as f32,
        },
    };
    let stops = c.stop.strings();
    if stops.len() > MAX_STOP_STRINGS {
        return Err(ApiError::invalid(
            "stop",
            format!("{} stop strings: at most {MAX_STOP_STRINGS}", stops.len()),
        ));
    }
    let method = match (c.method, config.default_method) {
        (Some(m), _) | (None, Some(m)) => m,
        (None, None) if g.can(MethodName::Autojudge) => MethodName::Autojudge,
        (None, None) if g.can(MethodName::Lossless) => MethodName::Lossless,
        (None, None) => MethodName::TargetOnly,
    };
    if !g.can(method) {
        return Err(ApiError::invalid(
            "method",
            format!(
                "method `{}` needs {}, which this server was started without",
                method.as_str(),
                if method == MethodName::Lossless {
                    "a draft model"
                } else {
                    "a draft model and a judge"
                }
            ),
        ));
    }
    let threshold = match c.judge_threshold {
        Some(p) => Some(
            Threshold::new(p).map_err(|e| ApiError::invalid("judge_threshold", e.to_string()))?,
        ),
        None => g.default_threshold(),
    };
    let k = match c.draft_window {
        None => config.draft_window,
        Some(k) if k < 1 || k as u64 > config.max_draft_window as u64 => {
            return Err(ApiError::invalid(
                "draft_window",
                format!(
                    "draft_window = {k}: must be in 1..={}",
                    config.max_draft_window
                ),
            ))
        }
        Some(k) => k as usize,
    };
    let decoding = match method {
        MethodName::TargetOnly => Decoding::TargetOnly,
        MethodName::Lossless => Decoding::Lossless,
        MethodName::Autojudge => Decoding::Autojudge {
            threshold: threshold
                .ok_or_else(|| ApiError::invalid("judge_threshold", "no threshold"))?,
        },
    };
    let cfg = DecodeConfig {
        // The window is the decode config's alone (target-only never drafts).
        window: WindowPolicy::Fixed(if decoding == Decoding::TargetOnly {
            1
        } else {
            k
        }),
        sampling,
        seed: c.seed.unwrap_or(0),
        stop: StopConditions {
            max_new_tokens: max_new,
            eos_ids: Vec::new(),
            stop_strings: stops,
        },
    };
    Ok((cfg, decoding))
}
