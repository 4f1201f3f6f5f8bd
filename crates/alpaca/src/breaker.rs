//! The circuit breaker: after `threshold` consecutive failed requests, calls fail at once for a
//! cool-down instead of hammering an API that is down; then one more failure re-opens it, a
//! success closes it. A refused credential opens it for good (for this process): every later
//! call gets the same `Unauthorized` at once.

use std::sync::{Arc, Mutex};

use screener_core::ports::MarketDataError;

use crate::clock::Clock;

pub struct CircuitBreaker {
    threshold: u32,
    cooldown_secs: f64,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    consecutive: u32,
    last_failure: String,
    opened_at: Option<f64>,
    unauthorized: Option<String>,
    trips: u32,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown_secs: f64, clock: Arc<dyn Clock>) -> Self {
        CircuitBreaker {
            threshold: threshold.max(1),
            cooldown_secs,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// May a request go out now?
    pub fn check(&self) -> Result<(), MarketDataError> {
        let mut state = self.state.lock().unwrap();
        if let Some(message) = &state.unauthorized {
            return Err(MarketDataError::Unauthorized(message.clone()));
        }
        if let Some(opened) = state.opened_at {
            let open_for = self.clock.epoch_seconds() - opened;
            if open_for < self.cooldown_secs {
                return Err(MarketDataError::Unavailable(format!(
                    "circuit open: {} consecutive requests to the Alpaca API failed (the last: {}), so this run stops calling it for {:.0} s more (ALPACA_CIRCUIT_THRESHOLD={}, ALPACA_CIRCUIT_COOLDOWN_SECS={})",
                    state.consecutive,
                    state.last_failure,
                    self.cooldown_secs - open_for,
                    self.threshold,
                    self.cooldown_secs
                )));
            }
            // Half open: let requests through; the next failure re-opens at once.
            state.opened_at = None;
            state.consecutive = self.threshold - 1;
        }
        Ok(())
    }

    pub fn success(&self) {
        let mut state = self.state.lock().unwrap();
        state.consecutive = 0;
        state.opened_at = None;
    }

    pub fn failure(&self, what: &str) {
        let mut state = self.state.lock().unwrap();
        state.consecutive += 1;
        state.last_failure = what.to_string();
        if state.consecutive >= self.threshold && state.opened_at.is_none() {
            state.opened_at = Some(self.clock.epoch_seconds());
            state.trips += 1;
            tracing::warn!(
                consecutive = state.consecutive,
                last = what,
                "Alpaca circuit opened"
            );
        }
    }

    pub fn unauthorized(&self, message: &str) {
        self.state.lock().unwrap().unauthorized = Some(message.to_string());
    }

    /// How many times the circuit opened.
    pub fn trips(&self) -> u32 {
        self.state.lock().unwrap().trips
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FastForwardClock;

    #[test]
    fn opens_after_the_threshold_and_says_why_then_half_opens_after_the_cool_down() {
        let clock = Arc::new(FastForwardClock::starting_at(0));
        let breaker = CircuitBreaker::new(3, 60.0, clock.clone());
        breaker.failure("HTTP 503");
        breaker.failure("HTTP 503");
        assert!(breaker.check().is_ok());
        breaker.failure("HTTP 503 from GET /v2/stocks/bars");
        let err = breaker.check().unwrap_err();
        assert!(matches!(err, MarketDataError::Unavailable(_)));
        let text = err.to_string();
        assert!(
            text.contains("circuit open")
                && text.contains("3 consecutive")
                && text.contains("HTTP 503 from"),
            "{text}"
        );
        clock.advance(std::time::Duration::from_secs(61));
        assert!(breaker.check().is_ok(), "half open after the cool-down");
        breaker.failure("again");
        assert!(breaker.check().is_err(), "one failure re-opens it");
        assert_eq!(breaker.trips(), 2);
    }

    #[test]
    fn a_success_resets_the_count() {
        let breaker = CircuitBreaker::new(2, 60.0, Arc::new(FastForwardClock::starting_at(0)));
        breaker.failure("x");
        breaker.success();
        breaker.failure("x");
        assert!(breaker.check().is_ok());
    }

    #[test]
    fn unauthorized_is_sticky() {
        let breaker = CircuitBreaker::new(5, 60.0, Arc::new(FastForwardClock::starting_at(0)));
        breaker.unauthorized("check ALPACA_API_KEY_ID");
        assert!(
            matches!(breaker.check(), Err(MarketDataError::Unauthorized(m)) if m.contains("ALPACA_API_KEY_ID"))
        );
    }
}
