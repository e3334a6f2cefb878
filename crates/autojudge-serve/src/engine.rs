//! The generation pool: worker threads, each decoding one request at a time through the
//! ordinary model API, while one [`BatchGroup`] gathers the extends of every busy worker into
//! batched forwards of the target and of the draft (continuous batching: a request joins the
//! batch when a worker takes it and leaves when it ends, between two steps). A bounded
//! admission count turns requests away (429) instead of letting a queue grow without limit.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use autojudge_core::{
    BatchGroup, BatchedModel, Judge, TargetModel, TextTokenizer, Threshold, TokenId,
};
use autojudge_decode::policies::{ExactMatch, JudgePolicy, RejectionSampling};
use autojudge_decode::{
    generate_speculative, generate_target_only, DecodeConfig, DecodeError, Generation, Hooks,
    ModelDrafter, Sampling,
};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::api::{ChatMessage, MethodName};
use crate::{ApiError, ServeError};

/// Renders a conversation into the model's prompt text (its chat template, with the opening of
/// the assistant's turn). An engine implements it for its own template; the CLI wraps the
/// GGUF/HF template of `autojudge-models`.
pub trait ChatTemplate: Send + Sync {
    /// The prompt text for `messages`, ending where the assistant's reply starts.
    fn render(&self, messages: &[ChatMessage]) -> Result<String, autojudge_core::BoxError>;
}

/// What a server serves: the target, optionally a draft and a judge, and the text side.
pub struct ServedModels<T, D, J> {
    /// The id clients name in `model` (`GET /v1/models`).
    pub name: String,
    /// The target model.
    pub target: T,
    /// The draft model (lossless and AutoJudge decoding need it).
    pub draft: Option<D>,
    /// The tokenizer both share.
    pub tokenizer: Arc<dyn TextTokenizer>,
    /// The chat template (`/v1/chat/completions` needs it).
    pub chat: Option<Arc<dyn ChatTemplate>>,
    /// The judge and its default threshold (AutoJudge decoding needs them).
    pub judge: Option<(J, Threshold)>,
}

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Requests decoded at once (worker threads; their forwards are batched together).
    pub max_concurrent: usize,
    /// Requests waiting for a worker before new ones get 429.
    pub max_queue: usize,
    /// Draft window k when a request names none.
    pub draft_window: usize,
    /// Largest draft window a request may ask for.
    pub max_draft_window: usize,
    /// New tokens when a request names no `max_tokens`.
    pub default_max_tokens: usize,
    /// Largest request body, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
    /// Method when a request names none (`None`: AutoJudge with a judge, else lossless with a
    /// draft, else target-only).
    pub default_method: Option<MethodName>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_concurrent: 8,
            max_queue: 64,
            draft_window: 8,
            max_draft_window: 64,
            default_max_tokens: 256,
            max_body_bytes: 1 << 20,
            default_method: None,
        }
    }
}

impl ServeConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ServeError> {
        let bad = |field, reason: &str| {
            Err(ServeError::InvalidSetting {
                field,
                reason: reason.into(),
            })
        };
        if self.max_concurrent == 0 {
            return bad("max_concurrent", "at least one worker is needed");
        }
        if self.draft_window == 0 || self.draft_window > self.max_draft_window {
            return bad("draft_window", "must be in 1..=max_draft_window");
        }
        if self.default_max_tokens == 0 {
            return bad("default_max_tokens", "must be at least 1");
        }
        Ok(())
    }
}

/// A request's decoding, resolved and checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decoding {
    /// The target alone.
    TargetOnly,
    /// Lossless speculative decoding (the window is [`GenRequest::cfg`]'s).
    Lossless,
    /// AutoJudge at `threshold` (the window is [`GenRequest::cfg`]'s).
    Autojudge {
        /// Judge threshold.
        threshold: Threshold,
    },
}

impl Decoding {
    /// The method's name.
    pub fn method(self) -> MethodName {
        match self {
            Decoding::TargetOnly => MethodName::TargetOnly,
            Decoding::Lossless => MethodName::Lossless,
            Decoding::Autojudge { .. } => MethodName::Autojudge,
        }
    }
}

/// One generation request for the pool.
pub struct GenRequest {
    /// Prompt tokens.
    pub prompt: Vec<TokenId>,
    /// Budget, stop strings, sampling, seed.
    pub cfg: DecodeConfig,
    /// The method.
    pub decoding: Decoding,
}

/// What the pool reports about one request.
#[derive(Debug)]
pub enum GenEvent {
    /// A worker took it (it left the queue).
    Started,
    /// Newly emitted tokens.
    Tokens(Vec<TokenId>),
    /// It ended.
    Done(Box<Result<Generation, DecodeError>>),
}

struct Job {
    request: GenRequest,
    events: UnboundedSender<GenEvent>,
    cancel: Arc<AtomicBool>,
}

/// Counts the pool keeps for metrics.
#[derive(Debug, Default)]
pub struct PoolCounts {
    /// Admitted and not finished (queued or running).
    pub admitted: AtomicUsize,
    /// Running on a worker.
    pub running: AtomicUsize,
}

/// The type-erased face of a pool, as the HTTP layer sees it.
pub trait Generator: Send + Sync {
    /// The served model's id.
    fn name(&self) -> &str;
    /// The tokenizer.
    fn tokenizer(&self) -> &dyn TextTokenizer;
    /// The chat template, if any.
    fn chat(&self) -> Option<&dyn ChatTemplate>;
    /// The target's context length.
    fn max_context(&self) -> usize;
    /// Which methods can be served (a draft, a judge).
    fn can(&self, method: MethodName) -> bool;
    /// The judge's default threshold.
    fn default_threshold(&self) -> Option<Threshold>;
    /// The server settings.
    fn config(&self) -> &ServeConfig;
    /// Queued and running requests.
    fn counts(&self) -> &PoolCounts;
    /// Admits a request (or refuses it, 429 / 503); its events arrive on the receiver.
    /// Dropping the receiver cancels the generation.
    fn submit(&self, request: GenRequest) -> Result<UnboundedReceiver<GenEvent>, ApiError>;
}

/// The generation pool: the workers own the models ([`Pool::start`]).
pub struct Pool {
    name: String,
    tokenizer: Arc<dyn TextTokenizer>,
    chat: Option<Arc<dyn ChatTemplate>>,
    max_context: usize,
    has_draft: bool,
    threshold: Option<Threshold>,
    config: ServeConfig,
    counts: Arc<PoolCounts>,
    jobs: Mutex<Option<Sender<Job>>>,
    workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Pool {
    /// Starts `config.max_concurrent` workers over `models` (a target `T`, a draft `D`, a
    /// judge `J`).
    pub fn start<T, D, J>(
        models: ServedModels<T, D, J>,
        config: ServeConfig,
    ) -> Result<Self, ServeError>
    where
        T: TargetModel + 'static,
        D: TargetModel + 'static,
        J: Judge + Clone + Send + Sync + 'static,
    {
        config.validate()?;
        if let Some(d) = &models.draft {
            autojudge_core::check_same_tokenizer(d.info(), models.target.info())?;
        }
        let group = BatchGroup::new(BatchGroup::DEFAULT_MAX_WAIT);
        let max_context = models.target.info().max_context;
        let target = BatchedModel::new(Arc::new(models.target), &group);
        let draft = models.draft.map(|d| BatchedModel::new(Arc::new(d), &group));
        let has_draft = draft.is_some();
        let threshold = models.judge.as_ref().map(|j| j.1);
        let judge = models.judge.map(|j| Arc::new(j.0));
        let counts = Arc::new(PoolCounts::default());
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::new();
        for i in 0..config.max_concurrent {
            let worker = Worker {
                jobs: Arc::clone(&rx),
                group: Arc::clone(&group),
                target: target.clone(),
                draft: draft.clone(),
                judge: judge.clone(),
                tokenizer: Arc::clone(&models.tokenizer),
                counts: Arc::clone(&counts),
            };
            let handle = std::thread::Builder::new()
                .name(format!("autojudge-serve-{i}"))
                .spawn(move || worker.run())
                .map_err(ServeError::Http)?;
            workers.push(handle);
        }
        Ok(Pool {
            name: models.name,
            tokenizer: models.tokenizer,
            chat: models.chat,
            max_context,
            has_draft,
            threshold,
            config,
            counts,
            jobs: Mutex::new(Some(tx)),
            workers: Mutex::new(workers),
        })
    }

    /// Stops taking requests and waits for the workers to finish those they hold (dropping
    /// the pool does the same).
    pub fn shutdown(&self) {
        drop(self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take());
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in workers {
            let _ = w.join();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Generator for Pool {
    fn name(&self) -> &str {
        &self.name
    }

    fn tokenizer(&self) -> &dyn TextTokenizer {
        &*self.tokenizer
    }

    fn chat(&self) -> Option<&dyn ChatTemplate> {
        self.chat.as_deref()
    }

    fn max_context(&self) -> usize {
        self.max_context
    }

    fn can(&self, method: MethodName) -> bool {
        match method {
            MethodName::TargetOnly => true,
            MethodName::Lossless => self.has_draft,
            MethodName::Autojudge => self.has_draft && self.threshold.is_some(),
        }
    }

    fn default_threshold(&self) -> Option<Threshold> {
        self.threshold
    }

    fn config(&self) -> &ServeConfig {
        &self.config
    }

    fn counts(&self) -> &PoolCounts {
        &self.counts
    }

    fn submit(&self, request: GenRequest) -> Result<UnboundedReceiver<GenEvent>, ApiError> {
        let limit = self.config.max_concurrent + self.config.max_queue;
        // Admission first: a request over the limit never reaches the queue.
        let admitted = self.counts.admitted.fetch_add(1, Ordering::SeqCst);
        if admitted >= limit {
            self.counts.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::overloaded(limit));
        }
        let (events, rx) = unbounded_channel();
        let job = Job {
            request,
            events,
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let sent = match &*self.jobs.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        };
        if !sent {
            self.counts.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::shutting_down());
        }
        Ok(rx)
    }
}

/// One worker thread's share of the pool.
struct Worker<T: TargetModel, D: TargetModel, J> {
    jobs: Arc<Mutex<Receiver<Job>>>,
    group: Arc<BatchGroup>,
    target: BatchedModel<Arc<T>>,
    draft: Option<BatchedModel<Arc<D>>>,
    judge: Option<Arc<J>>,
    tokenizer: Arc<dyn TextTokenizer>,
    counts: Arc<PoolCounts>,
}

impl<T: TargetModel, D: TargetModel, J: Judge + Clone> Worker<T, D, J> {
    fn run(self) {
        loop {
            let next = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
            let Ok(job) = next else { break };
            self.counts.running.fetch_add(1, Ordering::SeqCst);
            // Registered only while working: an idle worker never holds a batch back.
            let registered = self.group.worker();
            let _ = job.events.send(GenEvent::Started);
            let result = if job.cancel.load(Ordering::Relaxed) || job.events.is_closed() {
                None
            } else {
                Some(self.generate(&job))
            };
            drop(registered);
            self.counts.running.fetch_sub(1, Ordering::SeqCst);
            self.counts.admitted.fetch_sub(1, Ordering::SeqCst);
            if let Some(r) = result {
                let _ = job.events.send(GenEvent::Done(Box::new(r)));
            }
        }
    }

    fn generate(&self, job: &Job) -> Result<Generation, DecodeError> {
        let GenRequest {
            prompt,
            cfg,
            decoding,
        } = &job.request;
        let cancel = &*job.cancel;
        let mut stream = |new: &[TokenId]| {
            if job.events.send(GenEvent::Tokens(new.to_vec())).is_err() {
                // The client is gone: stop spending forwards on it.
                cancel.store(true, Ordering::Relaxed);
            }
        };
        let hooks = Hooks {
            tokenizer: (!cfg.stop.stop_strings.is_empty()).then_some(&*self.tokenizer),
            on_tokens: Some(&mut stream),
            cancel: Some(cancel),
        };
        let mut target = self.target.new_session()?;
        let draft = || -> Result<_, DecodeError> {
            let d = self.draft.as_ref().ok_or(DecodeError::InvalidConfig {
                field: "method",
                reason: "this server has no draft model".into(),
            })?;
            Ok(ModelDrafter::new(d.new_session()?))
        };
        match *decoding {
            Decoding::TargetOnly => generate_target_only(&mut target, prompt, cfg, hooks),
            Decoding::Lossless => match cfg.sampling {
                Sampling::Greedy => generate_speculative(
                    &mut target,
                    &mut draft()?,
                    &mut ExactMatch,
                    prompt,
                    cfg,
                    hooks,
                ),
                _ => generate_speculative(
                    &mut target,
                    &mut draft()?,
                    &mut RejectionSampling,
                    prompt,
                    cfg,
                    hooks,
                ),
            },
            Decoding::Autojudge { threshold } => {
                let judge = self.judge.as_ref().ok_or(DecodeError::InvalidConfig {
                    field: "method",
                    reason: "this server has no judge".into(),
                })?;
                let mut policy = JudgePolicy {
                    judge: J::clone(judge),
                    threshold,
                };
                generate_speculative(&mut target, &mut draft()?, &mut policy, prompt, cfg, hooks)
            }
        }
    }
}
