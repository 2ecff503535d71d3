//! Retrying Delta commits that lost a race delta-rs cannot resolve by itself.
//!
//! delta-rs retries a blind append whose version number was taken. What it cannot merge is
//! a concurrent *protocol or metadata* change: two processes creating the same table, or
//! both adding a column. Those attempts are re-run from a freshly loaded table.

use std::time::Duration;

use deltalake::DeltaTableError;
use deltalake::kernel::transaction::TransactionError;

/// Whether `e` is a lost commit race (worth reloading the table and trying again).
pub(crate) fn is_conflict(e: &DeltaTableError) -> bool {
    matches!(
        e,
        DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::CommitConflict(_)
                    | TransactionError::VersionAlreadyExists(_)
                    | TransactionError::MaxCommitAttempts(_)
            }
    )
}

/// Sleeps before retry `attempt` (1-based): exponential from 5 ms, capped at 1 s, with
/// jitter so that racing processes spread out.
pub(crate) async fn backoff(attempt: usize) {
    let base = 5u64.saturating_mul(1 << attempt.min(8)).min(1000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let jitter = (nanos ^ u64::from(std::process::id())) % (base + 1);
    tokio::time::sleep(Duration::from_millis(base / 2 + jitter)).await;
}
