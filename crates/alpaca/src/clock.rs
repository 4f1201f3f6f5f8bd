//! Time as the rate limiter, the retry loop and the circuit breaker see it: the project's one
//! [`Clock`] (`screener-clock`): the system clock in production, a [`FastForwardClock`] in tests
//! and the benchmark, so that waiting out a one-minute rate-limit window takes no real time.

pub use screener_clock::{Clock, FastForwardClock, SystemClock};

/// Jitter for back-off and rate-limit waits: uniform in [0, 1).
pub(crate) fn jitter_unit() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_in_the_unit_interval() {
        for _ in 0..1000 {
            let j = jitter_unit();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
