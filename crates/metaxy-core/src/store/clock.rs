//! Transaction timestamps: one per write call, strictly increasing within the process.
//!
//! Metaxy orders rows of a sample by write time ("latest wins"); two writes in the same
//! microsecond would tie. Every timestamp handed out here is later than the previous one.

use std::sync::atomic::{AtomicI64, Ordering};

static LAST: AtomicI64 = AtomicI64::new(i64::MIN);

/// Microseconds since the epoch (UTC), strictly greater than any value returned before.
pub(crate) fn transaction_timestamp() -> i64 {
    let now = chrono::Utc::now().timestamp_micros();
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev.saturating_add(1));
        match LAST.compare_exchange_weak(prev, next, Ordering::SeqCst, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => prev = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strictly_increasing() {
        let mut last = super::transaction_timestamp();
        for _ in 0..10_000 {
            let t = super::transaction_timestamp();
            assert!(t > last);
            last = t;
        }
    }
}
