//! Per-symbol indicator kernels over contiguous slices of one symbol's bars.
//!
//! Two entry points share every formula:
//! - [`compute_series`] writes every metric for every bar (used by `compute_indicators`);
//! - [`compute_last`] computes the metrics of the last bar only (used by `screen_latest`).
//!
//! The recursive and running-sum indicators (SMA, EMA, RSI, ATR) run the same state
//! machines in both modes, in the same order of floating-point operations as TA-Lib, so
//! both modes give bit-identical values. Window extrema (52-week high/low, 180-day
//! drawdown, max drawdown) are order-independent: the series mode uses amortised O(1)
//! sliding structures, the last-bar mode scans the window once, and both return the same
//! bits. The remaining metrics are computed by the same function per bar in both modes.
//!
//! Missing values: a price that is not finite and positive, or a volume that is not
//! finite and non-negative, breaks that input's series. Every metric that would use it,
//! or reach back across it, is null until it has warmed up again after the break (the
//! series restarts as if the symbol's history began at the next bar). Outputs are NaN for
//! null here; the caller turns NaN into null, and every output is checked to be finite.

/// Names of the indicator columns, in output order.
pub const INDICATOR_NAMES: [&str; N_METRICS] = [
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
    "rsi_14",
    "atr_14",
    "high_52w",
    "low_52w",
    "pct_from_high_52w",
    "pct_from_low_52w",
    "drawdown_180d",
    "days_since_peak_180d",
    "max_drawdown_252",
    "ret_1d",
    "ret_5d",
    "ret_21d",
    "ret_63d",
    "ret_126d",
    "ret_252d",
    "avg_volume_20",
    "rel_volume",
    "dollar_volume_20",
    "volatility_20",
    "gap_pct",
];

pub const N_METRICS: usize = 25;

pub const SMA_20: usize = 0;
pub const SMA_50: usize = 1;
pub const SMA_200: usize = 2;
pub const EMA_12: usize = 3;
pub const EMA_26: usize = 4;
pub const RSI_14: usize = 5;
pub const ATR_14: usize = 6;
pub const HIGH_52W: usize = 7;
pub const LOW_52W: usize = 8;
pub const PCT_FROM_HIGH_52W: usize = 9;
pub const PCT_FROM_LOW_52W: usize = 10;
pub const DRAWDOWN_180D: usize = 11;
pub const DAYS_SINCE_PEAK_180D: usize = 12;
pub const MAX_DRAWDOWN_252: usize = 13;
pub const RET_1D: usize = 14;
pub const AVG_VOLUME_20: usize = 20;
pub const REL_VOLUME: usize = 21;
pub const DOLLAR_VOLUME_20: usize = 22;
pub const VOLATILITY_20: usize = 23;
pub const GAP_PCT: usize = 24;

/// Return horizons in bars, matching `ret_1d` .. `ret_252d` from index [`RET_1D`].
pub const RET_HORIZONS: [usize; 6] = [1, 5, 21, 63, 126, 252];

/// Bars in a 52-week window.
pub const WINDOW_52W: usize = 252;
/// Calendar days of the drawdown window.
pub const DRAWDOWN_DAYS: i32 = 180;
const RSI_PERIOD: usize = 14;
const ATR_PERIOD: usize = 14;
const VOLUME_WINDOW: usize = 20;
const VOLATILITY_WINDOW: usize = 20;
const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// One symbol's bars, sorted by strictly increasing date. Missing values are NaN.
#[derive(Clone, Copy, Debug)]
pub struct SymbolBars<'a> {
    /// Days since 1970-01-01.
    pub dates: &'a [i32],
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
}

impl SymbolBars<'_> {
    pub fn len(&self) -> usize {
        self.close.len()
    }

    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// The first `len` bars.
    pub fn prefix(&self, len: usize) -> Self {
        SymbolBars {
            dates: &self.dates[..len],
            open: &self.open[..len],
            high: &self.high[..len],
            low: &self.low[..len],
            close: &self.close[..len],
            volume: &self.volume[..len],
        }
    }
}

#[inline]
fn valid_price(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

#[inline]
fn valid_volume(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

#[inline]
fn finite_or_nan(x: f64) -> f64 {
    if x.is_finite() { x } else { f64::NAN }
}

/// TA-Lib's SMA: a running sum, the trailing value subtracted after each output.
#[derive(Clone, Debug)]
struct RunningSma {
    period: usize,
    sum: f64,
    count: usize,
}

impl RunningSma {
    fn new(period: usize) -> Self {
        RunningSma {
            period,
            sum: 0.0,
            count: 0,
        }
    }

    fn reset(&mut self) {
        self.sum = 0.0;
        self.count = 0;
    }

    /// `x[i]` must be valid and `x[i + 1 - count .. i]` the valid run before it. Without
    /// `EMIT` only the state advances (the same operations) and the result is NaN.
    #[inline]
    fn step<const EMIT: bool>(&mut self, x: &[f64], i: usize) -> f64 {
        self.sum += x[i];
        self.count += 1;
        if self.count >= self.period {
            let out = if EMIT {
                self.sum / self.period as f64
            } else {
                f64::NAN
            };
            self.sum -= x[i + 1 - self.period];
            out
        } else {
            f64::NAN
        }
    }
}

/// TA-Lib's EMA: k = 2/(n+1), seeded with the simple mean of the first n values.
#[derive(Clone, Debug)]
struct Ema {
    period: usize,
    k: f64,
    count: usize,
    value: f64,
}

impl Ema {
    fn new(period: usize) -> Self {
        Ema {
            period,
            k: 2.0 / ((period + 1) as f64),
            count: 0,
            value: 0.0,
        }
    }

    fn reset(&mut self) {
        self.count = 0;
        self.value = 0.0;
    }

    #[inline]
    fn step(&mut self, x: f64) -> f64 {
        self.count += 1;
        if self.count < self.period {
            self.value += x;
            f64::NAN
        } else if self.count == self.period {
            self.value += x;
            self.value /= self.period as f64;
            self.value
        } else {
            self.value = ((x - self.value) * self.k) + self.value;
            self.value
        }
    }
}

/// TA-Lib's RSI (Wilder smoothing, first averages = simple means of the first n changes).
/// Like TA-Lib 0.8 it multiplies by 1/n rather than dividing by n (bit-identical results).
#[derive(Clone, Debug)]
struct Rsi {
    period: usize,
    prev: f64,
    changes: usize,
    started: bool,
    gain: f64,
    loss: f64,
}

impl Rsi {
    fn new(period: usize) -> Self {
        Rsi {
            period,
            prev: 0.0,
            changes: 0,
            started: false,
            gain: 0.0,
            loss: 0.0,
        }
    }

    fn reset(&mut self) {
        *self = Rsi::new(self.period);
    }

    #[inline]
    fn value(&self) -> f64 {
        let total = self.gain + self.loss;
        // TA_IS_ZERO: TA-Lib returns 0 when both averages are about zero.
        if !(-0.00000000000001 < total && total < 0.00000000000001) {
            100.0 * (self.gain / total)
        } else {
            0.0
        }
    }

    /// Without `EMIT` only the state advances (the same operations) and the result is NaN.
    #[inline]
    fn step<const EMIT: bool>(&mut self, x: f64) -> f64 {
        if !self.started {
            self.started = true;
            self.prev = x;
            return f64::NAN;
        }
        let diff = x - self.prev;
        self.prev = x;
        self.changes += 1;
        let n = self.period as f64;
        if self.changes <= self.period {
            if diff < 0.0 {
                self.loss -= diff;
            } else {
                self.gain += diff;
            }
            if self.changes < self.period {
                return f64::NAN;
            }
            self.loss *= 1.0 / n;
            self.gain *= 1.0 / n;
        } else {
            self.loss *= n - 1.0;
            self.gain *= n - 1.0;
            if diff < 0.0 {
                self.loss -= diff;
            } else {
                self.gain += diff;
            }
            self.loss *= 1.0 / n;
            self.gain *= 1.0 / n;
        }
        if EMIT { self.value() } else { f64::NAN }
    }
}

/// TA-Lib's ATR: the first value is the simple mean of n true ranges, then Wilder smoothing.
#[derive(Clone, Debug)]
struct Atr {
    period: usize,
    count: usize,
    value: f64,
}

impl Atr {
    fn new(period: usize) -> Self {
        Atr {
            period,
            count: 0,
            value: 0.0,
        }
    }

    fn reset(&mut self) {
        self.count = 0;
        self.value = 0.0;
    }

    #[inline]
    fn step(&mut self, tr: f64) -> f64 {
        self.count += 1;
        let n = self.period as f64;
        if self.count < self.period {
            self.value += tr;
            f64::NAN
        } else if self.count == self.period {
            self.value += tr;
            self.value /= n;
            self.value
        } else {
            self.value *= n - 1.0;
            self.value += tr;
            self.value /= n;
            self.value
        }
    }
}

/// TA-Lib's TRANGE for bar `i` (needs `i >= 1`).
#[inline]
fn true_range(b: &SymbolBars<'_>, i: usize) -> f64 {
    let (h, l, prev_close) = (b.high[i], b.low[i], b.close[i - 1]);
    let mut greatest = h - l;
    let v2 = (prev_close - h).abs();
    if v2 > greatest {
        greatest = v2;
    }
    let v3 = (prev_close - l).abs();
    if v3 > greatest {
        greatest = v3;
    }
    greatest
}

/// The recursive and running-sum indicators, stepped bar by bar in both modes.
#[derive(Clone, Debug)]
struct Recursive {
    sma: [RunningSma; 3],
    ema: [Ema; 2],
    rsi: Rsi,
    atr: Atr,
}

/// Values of the recursive indicators at one bar.
#[derive(Clone, Copy, Debug)]
struct RecursiveValues {
    sma: [f64; 3],
    ema: [f64; 2],
    rsi: f64,
    atr: f64,
}

impl Recursive {
    fn new() -> Self {
        Recursive {
            sma: [
                RunningSma::new(20),
                RunningSma::new(50),
                RunningSma::new(200),
            ],
            ema: [Ema::new(12), Ema::new(26)],
            rsi: Rsi::new(RSI_PERIOD),
            atr: Atr::new(ATR_PERIOD),
        }
    }

    /// Advances every indicator by bar `i`; the SMA and RSI values are computed only with
    /// `EMIT` (the state goes through the same operations either way).
    #[inline]
    fn step<const EMIT: bool>(&mut self, b: &SymbolBars<'_>, i: usize) -> RecursiveValues {
        let nan = f64::NAN;
        let mut v = RecursiveValues {
            sma: [nan; 3],
            ema: [nan; 2],
            rsi: nan,
            atr: nan,
        };
        let c = b.close[i];
        if valid_price(c) {
            for (out, sma) in v.sma.iter_mut().zip(self.sma.iter_mut()) {
                *out = sma.step::<EMIT>(b.close, i);
            }
            for (out, ema) in v.ema.iter_mut().zip(self.ema.iter_mut()) {
                *out = ema.step(c);
            }
            v.rsi = self.rsi.step::<EMIT>(c);
        } else {
            self.sma.iter_mut().for_each(RunningSma::reset);
            self.ema.iter_mut().for_each(Ema::reset);
            self.rsi.reset();
        }
        if i >= 1 && valid_price(b.high[i]) && valid_price(b.low[i]) && valid_price(b.close[i - 1])
        {
            v.atr = self.atr.step(true_range(b, i));
        } else {
            self.atr.reset();
        }
        v
    }
}

/// Index of the first bar of the valid run of `x` that ends at `i`, or `None` if `x[i]`
/// itself is invalid; computed by scanning back (last-bar mode).
fn run_start_scan(x: &[f64], i: usize, valid: fn(f64) -> bool, limit: usize) -> Option<usize> {
    if !valid(x[i]) {
        return None;
    }
    let lowest = i.saturating_sub(limit);
    let mut s = i;
    while s > lowest && valid(x[s - 1]) {
        s -= 1;
    }
    Some(s)
}

/// Tracks the start of the current valid run of one input (series mode).
#[derive(Clone, Copy, Debug, Default)]
struct RunTracker {
    start: usize,
}

impl RunTracker {
    #[inline]
    fn update(&mut self, ok: bool, i: usize) -> Option<usize> {
        if ok {
            Some(self.start)
        } else {
            self.start = i + 1;
            None
        }
    }
}

/// Where the valid runs ending at bar `i` begin, per input (`None`: the bar itself is invalid).
#[derive(Clone, Copy, Debug)]
struct Runs {
    close: Option<usize>,
    volume: Option<usize>,
    /// The run of volumes ending at `i - 1` (`avg_volume_20` excludes today).
    volume_before: Option<usize>,
    dollar: Option<usize>,
}

/// True if the valid run starting at `start` covers `[i + 1 - len, i]`.
#[inline]
fn covers(start: Option<usize>, i: usize, len: usize) -> bool {
    matches!(start, Some(s) if i + 1 >= len && s + len <= i + 1)
}

/// Every metric: the `wanted` argument of the modes that compute them all.
pub const ALL_METRICS: [bool; N_METRICS] = [true; N_METRICS];

/// Metrics that are a plain function of a short window ending at bar `i`
/// (returns, volume, volatility, gap), shared by both modes. The costlier ones (average and
/// dollar volume, volatility) are left null unless `wanted`.
#[inline]
fn write_window_metrics(
    b: &SymbolBars<'_>,
    i: usize,
    runs: &Runs,
    wanted: &[bool; N_METRICS],
    out: &mut [f64; N_METRICS],
) {
    let c = b.close;
    for (slot, &k) in RET_HORIZONS.iter().enumerate() {
        out[RET_1D + slot] = if covers(runs.close, i, k + 1) {
            finite_or_nan(c[i] / c[i - k] - 1.0)
        } else {
            f64::NAN
        };
    }
    // Mean volume of the 20 bars before today.
    let volume_wanted = wanted[AVG_VOLUME_20] || wanted[REL_VOLUME];
    let avg_volume = if volume_wanted && i >= 1 && covers(runs.volume_before, i - 1, VOLUME_WINDOW)
    {
        let mut sum = 0.0;
        for &v in &b.volume[i - VOLUME_WINDOW..i] {
            sum += v;
        }
        finite_or_nan(sum / VOLUME_WINDOW as f64)
    } else {
        f64::NAN
    };
    out[AVG_VOLUME_20] = avg_volume;
    out[REL_VOLUME] = if runs.volume.is_some() && avg_volume.is_finite() && avg_volume != 0.0 {
        finite_or_nan(b.volume[i] / avg_volume)
    } else {
        f64::NAN
    };
    out[DOLLAR_VOLUME_20] = if wanted[DOLLAR_VOLUME_20] && covers(runs.dollar, i, VOLUME_WINDOW) {
        let mut sum = 0.0;
        let first = i + 1 - VOLUME_WINDOW;
        for (&price, &volume) in c[first..=i].iter().zip(&b.volume[first..=i]) {
            sum += price * volume;
        }
        finite_or_nan(sum / VOLUME_WINDOW as f64)
    } else {
        f64::NAN
    };
    out[VOLATILITY_20] = if wanted[VOLATILITY_20] && covers(runs.close, i, VOLATILITY_WINDOW + 1) {
        let mut rets = [0.0f64; VOLATILITY_WINDOW];
        let first = i + 1 - VOLATILITY_WINDOW;
        let mut sum = 0.0;
        for (r, j) in rets.iter_mut().zip(first..=i) {
            *r = (c[j] / c[j - 1]).ln();
            sum += *r;
        }
        let mean = sum / VOLATILITY_WINDOW as f64;
        let mut ss = 0.0;
        for r in rets {
            ss += (r - mean) * (r - mean);
        }
        finite_or_nan((ss / (VOLATILITY_WINDOW - 1) as f64).sqrt() * TRADING_DAYS_PER_YEAR.sqrt())
    } else {
        f64::NAN
    };
    out[GAP_PCT] = if i >= 1 && valid_price(b.open[i]) && valid_price(c[i - 1]) {
        finite_or_nan(b.open[i] / c[i - 1] - 1.0)
    } else {
        f64::NAN
    };
}

/// Metrics derived from the 52-week extremes and drawdowns.
#[inline]
fn write_extremes(
    close: f64,
    high: f64,
    low: f64,
    mdd_ratio: f64,
    dd_peak: Option<(f64, i32)>,
    today: i32,
    out: &mut [f64; N_METRICS],
) {
    out[HIGH_52W] = high;
    out[LOW_52W] = low;
    out[PCT_FROM_HIGH_52W] = finite_or_nan(close / high - 1.0);
    out[PCT_FROM_LOW_52W] = finite_or_nan(close / low - 1.0);
    out[MAX_DRAWDOWN_252] = finite_or_nan(mdd_ratio - 1.0);
    if let Some((peak, peak_date)) = dd_peak {
        out[DRAWDOWN_180D] = finite_or_nan(close / peak - 1.0);
        out[DAYS_SINCE_PEAK_180D] = f64::from(today - peak_date);
    }
}

#[inline]
fn write_recursive(v: &RecursiveValues, out: &mut [f64; N_METRICS]) {
    out[SMA_20] = finite_or_nan(v.sma[0]);
    out[SMA_50] = finite_or_nan(v.sma[1]);
    out[SMA_200] = finite_or_nan(v.sma[2]);
    out[EMA_12] = finite_or_nan(v.ema[0]);
    out[EMA_26] = finite_or_nan(v.ema[1]);
    out[RSI_14] = finite_or_nan(v.rsi);
    out[ATR_14] = finite_or_nan(v.atr);
}

/// Every metric of the last bar of `b` (NaN = null). `b` must not be empty.
pub fn compute_last(b: &SymbolBars<'_>) -> [f64; N_METRICS] {
    let n = b.len();
    assert!(n > 0, "compute_last needs at least one bar");
    let i = n - 1;
    let mut rec = Recursive::new();
    for j in 0..i {
        rec.step::<false>(b, j);
    }
    let mut out = [f64::NAN; N_METRICS];
    write_recursive(&rec.step::<true>(b, i), &mut out);

    let close_run = run_start_scan(b.close, i, valid_price, WINDOW_52W + 1);
    let volume_run = run_start_scan(b.volume, i, valid_volume, VOLUME_WINDOW);
    let dollar_run = match (close_run, volume_run) {
        (Some(c), Some(v)) => Some(c.max(v)),
        _ => None,
    };
    let runs = Runs {
        close: close_run,
        volume: volume_run,
        volume_before: if i >= 1 {
            run_start_scan(b.volume, i - 1, valid_volume, VOLUME_WINDOW)
        } else {
            None
        },
        dollar: dollar_run,
    };
    write_window_metrics(b, i, &runs, &ALL_METRICS, &mut out);

    if let Some(start) = close_run {
        let c = b.close;
        let (high, low, mdd) = if covers(close_run, i, WINDOW_52W) {
            let mut high = f64::NEG_INFINITY;
            let mut low = f64::INFINITY;
            let mut ratio = f64::INFINITY;
            for &x in &c[i + 1 - WINDOW_52W..=i] {
                if x > high {
                    high = x;
                }
                if x < low {
                    low = x;
                }
                let r = x / high;
                if r < ratio {
                    ratio = r;
                }
            }
            (high, low, ratio)
        } else {
            (f64::NAN, f64::NAN, f64::NAN)
        };
        // Highest close dated after today - 180 days, latest occurrence; the scan is
        // bounded by the valid run of closes.
        let today = b.dates[i];
        let mut peak = c[i];
        let mut peak_date = today;
        let mut j = i;
        while j > start && b.dates[j - 1] > today - DRAWDOWN_DAYS {
            j -= 1;
            if c[j] > peak {
                peak = c[j];
                peak_date = b.dates[j];
            }
        }
        write_extremes(
            c[i],
            high,
            low,
            mdd,
            Some((peak, peak_date)),
            today,
            &mut out,
        );
    }
    out
}

/// Aggregate of a window of closes for the sliding max/min/max-drawdown structure.
#[derive(Clone, Copy, Debug)]
struct Agg {
    max: f64,
    min: f64,
    /// Smallest close[j] / max(close[..=j]) within the window (1 if it never fell).
    ratio: f64,
}

impl Agg {
    #[inline]
    fn leaf(x: f64) -> Self {
        Agg {
            max: x,
            min: x,
            ratio: 1.0,
        }
    }

    /// `a` followed by `b`.
    #[inline]
    fn then(a: Agg, b: Agg) -> Agg {
        Agg {
            max: if b.max > a.max { b.max } else { a.max },
            min: if b.min < a.min { b.min } else { a.min },
            ratio: a.ratio.min(b.ratio).min(b.min / a.max),
        }
    }
}

/// Sliding-window aggregation with two stacks (amortised O(1) per bar).
#[derive(Debug, Default)]
struct SlidingAgg {
    /// Oldest elements; each entry aggregates itself and every newer front element.
    front: Vec<Agg>,
    back: Vec<f64>,
    back_agg: Option<Agg>,
}

impl SlidingAgg {
    fn len(&self) -> usize {
        self.front.len() + self.back.len()
    }

    fn clear(&mut self) {
        self.front.clear();
        self.back.clear();
        self.back_agg = None;
    }

    #[inline]
    fn push(&mut self, x: f64) {
        let leaf = Agg::leaf(x);
        self.back_agg = Some(match self.back_agg {
            Some(a) => Agg::then(a, leaf),
            None => leaf,
        });
        self.back.push(x);
    }

    #[inline]
    fn pop_oldest(&mut self) {
        if self.front.is_empty() {
            let mut acc: Option<Agg> = None;
            while let Some(x) = self.back.pop() {
                let a = match acc {
                    Some(newer) => Agg::then(Agg::leaf(x), newer),
                    None => Agg::leaf(x),
                };
                self.front.push(a);
                acc = Some(a);
            }
            self.back_agg = None;
        }
        self.front.pop();
    }

    #[inline]
    fn query(&self) -> Option<Agg> {
        match (self.front.last(), self.back_agg) {
            (Some(&f), Some(b)) => Some(Agg::then(f, b)),
            (Some(&f), None) => Some(f),
            (None, b) => b,
        }
    }
}

/// The state a walk over one symbol's bars carries from bar to bar: the recursive
/// indicators, the runs of valid closes and volumes, the 52-week window and the 180-day peaks.
/// [`compute_series`] emits at every bar, [`compute_at`] at a few.
struct Walk {
    rec: Recursive,
    close_run: RunTracker,
    volume_run: RunTracker,
    window: SlidingAgg,
    /// Indices with decreasing closes (latest among equals kept) within 180 days.
    peaks: std::collections::VecDeque<usize>,
    prev_volume_run: Option<usize>,
}

impl Walk {
    fn new() -> Self {
        Walk {
            rec: Recursive::new(),
            close_run: RunTracker::default(),
            volume_run: RunTracker::default(),
            window: SlidingAgg::default(),
            peaks: std::collections::VecDeque::new(),
            prev_volume_run: None,
        }
    }

    /// Advances to bar `i` (bars must come in order, none skipped); with `EMIT`, writes the
    /// `wanted` metrics at `i` into `row` (which the caller has filled with NaN).
    #[inline(always)]
    fn step<const EMIT: bool>(
        &mut self,
        b: &SymbolBars<'_>,
        i: usize,
        wanted: &[bool; N_METRICS],
        row: &mut [f64; N_METRICS],
    ) {
        let v = self.rec.step::<EMIT>(b, i);
        if EMIT {
            write_recursive(&v, row);
        }
        let c = b.close[i];
        let close_ok = valid_price(c);
        let cs = self.close_run.update(close_ok, i);
        let vs = self.volume_run.update(valid_volume(b.volume[i]), i);
        if EMIT {
            let runs = Runs {
                close: cs,
                volume: vs,
                volume_before: self.prev_volume_run,
                dollar: match (cs, vs) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    _ => None,
                },
            };
            write_window_metrics(b, i, &runs, wanted, row);
        }
        self.prev_volume_run = vs;
        if !close_ok {
            self.window.clear();
            self.peaks.clear();
            return;
        }
        self.window.push(c);
        if self.window.len() > WINDOW_52W {
            self.window.pop_oldest();
        }
        while self.peaks.back().is_some_and(|&j| b.close[j] <= c) {
            self.peaks.pop_back();
        }
        self.peaks.push_back(i);
        let today = b.dates[i];
        while self
            .peaks
            .front()
            .is_some_and(|&j| b.dates[j] <= today - DRAWDOWN_DAYS)
        {
            self.peaks.pop_front();
        }
        if EMIT {
            let (high, low, ratio) = match self.window.query() {
                Some(a) if self.window.len() == WINDOW_52W => (a.max, a.min, a.ratio),
                _ => (f64::NAN, f64::NAN, f64::NAN),
            };
            let peak = self.peaks.front().map(|&j| (b.close[j], b.dates[j]));
            write_extremes(c, high, low, ratio, peak, today, row);
        }
    }
}

/// Every metric for every bar of `b`, written into `out[metric][bar]` (NaN = null).
pub fn compute_series(b: &SymbolBars<'_>, out: &mut [&mut [f64]]) {
    debug_assert_eq!(out.len(), N_METRICS);
    let mut walk = Walk::new();
    let mut row = [f64::NAN; N_METRICS];
    for i in 0..b.len() {
        row.fill(f64::NAN);
        walk.step::<true>(b, i, &ALL_METRICS, &mut row);
        for (col, &x) in out.iter_mut().zip(row.iter()) {
            col[i] = x;
        }
    }
}

/// The metrics at the bars `at` (strictly increasing indices into `b`), `out[k]` for bar
/// `at[k]` (NaN = null); bit-identical to [`compute_series`] at those bars for every
/// `wanted` metric ([`ALL_METRICS`] for all; the costlier window metrics not wanted are left
/// null).
///
/// For callers that need a few bars of a long history (a backtest's rebalance dates): the
/// recursive indicators and the sliding extremes still advance at every bar up to the last
/// of `at`, but the window metrics (returns, volume, volatility, gap) and the outputs are
/// computed at the requested bars only.
pub fn compute_at(
    b: &SymbolBars<'_>,
    at: &[usize],
    wanted: &[bool; N_METRICS],
    out: &mut [[f64; N_METRICS]],
) {
    debug_assert_eq!(at.len(), out.len());
    debug_assert!(at.windows(2).all(|w| w[0] < w[1]));
    let Some(&last) = at.last() else {
        return;
    };
    assert!(last < b.len(), "compute_at: bar {last} out of range");
    let mut walk = Walk::new();
    let mut unused = [f64::NAN; N_METRICS];
    let mut next = 0;
    for i in 0..=last {
        if at[next] == i {
            let mut row = [f64::NAN; N_METRICS];
            walk.step::<true>(b, i, wanted, &mut row);
            out[next] = row;
            next += 1;
        } else {
            walk.step::<false>(b, i, wanted, &mut unused);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::CarriedBars as Owned;
    use screener_test_support::rng::XorShift64;

    /// Bars from closes alone (open = close, high = close + 1, low = close - 0.5).
    fn from_closes(close: &[f64]) -> Owned {
        Owned {
            symbol: String::new(),
            dates: (0..close.len() as i32).collect(),
            open: close.to_vec(),
            high: close.iter().map(|c| c + 1.0).collect(),
            low: close.iter().map(|c| c - 0.5).collect(),
            close: close.to_vec(),
            volume: vec![1000.0; close.len()],
        }
    }

    /// Every metric at every bar of `bars`, `[metric][bar]`.
    fn series(bars: &Owned) -> Vec<Vec<f64>> {
        let n = bars.close.len();
        let mut cols = vec![vec![0.0; n]; N_METRICS];
        let mut slices: Vec<&mut [f64]> = cols.iter_mut().map(|c| c.as_mut_slice()).collect();
        compute_series(&bars.bars(), &mut slices);
        cols
    }

    /// Deterministic pseudo-random walk with gaps in the dates.
    fn walk(n: usize, seed: u64) -> Owned {
        let mut rng = XorShift64::new(seed);
        let mut next = move || rng.unit();
        let mut close = Vec::with_capacity(n);
        let mut dates = Vec::with_capacity(n);
        let mut price = 50.0;
        let mut day = 10_000;
        for _ in 0..n {
            price *= 1.0 + (next() - 0.5) * 0.06;
            close.push((price * 100.0f64).round() / 100.0);
            day += 1 + (next() * 3.0) as i32;
            dates.push(day);
        }
        let mut o = from_closes(&close);
        o.dates = dates;
        o.volume = (0..n).map(|_| (next() * 1e6).round()).collect();
        o.open = close
            .iter()
            .map(|c| c * (1.0 + (next() - 0.5) * 0.01))
            .collect();
        o
    }

    fn same(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
    }

    #[test]
    fn last_bar_mode_is_bit_identical_to_series_mode_at_every_prefix() {
        let mut o = walk(700, 42);
        // Breaks in the inputs exercise the restart paths.
        o.close[300] = f64::NAN;
        o.volume[320] = f64::INFINITY;
        o.high[10] = f64::NAN;
        let series = series(&o);
        for len in 1..=o.close.len() {
            let last = compute_last(&o.bars().prefix(len));
            for m in 0..N_METRICS {
                assert!(
                    same(last[m], series[m][len - 1]),
                    "{} at bar {}: last {} series {}",
                    INDICATOR_NAMES[m],
                    len - 1,
                    last[m],
                    series[m][len - 1]
                );
            }
        }
    }

    #[test]
    fn compute_at_is_bit_identical_to_series_mode_at_the_requested_bars() {
        let mut o = walk(700, 11);
        o.close[300] = f64::NAN;
        o.volume[320] = f64::INFINITY;
        o.high[10] = f64::NAN;
        let series = series(&o);
        let at: Vec<usize> = (0..o.close.len())
            .filter(|i| i % 7 == 3 || *i == 301)
            .collect();
        let mut rows = vec![[0.0; N_METRICS]; at.len()];
        compute_at(&o.bars(), &at, &ALL_METRICS, &mut rows);
        for (row, &i) in rows.iter().zip(&at) {
            for m in 0..N_METRICS {
                assert!(
                    same(row[m], series[m][i]),
                    "{} at bar {i}: at {} series {}",
                    INDICATOR_NAMES[m],
                    row[m],
                    series[m][i]
                );
            }
        }
        // Only some metrics wanted: those are still bit-identical, the costly others null.
        let mut wanted = [true; N_METRICS];
        wanted[VOLATILITY_20] = false;
        wanted[DOLLAR_VOLUME_20] = false;
        compute_at(&o.bars(), &at, &wanted, &mut rows);
        for (row, &i) in rows.iter().zip(&at) {
            for m in (0..N_METRICS).filter(|&m| wanted[m]) {
                assert!(same(row[m], series[m][i]), "{}", INDICATOR_NAMES[m]);
            }
            assert!(row[VOLATILITY_20].is_nan() && row[DOLLAR_VOLUME_20].is_nan());
        }
    }

    #[test]
    fn outputs_never_contain_infinities() {
        let mut o = walk(400, 7);
        o.close[50] = 0.0;
        o.close[60] = -3.0;
        o.close[70] = f64::INFINITY;
        o.volume[80] = f64::NAN;
        o.open[90] = f64::NAN;
        for col in series(&o) {
            assert!(col.iter().all(|x| x.is_nan() || x.is_finite()));
        }
    }
}
