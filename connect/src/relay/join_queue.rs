//! The order in which a session's joiners reach its host: a token bucket that makes joiners
//! beyond its rate wait their turn instead of refusing them, up to a bounded queue.
//!
//! Each join costs the host a key exchange (the screen itself comes from the fan-out's
//! checkpoint), so a crowd arriving at once — a webinar's first minute — is let through at
//! [`JOINS_PER_SECOND`] after a burst of [`JOIN_BURST`]. A joiner whose turn is more than
//! [`JOIN_QUEUE_MS`] away is refused as busy and told when to retry; clients do so by themselves.
//! The bucket is per session and per relay node: a cluster of N nodes lets a session's joiners
//! through at up to N times this rate.

/// Joins per second a session lets through to its host.
pub const JOINS_PER_SECOND: f64 = 25.0;
/// Joins let through at once after a quiet time.
pub const JOIN_BURST: f64 = 50.0;
/// The longest a joiner waits for its turn.
pub const JOIN_QUEUE_MS: f64 = 5_000.0;

/// Turns to join: tokens left and when they were counted.
#[derive(Debug, Clone)]
pub struct JoinQueue {
    tokens: f64,
    counted_at_ms: u64,
}

impl JoinQueue {
    /// A full bucket at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        JoinQueue {
            tokens: JOIN_BURST,
            counted_at_ms: now_ms,
        }
    }

    /// Takes a turn at `now_ms`: `Ok(wait_ms)`, how long the joiner waits for it (0 when joins
    /// are not coming too fast), or `Err(retry_after_ms)` when the queue is full (no turn is
    /// taken then).
    pub fn reserve(&mut self, now_ms: u64) -> Result<u64, u64> {
        let elapsed_ms = now_ms.saturating_sub(self.counted_at_ms) as f64;
        self.tokens = (self.tokens + elapsed_ms * JOINS_PER_SECOND / 1000.0).min(JOIN_BURST);
        self.counted_at_ms = self.counted_at_ms.max(now_ms);
        let wait_ms = ((1.0 - self.tokens).max(0.0) * 1000.0 / JOINS_PER_SECOND).ceil();
        if wait_ms > JOIN_QUEUE_MS {
            return Err((wait_ms - JOIN_QUEUE_MS).max(100.0) as u64);
        }
        self.tokens -= 1.0;
        Ok(wait_ms as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_joiners_wait_in_order_then_are_told_to_retry() {
        let mut queue = JoinQueue::new(1_000);
        for _ in 0..JOIN_BURST as usize {
            assert_eq!(queue.reserve(1_000), Ok(0));
        }
        // Each further joiner waits one more turn (40 ms at 25 per second).
        assert_eq!(queue.reserve(1_000), Ok(40));
        assert_eq!(queue.reserve(1_000), Ok(80));
        let queued = (JOIN_QUEUE_MS / 1000.0 * JOINS_PER_SECOND) as usize;
        let mut last = 0;
        for _ in 2..queued {
            last = queue.reserve(1_000).expect("room in the queue");
        }
        assert_eq!(last, JOIN_QUEUE_MS as u64);
        let retry = queue.reserve(1_000).expect_err("the queue is full");
        assert!((100..=1_000).contains(&retry), "retry after {retry} ms");
        // A refused joiner took no turn: time frees the queue at the bucket's rate.
        assert_eq!(queue.reserve(1_040), Ok(JOIN_QUEUE_MS as u64));
    }

    #[test]
    fn a_quiet_session_refills_to_a_burst_and_no_further() {
        let mut queue = JoinQueue::new(0);
        for _ in 0..JOIN_BURST as usize {
            queue.reserve(0).unwrap();
        }
        assert_eq!(queue.reserve(0), Ok(40));
        // An hour later: one burst again, not an hour's worth of tokens.
        for _ in 0..JOIN_BURST as usize {
            assert_eq!(queue.reserve(3_600_000), Ok(0));
        }
        assert_eq!(queue.reserve(3_600_000), Ok(40));
        // A clock that steps back does not refill the bucket.
        assert_eq!(queue.reserve(3_599_000), Ok(80));
    }
}
