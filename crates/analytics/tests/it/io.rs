//! Reading bars and writing results.

use screener_analytics::read_bars_csv;

use crate::common::*;

#[test]
fn text_in_a_number_column_names_the_row_line_column_and_value() {
    let csv = format!("{HEADER}A,2024-01-02,1,2,0.5,1.5,100\nA,2024-01-03,1,2,0.5,abc,100\n");
    let err = read_bars_csv(csv.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("row 2 (line 3"), "{err}");
    assert!(err.contains("column `close`"), "{err}");
    assert!(err.contains("`abc`"), "{err}");
}

#[test]
fn an_unparsable_date_is_refused_with_its_row() {
    let csv = format!("{HEADER}A,2024-13-02,1,2,0.5,1.5,100\n");
    let err = read_bars_csv(csv.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("row 1 (line 2"), "{err}");
    assert!(err.contains("column `date`"), "{err}");
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}

#[test]
fn a_missing_column_is_named() {
    let csv = "symbol,date,open,high,low,volume\nA,2024-01-02,1,2,0.5,100\n";
    let err = read_bars_csv(csv.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("missing required column `close`"), "{err}");
}
