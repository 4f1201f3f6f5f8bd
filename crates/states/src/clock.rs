//! Time as the interpreter sees it. Wait states, Retry back-off and Task
//! `TimeoutSeconds` all go through a [`Clock`], so tests can run a workflow
//! that "waits" an hour in microseconds.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A source of time and a way to sleep.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Real time; sleeping uses tokio's timer (needs a tokio runtime with time enabled).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Real time sped up by a factor: a 10 s sleep at factor 1000 really sleeps 10 ms,
/// and `now()` advances 1000 times faster than the wall clock.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    factor: f64,
    origin_wall: DateTime<Utc>,
    origin: Instant,
}

impl ScaledClock {
    /// `factor` must be positive; values below 1 slow time down.
    pub fn new(factor: f64) -> Self {
        assert!(factor > 0.0 && factor.is_finite(), "ScaledClock factor must be positive");
        ScaledClock {
            factor,
            origin_wall: Utc::now(),
            origin: Instant::now(),
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let scaled = self.origin.elapsed().mul_f64(self.factor);
        self.origin_wall + chrono::Duration::from_std(scaled).unwrap_or(chrono::Duration::MAX)
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d.div_f64(self.factor)))
    }
}

/// Never really sleeps: a sleep moves the clock's own `now()` forward to its
/// deadline and completes on its next poll. Concurrent sleeps overlap (the clock
/// moves to the latest deadline, not the sum), and a sleep whose deadline has
/// already passed completes at once, so racing a task's sleep against a
/// timeout's sleep picks the one that would have finished first.
#[derive(Debug)]
pub struct VirtualClock {
    now: Mutex<DateTime<Utc>>,
    slept: Mutex<Vec<Duration>>,
}

impl VirtualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        VirtualClock {
            now: Mutex::new(start),
            slept: Mutex::new(Vec::new()),
        }
    }

    /// Every duration passed to `sleep`, in call order (what tests assert back-off on).
    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().expect("clock lock").clone()
    }

    /// Move time forward without sleeping.
    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().expect("clock lock");
        *now += chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    }
}

impl Default for VirtualClock {
    /// Starts at the current wall-clock time.
    fn default() -> Self {
        VirtualClock::new(Utc::now())
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.slept.lock().expect("clock lock").push(d);
        let deadline = self.now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        Box::pin(VirtualSleep {
            clock: self,
            deadline,
            polled: false,
        })
    }
}

struct VirtualSleep<'a> {
    clock: &'a VirtualClock,
    deadline: DateTime<Utc>,
    polled: bool,
}

impl Future for VirtualSleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut now = self.clock.now.lock().expect("clock lock");
        if *now >= self.deadline || self.polled {
            if *now < self.deadline {
                *now = self.deadline;
            }
            return Poll::Ready(());
        }
        *now = self.deadline;
        drop(now);
        self.polled = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_virtual_sleep_advances_now_without_real_waiting() {
        let start = Utc::now();
        let clock = VirtualClock::new(start);
        let real = Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now() - start, chrono::Duration::hours(1));
        assert!(real.elapsed() < Duration::from_secs(1));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(3600)]);
    }

    #[tokio::test]
    async fn racing_virtual_sleeps_lets_the_shorter_one_win() {
        let clock = VirtualClock::default();
        let r = tokio::select! {
            biased;
            _ = clock.sleep(Duration::from_secs(10)) => "long",
            _ = clock.sleep(Duration::from_secs(5)) => "short",
        };
        assert_eq!(r, "short");
        let r = tokio::select! {
            biased;
            _ = clock.sleep(Duration::from_secs(3)) => "short",
            _ = clock.sleep(Duration::from_secs(5)) => "long",
        };
        assert_eq!(r, "short");
    }

    #[tokio::test]
    async fn a_scaled_clock_divides_real_sleeps_by_its_factor() {
        let clock = ScaledClock::new(1000.0);
        let real = Instant::now();
        let before = clock.now();
        clock.sleep(Duration::from_secs(2)).await;
        assert!(real.elapsed() < Duration::from_millis(500));
        assert!(clock.now() - before >= chrono::Duration::milliseconds(1900));
    }
}
