//! Where a request's time limit meets its commit. A request answered 503 for taking too long
//! must have written nothing (spec §8), but a commit that has begun cannot be called back: its
//! outcome is the answer. So the request and its write agree through one [`CommitGate`]:
//! whichever moves it first wins. The store asks to commit ([`may_commit`]) right before
//! `COMMIT`; the request, at its limit, asks to abandon ([`CommitGate::abandon`]); a request
//! that loses waits for the commit and answers with what it did.
//!
//! The gate reaches the stores as a task-local value set around the request
//! ([`CommitGate::guard`]), so no store method needs a parameter for it; writes outside a
//! request (start-up, `copy-data`, recording a key's use) have no gate and always commit.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
};

const OPEN: u8 = 0;
const COMMITTING: u8 = 1;
const ABANDONED: u8 = 2;

#[derive(Debug, Default)]
pub struct CommitGate(AtomicU8);

tokio::task_local! {
    static GATE: Arc<CommitGate>;
}

impl CommitGate {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Runs `work` (the request) with this gate in reach of every store call it makes.
    pub async fn guard<F: Future>(self: &Arc<Self>, work: F) -> F::Output {
        GATE.scope(self.clone(), work).await
    }

    /// The request gives up: true when nothing it started can commit any more (an unfinished
    /// write rolls back), false when a commit has already begun and must be waited for.
    pub fn abandon(&self) -> bool {
        match self.0.compare_exchange(OPEN, ABANDONED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(state) => state == ABANDONED,
        }
    }

    /// A store is about to commit: false when the request has given up. Once a commit has
    /// begun, later writes of the same request may commit too (its answer is theirs).
    fn begin_commit(&self) -> bool {
        match self.0.compare_exchange(OPEN, COMMITTING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(state) => state == COMMITTING,
        }
    }
}

/// The gate of the request the current task serves, if any; taken before work moves to
/// another thread (SQLite's blocking calls), where the task-local value is out of reach.
pub fn current() -> Option<Arc<CommitGate>> {
    GATE.try_with(Arc::clone).ok()
}

/// Whether a write under `gate` may commit now; a write with no gate always may.
pub fn may_commit(gate: Option<&CommitGate>) -> bool {
    gate.is_none_or(CommitGate::begin_commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whichever_moves_the_gate_first_wins() {
        let abandoned = CommitGate::default();
        assert!(abandoned.abandon());
        assert!(!may_commit(Some(&abandoned)), "a request that gave up commits nothing");
        assert!(abandoned.abandon());

        let committing = CommitGate::default();
        assert!(may_commit(Some(&committing)));
        assert!(!committing.abandon(), "a begun commit must be waited for");
        assert!(may_commit(Some(&committing)), "the request's later writes may commit too");
        assert!(may_commit(None));
    }

    #[tokio::test]
    async fn the_gate_is_in_reach_inside_the_guarded_work_only() {
        let gate = CommitGate::new();
        let inside = gate.guard(async { current().map(|found| Arc::ptr_eq(&found, &gate)) }).await;
        assert_eq!(inside, Some(true));
        assert!(current().is_none());
    }
}
