//! Statistics over an equity series (S7, S8): pure functions of the values, nothing about
//! orders. Conventions are empyrical-reloaded's: 252 sessions a year, returns from the
//! session after `t0`, the drawdown peak including `E[t0]`.

/// Sessions per year for annualisation, whatever the calendar gaps.
pub const ANNUALIZATION: f64 = 252.0;

/// The return statistics of S7 (NaN where undefined; written as null).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReturnStats {
    pub total_return: f64,
    pub cagr: f64,
    pub annual_volatility: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub max_drawdown: f64,
    pub calmar: f64,
}

/// `r_i = E_i / E_{i-1} - 1` for the sessions after the first.
pub fn returns(equity: &[f64]) -> Vec<f64> {
    equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (ddof = 1); NaN with fewer than two values.
fn std_ddof1(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (n - 1) as f64).sqrt()
}

/// The statistics of an equity series starting at `t0` (`equity[0] = E[t0]`).
pub fn return_stats(equity: &[f64]) -> ReturnStats {
    let r = returns(equity);
    let n = r.len();
    let first = equity[0];
    let last = *equity.last().expect("the equity series has t0");
    let total_return = last / first - 1.0;
    let cagr = if n == 0 {
        f64::NAN
    } else {
        let growth: f64 = r.iter().map(|x| 1.0 + x).product();
        growth.powf(ANNUALIZATION / n as f64) - 1.0
    };
    let std = std_ddof1(&r);
    let annual_volatility = std * ANNUALIZATION.sqrt();
    let sharpe = if std > 0.0 {
        mean(&r) / std * ANNUALIZATION.sqrt()
    } else {
        f64::NAN
    };
    let downside = if n == 0 {
        f64::NAN
    } else {
        let sq: Vec<f64> = r.iter().map(|&x| x.min(0.0) * x.min(0.0)).collect();
        mean(&sq).sqrt() * ANNUALIZATION.sqrt()
    };
    let sortino = if downside > 0.0 {
        mean(&r) * ANNUALIZATION / downside
    } else {
        f64::NAN
    };
    let mut peak = first;
    let mut max_drawdown = 0.0f64;
    for &e in equity {
        peak = peak.max(e);
        max_drawdown = max_drawdown.min(e / peak - 1.0);
    }
    let calmar = if max_drawdown < 0.0 {
        cagr / max_drawdown.abs()
    } else {
        f64::NAN
    };
    ReturnStats {
        total_return,
        cagr,
        annual_volatility,
        sharpe,
        sortino,
        max_drawdown,
        calmar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
    }

    #[test]
    fn a_loss_on_the_first_day_is_a_drawdown_from_the_starting_value() {
        // S8's example: returns -10%, +5%, +2% from 1.0.
        let e = [1.0, 0.9, 0.945, 0.9639];
        let s = return_stats(&e);
        assert!(close(s.max_drawdown, -0.1), "{}", s.max_drawdown);
        assert!(close(s.total_return, 0.9639 - 1.0));
        let cagr = 0.9639f64.powf(252.0 / 3.0) - 1.0;
        assert!(close(s.cagr, cagr), "{} {cagr}", s.cagr);
        assert!(close(s.calmar, cagr / 0.1));
    }

    #[test]
    fn a_flat_series_has_zero_volatility_and_null_ratios() {
        let s = return_stats(&[1.0; 10]);
        assert_eq!(s.total_return, 0.0);
        assert_eq!(s.cagr, 0.0);
        assert_eq!(s.annual_volatility, 0.0);
        assert_eq!(s.max_drawdown, 0.0);
        assert!(s.sharpe.is_nan() && s.sortino.is_nan() && s.calmar.is_nan());
    }

    #[test]
    fn sortino_uses_the_downside_of_all_returns() {
        let e = [1.0, 1.1, 0.99, 1.089];
        let r = returns(&e);
        let s = return_stats(&e);
        let dd = (r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / 3.0).sqrt() * 252f64.sqrt();
        let m = r.iter().sum::<f64>() / 3.0;
        assert!(close(s.sortino, m * 252.0 / dd));
    }
}
