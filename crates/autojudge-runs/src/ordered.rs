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

use crate::{RunError, RunResult};

/// The work of one job: it gets the target and the draft as [`BatchedModel`]s (their extends,
/// from every worker, are gathered into batched forwards) and the job.
pub type Work<'w, 'a, T, D, J, R> =
    dyn Fn(&BatchedModel<&'a T>, &BatchedModel<&'a D>, J) -> R + Sync + 'w;

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
fn check_parallel(parallel: usize) -> RunResult<()> {
    if parallel == 0 {
        return Err(RunError::InvalidOption {
            field: "parallel",
            reason: "at least one worker is needed".into(),
        });
    }
    Ok(())
}

/// Runs `jobs` on `parallel` workers and hands every result to `on_event` on the calling
/// thread, in job order. Each worker runs `work` on the target and the draft as
/// [`BatchedModel`]s: their extends, from every worker, are gathered into batched forwards.
/// Jobs are pulled lazily (at most `parallel` run at once), so the iterator may render prompts
/// as it goes. Stops at the first error `on_event` returns (after the running jobs finish); a
/// panicking job panics the caller.
pub fn run_ordered<'a, T, D, J, R, E>(
    target: &'a T,
    draft: &'a D,
    parallel: usize,
    jobs: impl IntoIterator<Item = Job<J, R>>,
    work: &Work<'_, 'a, T, D, J, R>,
    on_event: &mut dyn FnMut(Event<R>) -> Result<(), E>,
) -> Result<(), E>
where
    T: TargetModel,
    D: TargetModel,
    J: Send,
    R: Send,
    E: From<RunError>,
{
    check_parallel(parallel)?;
    let group = BatchGroup::new(BatchGroup::DEFAULT_MAX_WAIT);
    let target = BatchedModel::new(target, &group);
    let draft = BatchedModel::new(draft, &group);
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
            let (job_rx, res_tx, target, draft, group) =
                (&job_rx, res_tx.clone(), &target, &draft, &group);
            scope.spawn(move || loop {
                let next = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((seq, job)) = next else { break };
                // Registered only while working: an idle worker never holds a batch back.
                let worker = group.worker();
                let result = catch_unwind(AssertUnwindSafe(|| work(target, draft, job)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use autojudge_core::{argmax, ModelSession, OutputRows, Outputs, TokenId};
    use autojudge_decode::testing::MockLm;

    /// Greedy tokens of `model` after `prompt`, one extend per token.
    fn greedy<M: TargetModel>(model: &M, prompt: &[TokenId], n: usize) -> Vec<TokenId> {
        let mut s = model.new_session().unwrap();
        let last = Outputs {
            logits: OutputRows::Last,
            hidden: OutputRows::None,
        };
        let mut out = s.extend(prompt, last).unwrap();
        let mut tokens = Vec::new();
        for _ in 0..n {
            let t = argmax(out.logits_row(0)).unwrap() as TokenId;
            tokens.push(t);
            out = s.extend(&[t], last).unwrap();
        }
        tokens
    }

    /// Every job's tokens from the target and the draft, as the driver delivers them.
    fn run(parallel: usize, jobs: Vec<Job<TokenId, Vec<TokenId>>>) -> Vec<Vec<TokenId>> {
        let (target, draft) = (MockLm::new(1, 50, 3.0), MockLm::new(2, 50, 3.0));
        let mut got = Vec::new();
        run_ordered::<_, _, _, _, RunError>(
            &target,
            &draft,
            parallel,
            jobs,
            &|t, d, first| {
                let mut v = greedy(t, &[first, 7], 6);
                v.extend(greedy(d, &[first], 3));
                v
            },
            &mut |e| {
                if let Event::Done(r, _) = e {
                    got.push(r);
                }
                Ok(())
            },
        )
        .unwrap();
        got
    }

    #[test]
    fn results_arrive_in_job_order_and_equal_the_unbatched_models_whatever_the_workers() {
        let jobs = || -> Vec<Job<TokenId, Vec<TokenId>>> {
            (0..9)
                .map(|i| {
                    if i % 4 == 3 {
                        Job::Ready(vec![i])
                    } else {
                        Job::Run(i)
                    }
                })
                .collect()
        };
        let (target, draft) = (MockLm::new(1, 50, 3.0), MockLm::new(2, 50, 3.0));
        let want: Vec<Vec<TokenId>> = (0..9)
            .map(|i| {
                if i % 4 == 3 {
                    vec![i]
                } else {
                    let mut v = greedy(&target, &[i, 7], 6);
                    v.extend(greedy(&draft, &[i], 3));
                    v
                }
            })
            .collect();
        for parallel in [1, 2, 4, 16] {
            assert_eq!(run(parallel, jobs()), want, "{parallel} workers");
        }
    }

    #[test]
    fn no_worker_is_an_error_and_a_caller_error_stops_the_run() {
        let m = MockLm::new(1, 10, 1.0);
        let e =
            run_ordered::<_, _, u32, u32, RunError>(&m, &m, 0, [], &|_, _, j| j, &mut |_| Ok(()))
                .unwrap_err();
        assert!(
            matches!(
                e,
                RunError::InvalidOption {
                    field: "parallel",
                    ..
                }
            ),
            "{e}"
        );
        let mut seen = 0;
        let stopped = run_ordered::<_, _, u32, u32, RunError>(
            &m,
            &m,
            2,
            (0..10).map(Job::Run),
            &|_, _, j| j,
            &mut |e| {
                if let Event::Done(j, _) = e {
                    seen += 1;
                    if j == 3 {
                        return Err(RunError::InvalidOption {
                            field: "stop",
                            reason: format!("at {j}"),
                        });
                    }
                }
                Ok(())
            },
        );
        assert!(
            matches!(&stopped, Err(RunError::InvalidOption { field: "stop", reason }) if reason == "at 3"),
            "{stopped:?}"
        );
        assert_eq!(seen, 4);
    }

    #[test]
    #[should_panic(expected = "job 2 fails")]
    fn a_panicking_job_panics_the_caller() {
        let m = MockLm::new(1, 10, 1.0);
        let _ = run_ordered::<_, _, u32, u32, RunError>(
            &m,
            &m,
            2,
            (0..4).map(Job::Run),
            &|_, _, j| {
                assert!(j != 2, "job {j} fails");
                j
            },
            &mut |_| Ok(()),
        );
    }
}
