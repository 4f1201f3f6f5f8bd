//! The tests' fixed pseudo-random streams: the random walks of [`crate::bars`], the analytics and
//! backtest tests' markets, the benchmarks' data. `events/` files and benchmark figures are
//! pinned to the numbers these produce, so the streams must never change: that is why this is
//! written here and not taken from `rand`, whose `SmallRng` is documented as not portable across
//! versions.
//!
//! * [`XorShift64`]: Marsaglia's xorshift64 (shifts 13, 7, 17), the state itself as the output.
//!   Most fixtures use it.
//! * [`XorShift64Star`]: xorshift64* (shifts 12, 25, 27, the output multiplied), the backtest
//!   tests' synthetic market.
//!
//! Both draw [`unit`](XorShift64::unit)s the same way: the top 53 bits over 2^53, uniform in
//! [0, 1). (The production generator, the synthetic market's SplitMix64, is
//! `screener_core::splitmix`; this crate depends on no workspace crate.)

/// The top 53 bits of `x` as a fraction: uniform in [0, 1) for uniform `x`.
fn to_unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Marsaglia's xorshift64 with shifts 13, 7, 17: period 2^64 - 1, every nonzero state once.
#[derive(Debug, Clone)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// The stream whose state starts at `seed`. Zero is not a seed (the stream would stay 0).
    pub fn new(seed: u64) -> Self {
        assert_ne!(seed, 0, "xorshift64 needs a nonzero seed");
        XorShift64 { state: seed }
    }

    /// The next state.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// Uniform in [0, 1): the next state's top 53 bits.
    pub fn unit(&mut self) -> f64 {
        to_unit(self.next_u64())
    }
}

/// xorshift64* (Vigna, 2016): an xorshift64 with shifts 12, 25, 27 whose output is the state
/// times 0x2545_F491_4F6C_DD1D.
#[derive(Debug, Clone)]
pub struct XorShift64Star {
    state: u64,
}

impl XorShift64Star {
    /// The stream whose state starts at `seed` x 0x9E37_79B9_7F4A_7C15, made odd: any seed,
    /// small or zero, starts a well-mixed stream.
    pub fn new(seed: u64) -> Self {
        XorShift64Star {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// The next output.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1): the next output's top 53 bits.
    pub fn unit(&mut self) -> f64 {
        to_unit(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xorshift64_stream_is_pinned() {
        let mut rng = XorShift64::new(1);
        assert_eq!(rng.next_u64(), 0x0000_0000_4082_2041);
        assert_eq!(rng.next_u64(), 0x1000_4106_0c01_1441);
        let mut rng = XorShift64::new(0x9E37_79B9_7F4A_7C15);
        let draws: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            draws,
            [
                0xdc1b_77ae_0bf3_4dad,
                0x64f0_eeb9_026e_6076,
                0x7b07_ce91_e590_6136
            ]
        );
    }

    #[test]
    fn the_xorshift64_star_stream_is_pinned() {
        let mut rng = XorShift64Star::new(99);
        let draws: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            draws,
            [
                0x241a_9cb0_f05e_de4a,
                0xb65c_cdf7_667c_ba9a,
                0xbd32_dab5_a908_9ab1
            ]
        );
    }

    #[test]
    fn units_are_in_the_unit_interval_and_spread_over_it() {
        let mut a = XorShift64::new(0x2545_F491_4F6C_DD1D);
        let mut b = XorShift64Star::new(0);
        for rng in [&mut || a.unit(), &mut || b.unit()] as [&mut dyn FnMut() -> f64; 2] {
            let draws: Vec<f64> = (0..10_000).map(|_| rng()).collect();
            assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            assert!((mean - 0.5).abs() < 0.01, "{mean}");
        }
    }

    #[test]
    #[should_panic(expected = "nonzero seed")]
    fn xorshift64_refuses_a_zero_seed() {
        XorShift64::new(0);
    }
}
