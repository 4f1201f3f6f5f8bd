//! A sweep's variants ranked from their items' results (pure: no I/O): per walk-forward
//! window the in-sample and out-of-sample value of the ranking metric and the rank each
//! gives, whether the in-sample best stays best out of sample, and the out-of-sample equity
//! of each variant stitched across windows. `report::sweep` draws it; the CLI prints
//! [`ranking_table`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use screener_core::backtest::{ItemResult, Phase, SweepPlan, Variant};
use serde::{Deserialize, Serialize};

/// One variant's value in one period and its rank among the variants that have one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub value: Option<f64>,
    /// 1 = best; `None` when the item failed or its value is undefined.
    pub rank: Option<usize>,
}

/// A variant's line of the ranking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankedVariant {
    pub variant: Variant,
    pub label: String,
    /// Per window (index 0 = window 1; or the whole range): in-sample, then out-of-sample
    /// (the whole range has only `out_of_sample`, its one period).
    pub in_sample: Vec<Score>,
    pub out_of_sample: Vec<Score>,
    /// What the ranking sorts by: the mean out-of-sample value over the windows (every
    /// window needed), or the whole range's value.
    pub score: Option<f64>,
    pub rank: Option<usize>,
    /// Items of this variant that failed.
    pub failed_items: usize,
}

/// Per window: did the best in-sample variant stay best out of sample?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowVerdict {
    pub window: usize,
    pub in_sample: (NaiveDate, NaiveDate),
    pub out_of_sample: (NaiveDate, NaiveDate),
    pub best_in_sample: Option<String>,
    /// Its out-of-sample rank and of how many.
    pub its_out_of_sample_rank: Option<usize>,
    pub ranked_out_of_sample: usize,
    pub best_out_of_sample: Option<String>,
}

/// A failed work item, with the error its shard reported when known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedItem {
    pub item: String,
    pub variant: String,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Equity per variant: stitched out-of-sample windows, or the whole range.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepEquity {
    pub dates: Vec<NaiveDate>,
    /// Variant id -> value per date (`None` where its item failed).
    pub series: BTreeMap<String, Vec<Option<f64>>>,
    pub benchmark: Vec<Option<f64>>,
}

/// Everything `summary.json` holds, and the report and the table are drawn from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    pub sweep_id: String,
    /// The metric ranked by (`sharpe`, ...).
    pub rank_by: String,
    pub walk_forward: usize,
    pub periods: Vec<screener_core::backtest::Period>,
    /// Best first; variants without a score last, by id.
    pub ranking: Vec<RankedVariant>,
    pub windows: Vec<WindowVerdict>,
    pub items: usize,
    pub failed: Vec<FailedItem>,
    #[serde(skip)]
    pub equity: SweepEquity,
}

fn value_of(result: &ItemResult, field: &str) -> Option<f64> {
    result.metrics.get(field).and_then(|v| v.as_f64())
}

/// Ranks by value, highest first; ties by position (variant id order); `None` unranked.
fn ranks(values: &[Option<f64>]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    order.sort_by(|&a, &b| {
        values[b]
            .partial_cmp(&values[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut out = vec![None; values.len()];
    for (rank, i) in order.into_iter().enumerate() {
        out[i] = Some(rank + 1);
    }
    out
}

/// The sweep ranked from the results the shards wrote; `failed` are the plan's items
/// without a result.
pub fn summarize(
    plan: &SweepPlan,
    results: &[ItemResult],
    failed: Vec<FailedItem>,
) -> SweepSummary {
    let field = plan.request.rank_by.field();
    let by_item: BTreeMap<(&str, usize, Phase), &ItemResult> = results
        .iter()
        .map(|r| ((r.variant.as_str(), r.window, r.phase), r))
        .collect();
    let windows: Vec<usize> = if plan.request.walk_forward == 0 {
        vec![0]
    } else {
        (1..=plan.request.walk_forward).collect()
    };
    let n = plan.variants.len();
    let value = |v: &Variant, window: usize, phase: Phase| {
        by_item
            .get(&(v.id.as_str(), window, phase))
            .and_then(|r| value_of(r, field))
    };
    let mut in_sample: Vec<Vec<Score>> = vec![Vec::new(); n];
    let mut out_of_sample: Vec<Vec<Score>> = vec![Vec::new(); n];
    let mut verdicts = Vec::new();
    for &w in &windows {
        let (is_phase, oos_phase) = if w == 0 {
            (None, Phase::Full)
        } else {
            (Some(Phase::InSample), Phase::OutOfSample)
        };
        let oos: Vec<Option<f64>> = plan
            .variants
            .iter()
            .map(|v| value(v, w, oos_phase))
            .collect();
        let oos_ranks = ranks(&oos);
        for i in 0..n {
            out_of_sample[i].push(Score {
                value: oos[i],
                rank: oos_ranks[i],
            });
        }
        if let Some(phase) = is_phase {
            let is: Vec<Option<f64>> = plan.variants.iter().map(|v| value(v, w, phase)).collect();
            let is_ranks = ranks(&is);
            for i in 0..n {
                in_sample[i].push(Score {
                    value: is[i],
                    rank: is_ranks[i],
                });
            }
            let best_is = is_ranks.iter().position(|r| *r == Some(1));
            let best_oos = oos_ranks.iter().position(|r| *r == Some(1));
            let period = |phase: Phase| {
                plan.periods
                    .iter()
                    .find(|p| p.window == w && p.phase == phase)
                    .map(|p| (p.start, p.end))
                    .expect("the plan has both halves of every window")
            };
            verdicts.push(WindowVerdict {
                window: w,
                in_sample: period(Phase::InSample),
                out_of_sample: period(Phase::OutOfSample),
                best_in_sample: best_is.map(|i| plan.variants[i].id.clone()),
                its_out_of_sample_rank: best_is.and_then(|i| oos_ranks[i]),
                ranked_out_of_sample: oos.iter().filter(|v| v.is_some()).count(),
                best_out_of_sample: best_oos.map(|i| plan.variants[i].id.clone()),
            });
        }
    }
    let scores: Vec<Option<f64>> = out_of_sample
        .iter()
        .map(|s| {
            let values: Option<Vec<f64>> = s.iter().map(|s| s.value).collect();
            values.map(|v| v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    let overall = ranks(&scores);
    let failed_per_variant = |id: &str| failed.iter().filter(|f| f.variant == id).count();
    let mut ranking: Vec<RankedVariant> = plan
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| RankedVariant {
            variant: v.clone(),
            label: v.label(),
            in_sample: in_sample[i].clone(),
            out_of_sample: out_of_sample[i].clone(),
            score: scores[i],
            rank: overall[i],
            failed_items: failed_per_variant(&v.id),
        })
        .collect();
    ranking.sort_by_key(|r| (r.rank.unwrap_or(usize::MAX), r.variant.id.clone()));
    let equity = stitch(plan, &by_item, &windows);
    SweepSummary {
        sweep_id: plan.sweep_id.clone(),
        rank_by: field.into(),
        walk_forward: plan.request.walk_forward,
        periods: plan.periods.clone(),
        ranking,
        windows: verdicts,
        items: plan.items.len(),
        failed,
        equity,
    }
}

/// Each variant's out-of-sample equity, window after window, each window starting where the
/// last ended (the return between two windows' stretches is not in either); the benchmark
/// of the first variant with results likewise.
fn stitch(
    plan: &SweepPlan,
    by_item: &BTreeMap<(&str, usize, Phase), &ItemResult>,
    windows: &[usize],
) -> SweepEquity {
    let phase = |w: usize| {
        if w == 0 {
            Phase::Full
        } else {
            Phase::OutOfSample
        }
    };
    let mut dates: Vec<NaiveDate> = Vec::new();
    for &w in windows {
        if let Some(r) = plan
            .variants
            .iter()
            .find_map(|v| by_item.get(&(v.id.as_str(), w, phase(w))))
        {
            dates.extend(&r.equity_dates);
        }
    }
    dates.sort_unstable();
    dates.dedup();
    let position: BTreeMap<NaiveDate, usize> =
        dates.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let chain = |pick: &dyn Fn(&ItemResult) -> &[f64], variant: &str| -> Vec<Option<f64>> {
        let mut out = vec![None; dates.len()];
        let mut level = 1.0;
        for &w in windows {
            let Some(r) = by_item.get(&(variant, w, phase(w))) else {
                continue;
            };
            let values = pick(r);
            for (d, e) in r.equity_dates.iter().zip(values) {
                out[position[d]] = Some(level * e);
            }
            if let Some(last) = values.last() {
                level *= last;
            }
        }
        out
    };
    let mut series = BTreeMap::new();
    for v in &plan.variants {
        series.insert(v.id.clone(), chain(&|r: &ItemResult| &r.equity, &v.id));
    }
    let benchmark = plan
        .variants
        .iter()
        .find(|v| {
            windows
                .iter()
                .all(|&w| by_item.contains_key(&(v.id.as_str(), w, phase(w))))
        })
        .map(|v| chain(&|r: &ItemResult| &r.benchmark_equity, &v.id))
        .unwrap_or_else(|| vec![None; dates.len()]);
    SweepEquity {
        dates,
        series,
        benchmark,
    }
}

fn show(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3}"))
}

fn show_rank(r: Option<usize>) -> String {
    r.map_or("-".into(), |r| format!("#{r}"))
}

/// The ranking as a text table: best first, a column pair per window.
pub fn ranking_table(s: &SweepSummary) -> String {
    let mut header = vec![
        "rank".to_string(),
        "variant".into(),
        "screen".into(),
        "parameters".into(),
    ];
    if s.walk_forward == 0 {
        header.push(s.rank_by.clone());
    } else {
        for v in &s.windows {
            header.push(format!("w{} IS", v.window));
            header.push(format!("w{} OOS", v.window));
        }
        header.push(format!("mean OOS {}", s.rank_by));
    }
    let rows: Vec<Vec<String>> = s
        .ranking
        .iter()
        .map(|r| {
            let mut cells = vec![
                show_rank(r.rank),
                r.variant.id.clone(),
                r.variant.screen.clone(),
                r.label.clone(),
            ];
            if s.walk_forward == 0 {
                cells.push(show(r.score));
            } else {
                for (is, oos) in r.in_sample.iter().zip(&r.out_of_sample) {
                    cells.push(format!("{} {}", show(is.value), show_rank(is.rank)));
                    cells.push(format!("{} {}", show(oos.value), show_rank(oos.rank)));
                }
                cells.push(show(r.score));
            }
            cells
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if (1..4).contains(&i) {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = format!(
        "\n{} variants ranked by {}{}; {} of {} items failed\n\n",
        s.ranking.len(),
        if s.walk_forward == 0 {
            ""
        } else {
            "mean out-of-sample "
        },
        s.rank_by,
        s.failed.len(),
        s.items
    );
    out.push_str(&line(&header));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    for v in &s.windows {
        out.push_str(&format!(
            "window {}: best in-sample {} is {} of {} out of sample (best out of sample: {})\n",
            v.window,
            v.best_in_sample.as_deref().unwrap_or("-"),
            show_rank(v.its_out_of_sample_rank),
            v.ranked_out_of_sample,
            v.best_out_of_sample.as_deref().unwrap_or("-"),
        ));
    }
    out
}

/// `equity.csv`: `date,<variant>...,benchmark`, empty where an item failed.
pub fn equity_csv(s: &SweepSummary) -> String {
    let e = &s.equity;
    let mut out = String::from("date");
    for id in e.series.keys() {
        out.push(',');
        out.push_str(id);
    }
    out.push_str(",benchmark\n");
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    for (i, d) in e.dates.iter().enumerate() {
        out.push_str(&d.to_string());
        for series in e.series.values() {
            out.push(',');
            out.push_str(&cell(series[i]));
        }
        out.push(',');
        out.push_str(&cell(e.benchmark[i]));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_put_the_highest_first_and_leave_undefined_values_out() {
        assert_eq!(
            ranks(&[Some(0.5), None, Some(1.5), Some(0.5)]),
            vec![Some(2), None, Some(1), Some(3)]
        );
    }
}
