//! Tokens to the text a client sees: whole characters only, stop strings excluded, and in a
//! stream never a piece of text that a stop string completed later would have to take back.

use autojudge_core::{TextTokenizer, TokenId};

/// The text of a generation as it grows.
#[derive(Debug, Default)]
pub struct TextStream {
    tokens: Vec<TokenId>,
    stops: Vec<String>,
    /// Bytes of the text already handed out.
    sent: usize,
    /// A stop string appeared: the text ends where it starts.
    stopped: bool,
}

impl TextStream {
    /// A stream that ends at the first of `stops`.
    pub fn new(stops: Vec<String>) -> Self {
        TextStream {
            stops,
            ..TextStream::default()
        }
    }

    /// Whether a stop string has appeared.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Adds emitted tokens; returns the text that is now final (possibly empty).
    pub fn push(&mut self, new: &[TokenId], tok: &dyn TextTokenizer) -> String {
        self.tokens.extend_from_slice(new);
        if self.stopped {
            return String::new();
        }
        let Ok(text) = tok.decode(&self.tokens) else {
            return String::new();
        };
        let end = match self.first_stop(&text) {
            Some(at) => {
                self.stopped = true;
                at
            }
            // An incomplete character decodes to U+FFFD: wait for the rest of it.
            None if text.ends_with('\u{fffd}') => return String::new(),
            None => text.len() - self.held_back(&text),
        };
        self.take(&text, end)
    }

    /// The rest of the text once the generation has ended.
    pub fn finish(&mut self, tok: &dyn TextTokenizer) -> String {
        let text = tok.decode(&self.tokens).unwrap_or_default();
        let end = self.first_stop(&text).unwrap_or(text.len());
        self.stopped |= end < text.len();
        self.take(&text, end)
    }

    /// The whole text of a finished generation of `tokens`, cut at the first stop string.
    pub fn whole(tokens: &[TokenId], stops: &[String], tok: &dyn TextTokenizer) -> (String, bool) {
        let mut s = TextStream::new(stops.to_vec());
        s.tokens = tokens.to_vec();
        let text = s.finish(tok);
        (text, s.stopped)
    }

    fn take(&mut self, text: &str, end: usize) -> String {
        if end <= self.sent || !text.is_char_boundary(self.sent) || !text.is_char_boundary(end) {
            return String::new();
        }
        let out = text[self.sent..end].to_string();
        self.sent = end;
        out
    }

    fn first_stop(&self, text: &str) -> Option<usize> {
        self.stops
            .iter()
            .filter_map(|s| text.find(s.as_str()))
            .min()
    }

    /// Bytes at the end of `text` that may begin a stop string (held back until it is known).
    fn held_back(&self, text: &str) -> usize {
        self.stops
            .iter()
            .flat_map(|s| {
                (1..s.len())
                    .rev()
                    .filter(|&n| s.is_char_boundary(n) && text.ends_with(&s[..n]))
                    .take(1)
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autojudge_core::{CoreResult, TokenizerId};

    /// One byte per token.
    struct ByteTokens(TokenizerId);
    impl TextTokenizer for ByteTokens {
        fn encode(&self, text: &str, _bos: bool) -> CoreResult<Vec<TokenId>> {
            Ok(text.bytes().map(TokenId::from).collect())
        }
        fn decode(&self, tokens: &[TokenId]) -> CoreResult<String> {
            let b: Vec<u8> = tokens.iter().map(|&t| t as u8).collect();
            Ok(String::from_utf8_lossy(&b).into_owned())
        }
        fn id(&self) -> &TokenizerId {
            &self.0
        }
    }

    fn stream(text: &str, stops: &[&str], step: usize) -> (String, String) {
        let bytes = ByteTokens(TokenizerId("bytes".into()));
        let tokens = bytes.encode(text, false).unwrap();
        let mut s = TextStream::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for chunk in tokens.chunks(step) {
            out += &s.push(chunk, &bytes);
        }
        out += &s.finish(&bytes);
        let whole = TextStream::whole(
            &tokens,
            &stops.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &bytes,
        )
        .0;
        (out, whole)
    }

    #[test]
    fn the_stream_is_the_whole_text_cut_at_the_first_stop_string_whatever_the_steps() {
        for step in 1..6 {
            assert_eq!(
                stream("héllo wörld", &[], step),
                ("héllo wörld".into(), "héllo wörld".into())
            );
            let (s, w) = stream("one two. three", &["two."], step);
            assert_eq!((s.as_str(), w.as_str()), ("one ", "one "));
            let (s, w) = stream("a tw b two c", &["two", "xyz"], step);
            assert_eq!((s.as_str(), w.as_str()), ("a tw b ", "a tw b "));
            let (s, _) = stream("ends in tw", &["two"], step);
            assert_eq!(s, "ends in tw", "a held-back prefix comes out at the end");
        }
    }
}
