//! A dynamic batcher for any engine: many threads each drive their own sessions (a mining
//! search, a generation) through the ordinary [`ModelSession`] API, and their `extend` calls
//! are gathered into [`TargetModel::extend_batch`] calls, so that a weight-streaming forward
//! serves several sequences for about the price of one.
//!
//! Threads that take part register with a [`BatchGroup`] ([`BatchGroup::worker`]). A batch
//! runs when every registered worker is waiting on an extend (of any model of the group): the
//! model with the most waiting requests goes first. A request that has waited
//! [`BatchGroup::max_wait`] runs its model's batch anyway, so a worker busy elsewhere (an
//! oracle, a file write) delays the others by at most that bound. One batch runs at a time per
//! group, so a target batch and a draft batch never compete for the cores. Search and decode
//! code do not change: they see a [`BatchedModel`], which is a [`TargetModel`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{
    BatchItem, ContractBreach, CoreError, CoreResult, ExtendOutput, ModelInfo, ModelSession,
    Outputs, TargetModel, TokenId,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Threads whose extends are batched together, and the rule that decides when a batch runs.
#[derive(Debug)]
pub struct BatchGroup {
    state: Mutex<GroupState>,
    wake: Condvar,
    max_wait: Duration,
}

#[derive(Debug, Default)]
struct GroupState {
    /// Registered workers (live [`Worker`] guards).
    workers: usize,
    /// Requests submitted and not yet served, per model (index: the model's queue id).
    per_queue: Vec<usize>,
    /// Whether a batch is running.
    executing: bool,
}

impl GroupState {
    /// Requests submitted and not yet served, over every model of the group.
    fn pending(&self) -> usize {
        self.per_queue.iter().sum()
    }

    /// The queue whose batch runs next: the most waiting requests, the oldest model on ties.
    fn fullest(&self) -> Option<usize> {
        let most = *self.per_queue.iter().max()?;
        if most == 0 {
            return None;
        }
        self.per_queue.iter().position(|&n| n == most)
    }
}

impl BatchGroup {
    /// Default bound on how long a request waits for the other workers.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_millis(10);

    /// A group whose requests wait at most `max_wait` for the other workers.
    pub fn new(max_wait: Duration) -> Arc<Self> {
        Arc::new(BatchGroup {
            state: Mutex::new(GroupState::default()),
            wake: Condvar::new(),
            max_wait,
        })
    }

    /// The bound on how long a request waits for the other workers.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Registers the calling thread as a worker until the guard drops: batches wait for every
    /// registered worker to submit (or for [`Self::max_wait`]). Threads that never register
    /// are served too; they only do not hold a batch back.
    pub fn worker(self: &Arc<Self>) -> Worker {
        lock(&self.state).workers += 1;
        self.wake.notify_all();
        Worker {
            group: Arc::clone(self),
        }
    }

    /// Registered workers now.
    pub fn workers(&self) -> usize {
        lock(&self.state).workers
    }

    /// A new model's queue id.
    fn add_queue(&self) -> usize {
        let mut st = lock(&self.state);
        st.per_queue.push(0);
        st.per_queue.len() - 1
    }
}

/// A registered worker of a [`BatchGroup`]; dropping it leaves the group (and lets the
/// remaining workers' batch run without it).
#[derive(Debug)]
pub struct Worker {
    group: Arc<BatchGroup>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        lock(&self.group.state).workers -= 1;
        self.group.wake.notify_all();
    }
}

/// Counters of a [`BatchedModel`]: how many batched calls ran and what they carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// `extend_batch` calls.
    pub calls: u64,
    /// Sessions extended (sum of batch sizes).
    pub items: u64,
    /// Tokens appended.
    pub tokens: u64,
}

impl BatchStats {
    /// Mean number of sessions per batched call.
    pub fn mean_batch(&self) -> f64 {
        self.items as f64 / self.calls.max(1) as f64
    }
}

/// A model whose sessions' extends go through a [`BatchGroup`]. Cloning is cheap (shared).
pub struct BatchedModel<M: TargetModel> {
    queue: Arc<Queue<M>>,
}

impl<M: TargetModel> Clone for BatchedModel<M> {
    fn clone(&self) -> Self {
        BatchedModel {
            queue: Arc::clone(&self.queue),
        }
    }
}

impl<M: TargetModel> std::fmt::Debug for BatchedModel<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedModel")
            .field("model", &self.queue.model.info().name)
            .field("stats", &self.stats())
            .finish()
    }
}

struct Queue<M: TargetModel> {
    model: M,
    group: Arc<BatchGroup>,
    /// Index of this model in the group's per-queue counts.
    id: usize,
    requests: Mutex<Vec<Arc<Slot<M::Session>>>>,
    calls: AtomicU64,
    items: AtomicU64,
    tokens: AtomicU64,
}

/// One submitted extend: the session travels to the thread that runs the batch and back.
struct Slot<S> {
    state: Mutex<SlotState<S>>,
}

struct SlotState<S> {
    session: Option<S>,
    tokens: Vec<TokenId>,
    outputs: Outputs,
    result: Option<CoreResult<ExtendOutput>>,
}

impl<M: TargetModel> BatchedModel<M> {
    /// Wraps `model` so that its sessions' extends are batched within `group`.
    pub fn new(model: M, group: &Arc<BatchGroup>) -> Self {
        BatchedModel {
            queue: Arc::new(Queue {
                model,
                id: group.add_queue(),
                group: Arc::clone(group),
                requests: Mutex::new(Vec::new()),
                calls: AtomicU64::new(0),
                items: AtomicU64::new(0),
                tokens: AtomicU64::new(0),
            }),
        }
    }

    /// The wrapped model.
    pub fn model(&self) -> &M {
        &self.queue.model
    }

    /// Batched calls made so far.
    pub fn stats(&self) -> BatchStats {
        let q = &self.queue;
        BatchStats {
            calls: q.calls.load(Ordering::Relaxed),
            items: q.items.load(Ordering::Relaxed),
            tokens: q.tokens.load(Ordering::Relaxed),
        }
    }
}

impl<M: TargetModel> TargetModel for BatchedModel<M> {
    type Session = BatchedSession<M>;

    fn info(&self) -> &ModelInfo {
        self.queue.model.info()
    }

    fn new_session(&self) -> CoreResult<BatchedSession<M>> {
        Ok(BatchedSession {
            session: Some(self.queue.model.new_session()?),
            queue: Arc::clone(&self.queue),
        })
    }

    fn session_bytes(&self, positions: usize) -> Option<u64> {
        self.queue.model.session_bytes(positions)
    }
}

impl<M: TargetModel> Queue<M> {
    /// Submits `slot` and returns when it has been served (by this thread or another).
    fn submit(&self, slot: Arc<Slot<M::Session>>) {
        let g = &self.group;
        let mut st = lock(&g.state);
        // Counted before it is queued, so a batch that takes it never serves an uncounted one.
        st.per_queue[self.id] += 1;
        lock(&self.requests).push(Arc::clone(&slot));
        if st.pending() >= st.workers {
            g.wake.notify_all();
        }
        let since = Instant::now();
        loop {
            if lock(&slot.state).result.is_some() {
                return;
            }
            let waited = since.elapsed();
            let overdue = waited >= g.max_wait;
            let due = overdue || (st.pending() >= st.workers && st.fullest() == Some(self.id));
            if !st.executing && due {
                st.executing = true;
                drop(st);
                let served = self.flush();
                st = lock(&g.state);
                st.per_queue[self.id] -= served;
                st.executing = false;
                g.wake.notify_all();
                continue;
            }
            st = match g.max_wait.checked_sub(waited) {
                Some(left) if !st.executing => {
                    g.wake
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                _ => g.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    /// Runs every queued request as one batch and fills their slots; returns how many.
    fn flush(&self) -> usize {
        let slots = std::mem::take(&mut *lock(&self.requests));
        let n = slots.len();
        if n == 0 {
            return 0;
        }
        let mut sessions = Vec::with_capacity(n);
        let mut tokens = Vec::with_capacity(n);
        let mut outputs = Vec::with_capacity(n);
        for slot in &slots {
            let mut s = lock(&slot.state);
            sessions.push(s.session.take().expect("a queued slot holds its session"));
            tokens.push(std::mem::take(&mut s.tokens));
            outputs.push(s.outputs);
        }
        let ran = catch_unwind(AssertUnwindSafe(|| {
            let mut items: Vec<BatchItem<'_, M::Session>> = sessions
                .iter_mut()
                .zip(&tokens)
                .zip(&outputs)
                .map(|((session, tokens), &outputs)| BatchItem {
                    session,
                    tokens,
                    outputs,
                })
                .collect();
            self.model.extend_batch(&mut items)
        }));
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(n as u64, Ordering::Relaxed);
        let appended: usize = tokens.iter().map(Vec::len).sum();
        self.tokens.fetch_add(appended as u64, Ordering::Relaxed);
        match ran {
            Ok(results) if results.len() == n => {
                for ((slot, session), result) in slots.iter().zip(sessions).zip(results) {
                    let mut s = lock(&slot.state);
                    s.session = Some(session);
                    s.result = Some(result);
                }
            }
            Ok(results) => {
                let breach = ContractBreach::BatchResults {
                    got: results.len(),
                    items: n,
                };
                for (slot, session) in slots.iter().zip(sessions) {
                    let mut s = lock(&slot.state);
                    s.session = Some(session);
                    s.result = Some(Err(breach.clone().by(self.model.info().name.clone())));
                }
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                let reason = format!(
                    "`{}`: a batched extend panicked ({what}); its sessions are lost",
                    self.model.info().name
                );
                for slot in &slots {
                    lock(&slot.state).result = Some(Err(CoreError::Backend(reason.clone().into())));
                }
            }
        }
        n
    }
}

/// A session of a [`BatchedModel`]: the wrapped model's session, whose extends are batched
/// with the other workers'. `Clone` forks the wrapped session.
pub struct BatchedSession<M: TargetModel> {
    /// `None` only after a batch panicked with this session in it.
    session: Option<M::Session>,
    queue: Arc<Queue<M>>,
}

impl<M: TargetModel> Clone for BatchedSession<M> {
    fn clone(&self) -> Self {
        BatchedSession {
            session: self.session.clone(),
            queue: Arc::clone(&self.queue),
        }
    }
}

impl<M: TargetModel> BatchedSession<M> {
    fn inner(&mut self) -> CoreResult<&mut M::Session> {
        let name = &self.queue.model.info().name;
        self.session.as_mut().ok_or_else(|| {
            CoreError::Backend(
                format!("`{name}`: this session was lost when a batched extend panicked").into(),
            )
        })
    }
}

impl<M: TargetModel> ModelSession for BatchedSession<M> {
    fn info(&self) -> &ModelInfo {
        self.queue.model.info()
    }

    fn tokens(&self) -> &[TokenId] {
        self.session.as_ref().map_or(&[], |s| s.tokens())
    }

    fn extend(&mut self, tokens: &[TokenId], outputs: Outputs) -> CoreResult<ExtendOutput> {
        let session = self.inner()?;
        crate::check_extend(session.info(), session.len(), tokens)?;
        let slot = Arc::new(Slot {
            state: Mutex::new(SlotState {
                session: self.session.take(),
                tokens: tokens.to_vec(),
                outputs,
                result: None,
            }),
        });
        self.queue.submit(Arc::clone(&slot));
        let mut s = lock(&slot.state);
        self.session = s.session.take();
        s.result.take().expect("a served slot holds its result")
    }

    fn truncate(&mut self, n: usize) -> CoreResult<()> {
        self.inner()?.truncate(n)
    }

    fn rewind_to(&mut self, ctx: &[TokenId], at_most: usize) -> CoreResult<usize> {
        self.inner()?.rewind_to(ctx, at_most)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::{check_extend, check_truncate, OutputRows, TokenizerId};

    /// A model whose logits are a function of the whole context, recording batch sizes.
    struct Counting {
        info: ModelInfo,
        batches: Mutex<Vec<usize>>,
    }

    #[derive(Clone)]
    struct CountingSession {
        info: ModelInfo,
        tokens: Vec<TokenId>,
    }

    fn logits_after(ctx: &[TokenId]) -> Vec<f32> {
        let h = ctx
            .iter()
            .fold(7u64, |h, &t| h.wrapping_mul(31).wrapping_add(t as u64));
        (0..4).map(|v| ((h >> v) % 97) as f32).collect()
    }

    impl ModelSession for CountingSession {
        fn info(&self) -> &ModelInfo {
            &self.info
        }
        fn tokens(&self) -> &[TokenId] {
            &self.tokens
        }
        fn extend(&mut self, tokens: &[TokenId], outputs: Outputs) -> CoreResult<ExtendOutput> {
            check_extend(&self.info, self.tokens.len(), tokens)?;
            assert!(!tokens.contains(&13), "token 13 crashes this engine");
            let start = self.tokens.len();
            self.tokens.extend_from_slice(tokens);
            let mut out = ExtendOutput {
                vocab_size: 4,
                hidden_size: 1,
                ..Default::default()
            };
            for i in outputs.logits.range(tokens.len()) {
                out.logits
                    .extend(logits_after(&self.tokens[..start + i + 1]));
            }
            Ok(out)
        }
        fn truncate(&mut self, n: usize) -> CoreResult<()> {
            check_truncate(self.tokens.len(), n)?;
            self.tokens.truncate(n);
            Ok(())
        }
    }

    impl TargetModel for Counting {
        type Session = CountingSession;
        fn info(&self) -> &ModelInfo {
            &self.info
        }
        fn new_session(&self) -> CoreResult<CountingSession> {
            Ok(CountingSession {
                info: self.info.clone(),
                tokens: Vec::new(),
            })
        }
        fn extend_batch(
            &self,
            items: &mut [BatchItem<'_, CountingSession>],
        ) -> Vec<CoreResult<ExtendOutput>> {
            lock(&self.batches).push(items.len());
            items
                .iter_mut()
                .map(|it| it.session.extend(it.tokens, it.outputs))
                .collect()
        }
    }

    fn counting() -> Counting {
        Counting {
            info: ModelInfo {
                name: "counting".into(),
                vocab_size: 64,
                hidden_size: 1,
                max_context: 1000,
                tokenizer: TokenizerId("t".into()),
                eos_ids: vec![],
            },
            batches: Mutex::new(Vec::new()),
        }
    }

    /// Worker `w` appends a ragged sequence; returns every logits row it saw.
    fn drive<M: TargetModel>(model: &M, w: usize, steps: usize) -> Vec<Vec<f32>> {
        let mut s = model.new_session().unwrap();
        let mut seen = Vec::new();
        for step in 0..steps {
            let toks: Vec<TokenId> = (0..1 + (w + step) % 3)
                .map(|i| ((w * 7 + step * 3 + i) % 13) as TokenId)
                .collect();
            let out = s
                .extend(
                    &toks,
                    Outputs {
                        logits: OutputRows::All,
                        hidden: OutputRows::None,
                    },
                )
                .unwrap();
            seen.push(out.logits);
            if step % 4 == 3 {
                s.truncate(s.len() - 1).unwrap();
            }
        }
        seen
    }

    #[test]
    fn registered_workers_are_served_in_full_batches_with_unbatched_results() {
        let group = BatchGroup::new(Duration::from_secs(30));
        let model = BatchedModel::new(counting(), &group);
        let plain = counting();
        let guards: Vec<Worker> = (0..4).map(|_| group.worker()).collect();
        let seen: Vec<Vec<Vec<f32>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = guards
                .into_iter()
                .enumerate()
                .map(|(w, guard)| {
                    let model = &model;
                    scope.spawn(move || {
                        let _guard = guard;
                        drive(model, w, 20)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (w, rows) in seen.iter().enumerate() {
            assert_eq!(rows, &drive(&plain, w, 20), "worker {w}");
        }
        assert_eq!(*lock(&model.model().batches), vec![4; 20]);
        let stats = model.stats();
        assert_eq!((stats.calls, stats.items), (20, 80));
        assert_eq!(stats.mean_batch(), 4.0);
    }

    #[test]
    fn workers_that_finish_early_do_not_hold_the_others_back() {
        let group = BatchGroup::new(Duration::from_secs(30));
        let model = BatchedModel::new(counting(), &group);
        let guards: Vec<Worker> = (0..3).map(|_| group.worker()).collect();
        std::thread::scope(|scope| {
            for (w, guard) in guards.into_iter().enumerate() {
                let model = &model;
                scope.spawn(move || {
                    let _guard = guard;
                    drive(model, w, 5 + 10 * w)
                });
            }
        });
        // 5 batches of 3, 10 of 2 (worker 0 gone), 10 of 1.
        let batches = lock(&model.model().batches).clone();
        assert_eq!(batches.iter().sum::<usize>(), 5 + 15 + 25);
        assert_eq!(batches.len(), 25);
        assert_eq!(group.workers(), 0);
    }

    #[test]
    fn workers_alternating_between_two_models_never_wait_for_the_bound() {
        // Two models in one group; worker 0 calls target then draft, worker 1 draft then
        // target. A 30 s bound would show as a hung test if a batch ever waited for it.
        let group = BatchGroup::new(Duration::from_secs(30));
        let target = BatchedModel::new(counting(), &group);
        let draft = BatchedModel::new(counting(), &group);
        let guards: Vec<Worker> = (0..2).map(|_| group.worker()).collect();
        let started = Instant::now();
        /// Logits rows a worker saw from the target and from the draft.
        type Seen = (Vec<Vec<f32>>, Vec<Vec<f32>>);
        let seen: Vec<Seen> = std::thread::scope(|scope| {
            let handles: Vec<_> = guards
                .into_iter()
                .enumerate()
                .map(|(w, guard)| {
                    let (target, draft) = (&target, &draft);
                    scope.spawn(move || {
                        let _guard = guard;
                        let (mut t, mut d) =
                            (target.new_session().unwrap(), draft.new_session().unwrap());
                        let (mut ts, mut ds) = (Vec::new(), Vec::new());
                        for step in 0..10u32 {
                            let toks = [(step + w as u32) % 13];
                            if w == 0 {
                                ts.push(t.extend(&toks, Outputs::LAST_LOGITS).unwrap().logits);
                                ds.push(d.extend(&toks, Outputs::LAST_LOGITS).unwrap().logits);
                            } else {
                                ds.push(d.extend(&toks, Outputs::LAST_LOGITS).unwrap().logits);
                                ts.push(t.extend(&toks, Outputs::LAST_LOGITS).unwrap().logits);
                            }
                        }
                        (ts, ds)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(started.elapsed() < Duration::from_secs(30));
        for (w, (ts, ds)) in seen.iter().enumerate() {
            let expect: Vec<Vec<f32>> = (1..=10u32)
                .map(|n| {
                    let ctx: Vec<TokenId> = (0..n).map(|s| (s + w as u32) % 13).collect();
                    logits_after(&ctx)
                })
                .collect();
            assert_eq!(ts, &expect, "worker {w} target");
            assert_eq!(ds, &expect, "worker {w} draft");
        }
        let (t, d) = (target.stats(), draft.stats());
        assert_eq!((t.items, d.items), (20, 20));
        assert!(
            t.calls + d.calls < 40,
            "some calls were batched: {t:?} {d:?}"
        );
    }

    #[test]
    fn an_unregistered_thread_is_served_at_once() {
        let group = BatchGroup::new(Duration::from_secs(30));
        let model = BatchedModel::new(counting(), &group);
        let started = Instant::now();
        drive(&model, 0, 5);
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(model.stats().calls, 5);
    }

    #[test]
    fn a_straggler_delays_a_batch_by_at_most_the_bound() {
        let group = BatchGroup::new(Duration::from_millis(20));
        let model = BatchedModel::new(counting(), &group);
        // Two registered workers; only one ever submits: every request flushes on the bound.
        let _idle = group.worker();
        let _me = group.worker();
        drive(&model, 0, 3);
        assert_eq!(*lock(&model.model().batches), vec![1, 1, 1]);
    }

    #[test]
    fn a_panicking_engine_fails_the_batch_with_an_error_not_a_hang() {
        let group = BatchGroup::new(Duration::from_secs(30));
        let model = BatchedModel::new(counting(), &group);
        let mut s = model.new_session().unwrap();
        let err = s.extend(&[13], Outputs::LAST_LOGITS).unwrap_err();
        assert!(
            crate::ErrorChain(&err).to_string().contains("panicked"),
            "{err:?}"
        );
        let err = s.extend(&[1], Outputs::LAST_LOGITS).unwrap_err();
        assert!(
            crate::ErrorChain(&err).to_string().contains("lost"),
            "{err:?}"
        );
        // The group still serves other sessions.
        let mut t = model.new_session().unwrap();
        assert!(t.extend(&[1, 2], Outputs::LAST_LOGITS).is_ok());
    }

    /// An engine whose `extend_batch` loses its results.
    struct Forgetful(Counting);

    impl TargetModel for Forgetful {
        type Session = CountingSession;
        fn info(&self) -> &ModelInfo {
            &self.0.info
        }
        fn new_session(&self) -> CoreResult<CountingSession> {
            self.0.new_session()
        }
        fn extend_batch(
            &self,
            _items: &mut [BatchItem<'_, CountingSession>],
        ) -> Vec<CoreResult<ExtendOutput>> {
            Vec::new()
        }
    }

    #[test]
    fn too_few_batch_results_are_a_broken_contract_and_keep_the_session() {
        let group = BatchGroup::new(Duration::from_secs(30));
        let model = BatchedModel::new(Forgetful(counting()), &group);
        let mut s = model.new_session().unwrap();
        let err = s.extend(&[1, 2], Outputs::LAST_LOGITS).unwrap_err();
        assert!(
            matches!(
                &err,
                CoreError::BrokenContract {
                    by,
                    breach: ContractBreach::BatchResults { got: 0, items: 1 },
                } if by == "counting"
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("TargetModel::extend_batch returned 0 results for 1 items"),
            "{err}"
        );
        // The session came back, untouched.
        assert!(s.truncate(0).is_ok());
    }

    #[test]
    fn bad_requests_are_refused_before_they_reach_a_batch() {
        let group = BatchGroup::new(Duration::from_secs(30));
        let model = BatchedModel::new(counting(), &group);
        let mut s = model.new_session().unwrap();
        assert!(matches!(
            s.extend(&[64], Outputs::LAST_LOGITS),
            Err(CoreError::TokenOutOfVocab { .. })
        ));
        assert_eq!(model.stats().calls, 0);
        assert_eq!(s.tokens(), &[] as &[TokenId]);
    }
}
