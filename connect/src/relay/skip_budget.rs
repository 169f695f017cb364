//! How much of the host's upload slow viewers may cost: the checkpoints they skip to.
//!
//! A viewer that falls too far behind skips to a checkpoint, and only the host can make one (the
//! relay cannot read the end-to-end encrypted stream). Asked for every time a slow viewer lags, a
//! few slow viewers would multiply the host's upload. So checkpoints for skips are paid from a
//! budget that grows by a share of the stream's bytes (10% by default: a tenth of the stream's
//! upload on top) and is spent by every checkpoint that continues the stream, whoever asked for
//! it. Slow viewers wait for their skip until it is paid for; a checkpoint asked for one serves
//! every slow viewer (and joiner) of the session, on every relay node that sees it.

/// Budget that a long quiet spell may save up, in bytes.
const MAX_SAVED_BYTES: f64 = 256.0 * 1024.0;

/// Bytes of the stream left to pay for skip checkpoints.
#[derive(Debug, Clone)]
pub struct SkipBudget {
    share: f64,
    bytes: f64,
    /// The size of the latest checkpoint: what the next one will cost, about.
    checkpoint_bytes: f64,
}

impl SkipBudget {
    /// A budget growing by `share` (0.1: a tenth) of the stream's bytes; 0 turns skips to
    /// checkpoints made for them off (slow viewers then wait for a checkpoint asked for another
    /// reason), a large share makes every skip affordable.
    pub fn new(share: f64) -> Self {
        SkipBudget {
            share: share.max(0.0),
            bytes: 0.0,
            checkpoint_bytes: 0.0,
        }
    }

    /// A frame update or cursor packet of `len` bytes went by.
    pub fn stream(&mut self, len: usize) {
        self.bytes = (self.bytes + len as f64 * self.share).min(MAX_SAVED_BYTES);
    }

    /// A checkpoint of `len` bytes went by: `restart` ones (the first, a new screen size) are
    /// needed by everybody and cost nothing here; the others are paid for.
    pub fn checkpoint(&mut self, len: usize, restart: bool) {
        self.checkpoint_bytes = len as f64;
        if !restart {
            self.bytes -= len as f64;
        }
    }

    /// The budget pays for a checkpoint as large as the latest one.
    pub fn allows_checkpoint(&self) -> bool {
        self.share > 0.0 && self.bytes >= self.checkpoint_bytes.min(MAX_SAVED_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_cost_at_most_the_share_of_the_stream() {
        let mut budget = SkipBudget::new(0.1);
        budget.checkpoint(50_000, true);
        assert!(!budget.allows_checkpoint(), "nothing saved yet");
        // 500 kB of updates pay for one 50 kB checkpoint, not before.
        let mut streamed = 0;
        while !budget.allows_checkpoint() {
            budget.stream(1_000);
            streamed += 1_000;
        }
        assert_eq!(streamed, 500_000);
        budget.checkpoint(50_000, false);
        assert!(!budget.allows_checkpoint());
        // Checkpoints made for joiners are paid from the same budget.
        budget.stream(1_000_000);
        budget.checkpoint(60_000, false);
        budget.checkpoint(60_000, false);
        assert!(!budget.allows_checkpoint());
        budget.stream(790_000);
        assert!(!budget.allows_checkpoint(), "59 kB saved");
        budget.stream(10_000);
        assert!(
            budget.allows_checkpoint(),
            "60 kB saved: as much as the latest checkpoint"
        );
    }

    #[test]
    fn a_quiet_spell_saves_a_bounded_amount_and_zero_turns_skips_off() {
        let mut budget = SkipBudget::new(0.1);
        budget.checkpoint(100_000, true);
        budget.stream(1 << 40);
        budget.checkpoint(100_000, false);
        budget.checkpoint(100_000, false);
        budget.checkpoint(100_000, false);
        assert!(!budget.allows_checkpoint(), "saved at most 256 KiB");
        let mut off = SkipBudget::new(0.0);
        off.stream(1 << 30);
        assert!(!off.allows_checkpoint());
    }
}
