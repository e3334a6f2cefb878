//! Chat templates: the model's own Jinja template (from GGUF `tokenizer.chat_template` or
//! HF `tokenizer_config.json`) rendered with minijinja.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, ModelResult};

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Message text.
    pub content: String,
}

impl ChatMessage {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "system".into(),
            content: content.into(),
        }
    }
}

/// A parsed chat template with the special-token strings it may reference.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
    origin: PathBuf,
}

impl ChatTemplate {
    /// Checks that `source` parses and keeps it for rendering.
    pub fn new(
        source: String,
        bos_token: String,
        eos_token: String,
        origin: &Path,
    ) -> ModelResult<Self> {
        let t = ChatTemplate {
            source,
            bos_token,
            eos_token,
            origin: origin.to_path_buf(),
        };
        t.env()?;
        Ok(t)
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn env(&self) -> ModelResult<minijinja::Environment<'static>> {
        let mut env = minijinja::Environment::new();
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                ))
            },
        );
        env.add_function("strftime_now", |_fmt: String| -> String {
            "26 Jul 2024".to_string()
        });
        env.add_template_owned("chat", self.source.clone())
            .map_err(|e| self.err(e))?;
        Ok(env)
    }

    fn err(&self, e: minijinja::Error) -> ModelError {
        ModelError::ChatTemplate {
            path: self.origin.clone(),
            reason: format!("{e:#}"),
        }
    }

    /// Renders `messages`; with `add_generation_prompt` the assistant turn is opened.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> ModelResult<String> {
        let env = self.env()?;
        let tmpl = env.get_template("chat").map_err(|e| self.err(e))?;
        tmpl.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token,
            eos_token => self.eos_token,
        })
        .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] | trim + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_chatml() {
        let t = ChatTemplate::new(
            CHATML.into(),
            "".into(),
            "<|im_end|>".into(),
            Path::new("x"),
        )
        .unwrap();
        let s = t.render(&[ChatMessage::user(" hi ")], true).unwrap();
        assert_eq!(s, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn bad_template_is_a_typed_error() {
        let e = ChatTemplate::new(
            "{% for %}".into(),
            "".into(),
            "".into(),
            Path::new("m.gguf"),
        )
        .unwrap_err();
        assert!(matches!(e, ModelError::ChatTemplate { .. }));
        assert!(e.to_string().contains("m.gguf"));
    }

    #[test]
    fn raise_exception_surfaces() {
        let t = ChatTemplate::new(
            "{{ raise_exception('no system') }}".into(),
            "".into(),
            "".into(),
            Path::new("x"),
        )
        .unwrap();
        assert!(t
            .render(&[], false)
            .unwrap_err()
            .to_string()
            .contains("no system"));
    }
}
