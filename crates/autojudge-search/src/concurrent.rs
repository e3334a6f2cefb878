//! Many prompts at once: worker threads each run one job (a prompt's search, a prompt's
//! generations) through the ordinary model API, while a [`BatchGroup`] gathers their extends
//! into batched forwards of the target and of the draft. Results reach the calling thread in
//! job order, so what a run commits, and in which order, does not depend on the number of
//! workers.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use autojudge_core::{BatchGroup, BatchStats, BatchedModel, TargetModel};

use crate::{SearchError, SearchModels, SearchResult};

/// The models a worker sees: the caller's (`'a`), with extends batched across workers.
pub type BatchedModels<'b, 'a, T, D> = SearchModels<'b, BatchedModel<&'a T>, BatchedModel<&'a D>>;

/// One entry of a concurrent run, in commit order.
#[derive(Debug)]
pub enum Job<J, R> {
    /// Work for a worker.
    Run(J),
    /// A result known without running anything (a prompt that could not be rendered).
    Ready(R),
}

/// Where a concurrent run stands (for progress displays).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flight {
    /// Jobs running now.
    pub in_flight: usize,
    /// Batched calls of the target so far.
    pub target: BatchStats,
    /// Batched calls of the draft so far.
    pub draft: BatchStats,
    /// Time since the run started.
    pub elapsed: Duration,
}

impl Flight {
    /// Tokens the target has processed per second, over all workers.
    pub fn target_tokens_per_s(&self) -> f64 {
        self.target.tokens as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What a concurrent run reports to its caller.
#[derive(Debug)]
pub enum Event<R> {
    /// The next result in job order.
    Done(R, Flight),
    /// Nothing finished for a while (about a second): the run's state.
    Tick(Flight),
}

/// Checks a worker count.
fn check_parallel(parallel: usize) -> SearchResult<()> {
    if parallel == 0 {
        return Err(SearchError::InvalidOption {
            field: "parallel",
            reason: "at least one worker is needed".into(),
        });
    }
    Ok(())
}

/// Runs `jobs` on `parallel` workers and hands every result to `on_event` on the calling
/// thread, in job order. Jobs are pulled lazily (at most `parallel` run at once), so the
/// iterator may render prompts as it goes. Stops at the first error `on_event` returns
/// (after the running jobs finish); a panicking job panics the caller.
pub fn run_ordered<'a, T, D, J, R, E>(
    models: &SearchModels<'a, T, D>,
    parallel: usize,
    jobs: impl IntoIterator<Item = Job<J, R>>,
    work: &(dyn for<'b> Fn(&BatchedModels<'b, 'a, T, D>, J) -> R + Sync),
    on_event: &mut dyn FnMut(Event<R>) -> Result<(), E>,
) -> Result<(), E>
where
    T: TargetModel,
    D: TargetModel,
    J: Send,
    R: Send,
    E: From<SearchError>,
{
    check_parallel(parallel)?;
    let group = BatchGroup::new(BatchGroup::DEFAULT_MAX_WAIT);
    let target = BatchedModel::new(models.target, &group);
    let draft = BatchedModel::new(models.draft, &group);
    let batched = SearchModels {
        target: &target,
        draft: &draft,
        tokenizer: models.tokenizer,
        oracle: models.oracle,
    };
    let started = Instant::now();
    let flight = |in_flight| Flight {
        in_flight,
        target: target.stats(),
        draft: draft.stats(),
        elapsed: started.elapsed(),
    };
    let (job_tx, job_rx) = channel::<(usize, J)>();
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = channel::<(usize, std::thread::Result<R>)>();
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            let (job_rx, res_tx, batched, group) = (&job_rx, res_tx.clone(), &batched, &group);
            scope.spawn(move || loop {
                let next = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((seq, job)) = next else { break };
                // Registered only while working: an idle worker never holds a batch back.
                let worker = group.worker();
                let result = catch_unwind(AssertUnwindSafe(|| work(batched, job)));
                drop(worker);
                if res_tx.send((seq, result)).is_err() {
                    break;
                }
            });
        }
        drop(res_tx);
        let mut jobs = jobs.into_iter();
        let mut exhausted = false;
        let (mut next_seq, mut to_commit, mut in_flight) = (0usize, 0usize, 0usize);
        let mut ready: BTreeMap<usize, R> = BTreeMap::new();
        let outcome = loop {
            while !exhausted && in_flight < parallel {
                match jobs.next() {
                    None => exhausted = true,
                    Some(Job::Ready(r)) => {
                        ready.insert(next_seq, r);
                        next_seq += 1;
                    }
                    Some(Job::Run(j)) => {
                        job_tx
                            .send((next_seq, j))
                            .expect("workers outlive the job queue");
                        next_seq += 1;
                        in_flight += 1;
                    }
                }
            }
            let mut failed = None;
            while let Some(r) = ready.remove(&to_commit) {
                to_commit += 1;
                if let Err(e) = on_event(Event::Done(r, flight(in_flight))) {
                    failed = Some(e);
                    break;
                }
            }
            if let Some(e) = failed {
                break Err(e);
            }
            if in_flight == 0 {
                if exhausted && ready.is_empty() {
                    break Ok(());
                }
                continue;
            }
            match res_rx.recv_timeout(Duration::from_secs(1)) {
                Ok((seq, Ok(r))) => {
                    in_flight -= 1;
                    ready.insert(seq, r);
                }
                Ok((_, Err(panic))) => {
                    drop(job_tx);
                    resume_unwind(panic);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = on_event(Event::Tick(flight(in_flight))) {
                        break Err(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    unreachable!("workers live until the job queue closes")
                }
            }
        };
        drop(job_tx);
        outcome
    })
}
