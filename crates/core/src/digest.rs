//! A published run in brief, `results/date=YYYY-MM-DD/digest.json`: which symbols passed each
//! screen (in rank order) and where the run's valid bars are. Publish writes it beside the
//! manifest so that pages looking across many runs (the dashboard's symbol and history pages)
//! read one small file per run instead of each run's whole `results.csv`.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::results::ResultsTable;

/// The digest's file name under the run's results prefix.
pub const DIGEST_FILE: &str = "digest.json";

/// One batch of the run's valid bars (`chart-bars/date=D/<run id>/batch-NNNN.csv`, see
/// [`crate::workflow::keys::chart_bars`]) and the range of symbols in it, so that one symbol's
/// bars are found without opening every batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarBatch {
    pub key: String,
    pub first: String,
    pub last: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDigest {
    pub date: NaiveDate,
    pub run_id: String,
    pub synthetic: bool,
    pub screened: u32,
    /// Screen name -> the symbols passing it, best rank first.
    pub passing: BTreeMap<String, Vec<String>>,
    /// Where the bars of the run are (kept under `chart-bars/`, expired by their own lifecycle
    /// rule; digests written before those existed point at `runs/<id>/valid/*.parquet`, gone
    /// after 14 days, which the dashboard treats as bars no longer kept).
    #[serde(default)]
    pub bar_batches: Vec<BarBatch>,
}

impl RunDigest {
    /// The digest of a run from its published `results.csv`.
    pub fn from_results(
        date: NaiveDate,
        run_id: &str,
        synthetic: bool,
        table: &ResultsTable,
        bar_batches: Vec<BarBatch>,
    ) -> Self {
        let passing = table
            .screens
            .iter()
            .map(|(name, _, _)| {
                let symbols = table
                    .passing(name)
                    .into_iter()
                    .map(|row| table.symbols[row].clone())
                    .collect();
                (name.clone(), symbols)
            })
            .collect();
        RunDigest {
            date,
            run_id: run_id.to_string(),
            synthetic,
            screened: table.len() as u32,
            passing,
            bar_batches,
        }
    }

    /// The screens `symbol` passed in this run.
    pub fn screens_passed(&self, symbol: &str) -> Vec<&str> {
        self.passing
            .iter()
            .filter(|(_, symbols)| symbols.iter().any(|s| s == symbol))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The symbols that entered and that left `screen`'s passing list since the run `before`,
    /// each sorted. With sets, so a year of runs of a screen passing thousands of symbols is
    /// compared in linear time.
    pub fn changes_since<'a>(
        &'a self,
        before: &'a RunDigest,
        screen: &str,
    ) -> (Vec<&'a str>, Vec<&'a str>) {
        static NONE: Vec<String> = Vec::new();
        let now = self.passing.get(screen).unwrap_or(&NONE);
        let then = before.passing.get(screen).unwrap_or(&NONE);
        let not_in = |list: &'a [String], other: &'a [String]| {
            let other: HashSet<&str> = other.iter().map(String::as_str).collect();
            let mut out: Vec<&str> = list
                .iter()
                .map(String::as_str)
                .filter(|s| !other.contains(s))
                .collect();
            out.sort_unstable();
            out
        };
        (not_in(now, then), not_in(then, now))
    }

    /// The batches whose symbol range holds `symbol` (one when the universe was batched in
    /// symbol order, as FetchUniverse does).
    pub fn batches_for(&self, symbol: &str) -> impl Iterator<Item = &BarBatch> {
        self.bar_batches
            .iter()
            .filter(move |b| b.first.as_str() <= symbol && symbol <= b.last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "symbol,date,close,pass_a,rank_a,pass_b,rank_b\n\
        AAA,2025-06-13,10,true,2,false,\n\
        BBB,2025-06-13,20,true,1,true,1\n\
        CCC,2025-06-13,30,false,,false,\n";

    #[test]
    fn a_digest_lists_each_screens_passing_symbols_in_rank_order() {
        let table = ResultsTable::parse(CSV.as_bytes()).unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        let batches = vec![BarBatch {
            key: "runs/r/valid/batch-0000.parquet".into(),
            first: "AAA".into(),
            last: "BBB".into(),
        }];
        let digest = RunDigest::from_results(date, "r", true, &table, batches);
        assert_eq!(digest.passing["a"], vec!["BBB", "AAA"]);
        assert_eq!(digest.passing["b"], vec!["BBB"]);
        assert_eq!(digest.screens_passed("BBB"), vec!["a", "b"]);
        assert!(digest.screens_passed("CCC").is_empty());
        assert_eq!(digest.batches_for("AAB").count(), 1);
        assert_eq!(digest.batches_for("CCC").count(), 0);
        let text = serde_json::to_string(&digest).unwrap();
        assert_eq!(serde_json::from_str::<RunDigest>(&text).unwrap(), digest);
    }

    #[test]
    fn changes_between_runs_are_the_symbols_that_entered_and_left() {
        let date = NaiveDate::from_ymd_opt(2025, 6, 13).unwrap();
        let digest = |passing: &[&str]| RunDigest {
            date,
            run_id: "r".into(),
            synthetic: true,
            screened: 5,
            passing: BTreeMap::from([(
                "a".to_string(),
                passing.iter().map(|s| s.to_string()).collect(),
            )]),
            bar_batches: Vec::new(),
        };
        let before = digest(&["CCC", "AAA", "BBB"]);
        let now = digest(&["DDD", "BBB", "AAB"]);
        assert_eq!(
            now.changes_since(&before, "a"),
            (vec!["AAB", "DDD"], vec!["AAA", "CCC"])
        );
        assert_eq!(
            now.changes_since(&before, "missing"),
            (Vec::<&str>::new(), Vec::<&str>::new())
        );
    }
}
