//! The run's request budget: a token bucket at the plan's limit, corrected by what the server
//! says (`X-Ratelimit-Remaining`/`X-Ratelimit-Reset`) and stopped by a 429 until the window
//! resets. One limiter per client, and one client per process, so every concurrent batch of a
//! local run draws from the same budget.
//!
//! The bucket holds `burst` tokens and refills at `(limit - burst)` per minute: in any 60 s,
//! fixed or sliding, it hands out at most `burst + (limit - burst) = limit` tokens, so a server
//! that counts requests per minute never sees more than the limit from this process, even when
//! it sends no headers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::{Clock, jitter_unit};

/// Never wait longer than this on the word of a header (a clock skew or a bad header must not
/// park a Lambda for its whole timeout).
const MAX_HEADER_WAIT_SECS: f64 = 120.0;

pub struct RateLimiter {
    clock: Arc<dyn Clock>,
    bucket: tokio::sync::Mutex<Bucket>,
    waited_micros: AtomicU64,
}

struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    updated: f64,
    /// What the server last said is left in its window, less what we sent since.
    server_remaining: Option<u32>,
    server_reset: f64,
    /// After a 429: nobody sends before this time.
    blocked_until: f64,
}

impl RateLimiter {
    /// `per_minute` requests a minute with bursts of up to `burst` (clamped to `1..per_minute`).
    pub fn new(per_minute: u32, burst: u32, clock: Arc<dyn Clock>) -> Self {
        let per_minute = per_minute.max(1);
        let burst = burst.clamp(1, per_minute.saturating_sub(1).max(1));
        let refill = f64::from(per_minute.saturating_sub(burst).max(1)) / 60.0;
        let now = clock.epoch_seconds();
        RateLimiter {
            clock,
            bucket: tokio::sync::Mutex::new(Bucket {
                tokens: f64::from(burst),
                capacity: f64::from(burst),
                per_second: refill,
                updated: now,
                server_remaining: None,
                server_reset: 0.0,
                blocked_until: 0.0,
            }),
            waited_micros: AtomicU64::new(0),
        }
    }

    /// Waits for a token. Waiters queue on the bucket's lock in arrival order; the one at the
    /// head sleeps for everyone.
    pub async fn acquire(&self) {
        let mut bucket = self.bucket.lock().await;
        loop {
            let now = self.clock.epoch_seconds();
            bucket.refill(now);
            if now >= bucket.server_reset {
                bucket.server_remaining = None;
            }
            let wait = if bucket.blocked_until > now {
                bucket.blocked_until - now
            } else if bucket.server_remaining == Some(0) {
                (bucket.server_reset - now).min(MAX_HEADER_WAIT_SECS)
            } else if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                if let Some(left) = bucket.server_remaining.as_mut() {
                    *left = left.saturating_sub(1);
                }
                return;
            } else {
                (1.0 - bucket.tokens) / bucket.per_second
            };
            let wait = Duration::from_secs_f64(wait.max(0.001));
            self.waited_micros
                .fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
            self.clock.sleep(wait).await;
        }
    }

    /// Takes in the rate-limit headers of a response.
    pub async fn observe(&self, remaining: Option<u32>, reset: Option<f64>) {
        let (Some(remaining), Some(reset)) = (remaining, reset) else {
            return;
        };
        let mut bucket = self.bucket.lock().await;
        if reset > bucket.server_reset + 0.5 {
            // A new window.
            bucket.server_reset = reset;
            bucket.server_remaining = Some(remaining);
        } else if (reset - bucket.server_reset).abs() <= 0.5 {
            // Same window: responses may arrive out of order; the smallest count is the latest.
            bucket.server_remaining = Some(
                bucket
                    .server_remaining
                    .map_or(remaining, |r| r.min(remaining)),
            );
        }
    }

    /// A 429: blocks everyone until the window resets (from `X-Ratelimit-Reset`, else
    /// `Retry-After`, else `fallback`), plus up to a second of jitter so that waiting clients
    /// do not all return at once. Returns the wait.
    pub async fn rate_limited(
        &self,
        reset: Option<f64>,
        retry_after: Option<f64>,
        fallback: Duration,
    ) -> Duration {
        let now = self.clock.epoch_seconds();
        let until = match (reset, retry_after) {
            (Some(reset), _) => reset.min(now + MAX_HEADER_WAIT_SECS),
            (None, Some(after)) => now + after.min(MAX_HEADER_WAIT_SECS),
            (None, None) => now + fallback.as_secs_f64(),
        }
        .max(now)
            + 0.05
            + jitter_unit();
        let mut bucket = self.bucket.lock().await;
        bucket.blocked_until = bucket.blocked_until.max(until);
        bucket.server_remaining = Some(0);
        bucket.server_reset = bucket.server_reset.max(until);
        Duration::from_secs_f64(until - now)
    }

    /// Total time callers spent waiting for a token.
    pub fn waited(&self) -> Duration {
        Duration::from_micros(self.waited_micros.load(Ordering::Relaxed))
    }
}

impl Bucket {
    fn refill(&mut self, now: f64) {
        if now > self.updated {
            self.tokens = (self.tokens + (now - self.updated) * self.per_second).min(self.capacity);
            self.updated = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FastForwardClock;

    #[tokio::test]
    async fn no_minute_ever_holds_more_than_the_limit() {
        let clock = Arc::new(FastForwardClock::starting_at(0));
        let limiter = RateLimiter::new(200, 5, clock.clone());
        let mut times = Vec::new();
        for _ in 0..1000 {
            limiter.acquire().await;
            times.push(clock.epoch_seconds());
        }
        // Sliding windows: request i and request i+200 are more than 60 s apart.
        for pair in times.windows(201) {
            assert!(
                pair[200] - pair[0] >= 60.0 - 1e-6,
                "{} {}",
                pair[0],
                pair[200]
            );
        }
        // And the limiter is not much slower than the limit: 1000 requests in about 5 minutes.
        let minutes = times.last().unwrap() / 60.0;
        assert!((4.9..5.3).contains(&minutes), "{minutes}");
    }

    #[tokio::test]
    async fn a_server_that_says_nothing_is_left_is_believed_until_its_reset() {
        let clock = Arc::new(FastForwardClock::starting_at(1_000));
        let limiter = RateLimiter::new(200, 5, clock.clone());
        limiter.observe(Some(0), Some(1_030.0)).await;
        limiter.acquire().await;
        assert!(
            clock.epoch_seconds() >= 1_030.0,
            "{}",
            clock.epoch_seconds()
        );
    }

    #[tokio::test]
    async fn a_429_blocks_until_the_reset_plus_jitter() {
        let clock = Arc::new(FastForwardClock::starting_at(1_000));
        let limiter = RateLimiter::new(200, 5, clock.clone());
        let wait = limiter
            .rate_limited(Some(1_042.0), None, Duration::from_secs(5))
            .await;
        assert!(wait >= Duration::from_secs(42) && wait <= Duration::from_secs(44));
        limiter.acquire().await;
        assert!(
            (1_042.0..1_044.0).contains(&clock.epoch_seconds()),
            "{}",
            clock.epoch_seconds()
        );
    }
}
