//! Time as the rate limiter, the retry loop and the circuit breaker see it: the system clock in
//! production, a [`VirtualClock`] in tests and the benchmark, so that waiting out a one-minute
//! rate-limit window takes no real time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

#[async_trait]
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch (the unit of `X-Ratelimit-Reset`).
    fn now(&self) -> f64;
    async fn sleep(&self, duration: Duration);
}

/// Wall-clock time and real sleeps.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Simulated time: `sleep` moves the clock forward at once instead of waiting, to the wake-up
/// time the sleeper asked for (never backwards). Sleeps that follow each other add up, as they
/// would for real; concurrent sleepers are not scheduled, so overlapping waits may be counted
/// more than once: a simulated duration is an upper bound. The time spent working (parsing,
/// writing) is not on this clock.
#[derive(Debug)]
pub struct VirtualClock {
    micros: AtomicU64,
    slept_micros: AtomicU64,
}

impl VirtualClock {
    /// A clock starting at `epoch_seconds`.
    pub fn starting_at(epoch_seconds: u64) -> Self {
        VirtualClock {
            micros: AtomicU64::new(epoch_seconds * 1_000_000),
            slept_micros: AtomicU64::new(0),
        }
    }

    /// Total time asked for by `sleep` calls (each one counted in full).
    pub fn slept(&self) -> Duration {
        Duration::from_micros(self.slept_micros.load(Ordering::SeqCst))
    }

    /// Moves the clock forward without anyone sleeping (e.g. to the next day).
    pub fn advance(&self, by: Duration) {
        self.micros
            .fetch_add(by.as_micros() as u64, Ordering::SeqCst);
    }
}

#[async_trait]
impl Clock for VirtualClock {
    fn now(&self) -> f64 {
        self.micros.load(Ordering::SeqCst) as f64 / 1e6
    }
    async fn sleep(&self, duration: Duration) {
        let micros = duration.as_micros() as u64;
        self.slept_micros.fetch_add(micros, Ordering::SeqCst);
        let target = self.micros.load(Ordering::SeqCst) + micros;
        self.micros.fetch_max(target, Ordering::SeqCst);
        tokio::task::yield_now().await;
    }
}

/// A cheap jitter source (SplitMix64 over a counter seeded from the time): uniform in [0, 1).
pub(crate) fn jitter_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(seed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_virtual_sleep_moves_time_without_waiting() {
        let clock = VirtualClock::starting_at(1_000);
        let started = std::time::Instant::now();
        clock.sleep(Duration::from_secs(60)).await;
        assert_eq!(clock.now(), 1_060.0);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn sleeps_add_up_and_are_counted() {
        let clock = VirtualClock::starting_at(0);
        clock.sleep(Duration::from_secs(10)).await;
        clock.advance(Duration::from_secs(5));
        clock.sleep(Duration::from_millis(500)).await;
        assert_eq!(clock.now(), 15.5);
        assert_eq!(clock.slept(), Duration::from_millis(10_500));
    }

    #[test]
    fn jitter_is_in_the_unit_interval() {
        for _ in 0..1000 {
            let j = jitter_unit();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
