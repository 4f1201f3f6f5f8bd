//! Metrics against hand-computed values on small series.

use crate::common::*;

#[test]
fn drawdown_180d_is_close_over_the_highest_close_of_the_last_180_calendar_days() {
    // 2024-01-01.. : peak 20 on day 2, then falls to 15 on day 4.
    let rows = "X,2024-01-01,10,11,9,10,1\n\
                X,2024-01-03,20,21,19,20,1\n\
                X,2024-01-04,18,19,17,18,1\n\
                X,2024-01-05,15,16,14,15,1\n";
    let df = indicators(rows);
    let dd = values(&df, "drawdown_180d");
    let days = values(&df, "days_since_peak_180d");
    assert_eq!(dd[0], Some(0.0));
    assert_eq!(days[0], Some(0.0));
    assert_eq!(dd[1], Some(0.0));
    assert!(close_to(dd[2], 18.0 / 20.0 - 1.0));
    assert_eq!(days[2], Some(1.0));
    assert!(close_to(dd[3], 15.0 / 20.0 - 1.0));
    assert_eq!(days[3], Some(2.0));
}

#[test]
fn the_180d_peak_leaves_the_window_after_180_calendar_days() {
    // A peak of 50 on 2024-01-01; 2024-06-29 is 180 days later, so the window starting
    // after 2024-01-01 no longer holds it.
    let rows = "Y,2024-01-01,50,51,49,50,1\n\
                Y,2024-01-02,40,41,39,40,1\n\
                Y,2024-06-28,30,31,29,30,1\n\
                Y,2024-06-29,30,31,29,30,1\n";
    let df = indicators(rows);
    let dd = values(&df, "drawdown_180d");
    let days = values(&df, "days_since_peak_180d");
    // 2024-06-28 is 179 days after the peak: still inside.
    assert!(close_to(dd[2], 30.0 / 50.0 - 1.0));
    assert_eq!(days[2], Some(179.0));
    // 2024-06-29: the peak is 180 days old, out; the high is 40 (2024-01-02, 179 days).
    assert!(close_to(dd[3], 30.0 / 40.0 - 1.0));
    assert_eq!(days[3], Some(179.0));
}

#[test]
fn days_since_peak_counts_from_the_latest_date_of_a_repeated_high() {
    let rows = "Z,2024-01-01,20,21,19,20,1\n\
                Z,2024-01-02,10,11,9,10,1\n\
                Z,2024-01-05,20,21,19,20,1\n\
                Z,2024-01-09,15,16,14,15,1\n";
    let df = indicators(rows);
    assert_eq!(values(&df, "days_since_peak_180d")[3], Some(4.0));
    assert!(close_to(values(&df, "drawdown_180d")[3], 15.0 / 20.0 - 1.0));
}
