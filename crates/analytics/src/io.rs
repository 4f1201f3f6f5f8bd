//! Reading bars (CSV, Parquet, frames) into the canonical bars frame, and writing results.
//!
//! The canonical bars frame has `symbol` (String), `date` (Date), `open`, `high`, `low`,
//! `close`, `volume` (Float64), and when present `vwap` (Float64) and `trade_count`
//! (Int64). Other columns are dropped.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::AnalyticsError;

pub(crate) const SYMBOL: &str = "symbol";
pub(crate) const DATE: &str = "date";
pub(crate) const PRICE_COLUMNS: [&str; 5] = ["open", "high", "low", "close", "volume"];
const VWAP: &str = "vwap";
const TRADE_COUNT: &str = "trade_count";
/// Required columns, in canonical order.
pub const BAR_COLUMNS: [&str; 7] = ["symbol", "date", "open", "high", "low", "close", "volume"];
const OPTIONAL_COLUMNS: [&str; 2] = [VWAP, TRADE_COUNT];

/// Where a frame came from, for error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin<'a> {
    pub name: &'a str,
    /// CSV read as text: report file lines too.
    pub csv: bool,
    /// Rows of the input before this frame (when it is read in batches).
    pub row_offset: usize,
}

impl<'a> Origin<'a> {
    pub fn frame(name: &'a str) -> Self {
        Origin {
            name,
            csv: false,
            row_offset: 0,
        }
    }
}

impl Origin<'_> {
    fn bad_value(&self, row0: usize, column: &str, value: &str, problem: &str) -> AnalyticsError {
        let row0 = row0 + self.row_offset;
        if self.csv {
            AnalyticsError::BadCsvValue {
                input: self.name.to_string(),
                row: row0 + 1,
                line: row0 + 2,
                column: column.to_string(),
                value: value.to_string(),
                problem: problem.to_string(),
            }
        } else {
            AnalyticsError::BadValue {
                input: self.name.to_string(),
                row: row0 + 1,
                column: column.to_string(),
                value: value.to_string(),
                problem: problem.to_string(),
            }
        }
    }
}

/// Reads bars from CSV bytes: header `symbol,date,open,high,low,close,volume[,vwap,trade_count]`,
/// dates `YYYY-MM-DD`, empty cells are nulls.
pub fn read_bars_csv_frame(bytes: &[u8]) -> Result<DataFrame, AnalyticsError> {
    read_bars_csv_named(bytes, "CSV input")
}

pub(crate) fn read_bars_csv_named(bytes: &[u8], name: &str) -> Result<DataFrame, AnalyticsError> {
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
        .map_err(AnalyticsError::polars(format!("{name}: cannot read CSV")))?;
    normalize_bars(
        df,
        Origin {
            name,
            csv: true,
            row_offset: 0,
        },
    )
}

/// Reads bars from a `.csv`, `.csv.gz` or `.parquet` file. In Parquet, `date` may be a Date, a
/// timestamp (its UTC calendar day is used) or a `YYYY-MM-DD` string.
pub fn read_bars(path: &Path) -> Result<DataFrame, AnalyticsError> {
    let name = path.display().to_string();
    match extension(path).as_deref() {
        Some("csv" | "csv.gz") => read_bars_csv_named(&read_csv_file(path)?, &name),
        Some("parquet") | Some("pq") => {
            let file = File::open(path).map_err(|source| AnalyticsError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            read_bars_parquet_from(file, &name)
        }
        _ => Err(AnalyticsError::UnsupportedFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// The text of a `.csv` file, or of a `.csv.gz` file decompressed.
pub fn read_csv_file(path: &Path) -> Result<Vec<u8>, AnalyticsError> {
    let io_error = |source| AnalyticsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io_error)?;
    if extension(path).as_deref() != Some("csv.gz") {
        return Ok(bytes);
    }
    let mut text = Vec::with_capacity(bytes.len() * 4);
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .map_err(io_error)?;
    Ok(text)
}

/// Reads bars from Parquet bytes.
pub fn read_bars_parquet_frame(bytes: &[u8]) -> Result<DataFrame, AnalyticsError> {
    read_bars_parquet_from(Cursor::new(bytes), "Parquet input")
}

pub(crate) fn read_bars_parquet_from<R: polars::io::mmap::MmapBytesReader>(
    reader: R,
    name: &str,
) -> Result<DataFrame, AnalyticsError> {
    let mut reader = ParquetReader::new(reader);
    let schema = reader.schema().map_err(AnalyticsError::polars(format!(
        "{name}: cannot read Parquet"
    )))?;
    // Read only the columns we use.
    let wanted: Vec<String> = BAR_COLUMNS
        .iter()
        .chain(OPTIONAL_COLUMNS.iter())
        .filter(|c| schema.contains(c))
        .map(|c| c.to_string())
        .collect();
    let df = reader
        .with_columns(Some(wanted))
        .finish()
        .map_err(AnalyticsError::polars(format!(
            "{name}: cannot read Parquet"
        )))?;
    normalize_bars(df, Origin::frame(name))
}

/// The file type by extension, lowercase: `csv`, `csv.gz`, `parquet`, ...
pub(crate) fn extension(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let stem_ext = Path::new(path.file_stem()?)
        .extension()
        .and_then(|e| e.to_str());
    match stem_ext {
        Some(inner) if ext == "gz" && inner.eq_ignore_ascii_case("csv") => Some("csv.gz".into()),
        _ => Some(ext),
    }
}

/// Checks and converts a bars frame to the canonical schema.
pub(crate) fn normalize_bars(
    df: DataFrame,
    origin: Origin<'_>,
) -> Result<DataFrame, AnalyticsError> {
    let present: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    for required in BAR_COLUMNS {
        if !present.iter().any(|c| c == required) {
            return Err(AnalyticsError::MissingColumn {
                input: origin.name.to_string(),
                column: required.to_string(),
                present: if present.is_empty() {
                    "none".to_string()
                } else {
                    present.join(", ")
                },
            });
        }
    }
    let height = df.height();
    // Convert one column at a time, dropping each original once converted, so that at
    // most one extra column is alive; every column ends up in one chunk.
    let mut originals: Vec<Column> = df.into_columns();
    let mut take = |name: &str| -> Option<Column> {
        let k = originals.iter().position(|c| c.name().as_str() == name)?;
        Some(originals.swap_remove(k))
    };
    let mut columns = Vec::with_capacity(BAR_COLUMNS.len() + OPTIONAL_COLUMNS.len());
    columns.push(single_chunk(symbol_column(
        take(SYMBOL).expect("checked"),
        origin,
    )?));
    columns.push(single_chunk(date_column(
        take(DATE).expect("checked"),
        origin,
    )?));
    for name in PRICE_COLUMNS.iter().chain(std::iter::once(&VWAP)) {
        if let Some(col) = take(name) {
            columns.push(single_chunk(float_column(col, origin)?));
        }
    }
    if let Some(col) = take(TRADE_COUNT) {
        columns.push(single_chunk(int_column(col, origin)?));
    }
    drop(originals);
    DataFrame::new(height, columns).map_err(AnalyticsError::polars(origin.name.to_string()))
}

fn single_chunk(col: Column) -> Column {
    if col.n_chunks() > 1 {
        col.rechunk()
    } else {
        col
    }
}

fn type_error(
    origin: Origin<'_>,
    column: &str,
    found: &DataType,
    expected: &str,
) -> AnalyticsError {
    AnalyticsError::BadColumnType {
        input: origin.name.to_string(),
        column: column.to_string(),
        found: found.to_string(),
        expected: expected.to_string(),
    }
}

fn symbol_column(col: Column, origin: Origin<'_>) -> Result<Column, AnalyticsError> {
    if col.dtype() != &DataType::String {
        return Err(type_error(origin, SYMBOL, col.dtype(), "string"));
    }
    let ca = col.str().expect("dtype checked");
    if ca.null_count() > 0 {
        let row = ca.iter().position(|v| v.is_none()).unwrap_or(0);
        return Err(origin.bad_value(row, SYMBOL, "", "missing symbol"));
    }
    if let Some(row) = ca
        .iter()
        .position(|v| v.is_some_and(|s| s.bytes().all(|b| b.is_ascii_whitespace())))
    {
        return Err(origin.bad_value(row, SYMBOL, "", "empty symbol"));
    }
    Ok(col)
}

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Some(v)
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    Some(days_since_epoch(date))
}

pub(crate) fn days_since_epoch(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

pub(crate) fn date_from_days(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE).unwrap_or(NaiveDate::MIN)
}

fn date_column(col: Column, origin: Origin<'_>) -> Result<Column, AnalyticsError> {
    let out = match col.dtype() {
        DataType::Date => col,
        DataType::Datetime(_, _) => {
            col.cast(&DataType::Date)
                .map_err(AnalyticsError::polars(format!(
                    "{}: column `date`",
                    origin.name
                )))?
        }
        DataType::String => {
            let ca = col.str().expect("dtype checked");
            let mut days = Vec::with_capacity(ca.len());
            for (row, v) in ca.iter().enumerate() {
                match v {
                    None => return Err(origin.bad_value(row, DATE, "", "missing date")),
                    Some(s) => match parse_date(s.trim()) {
                        Some(d) => days.push(d),
                        None => {
                            return Err(origin.bad_value(
                                row,
                                DATE,
                                s,
                                "not a valid date in YYYY-MM-DD form",
                            ));
                        }
                    },
                }
            }
            Int32Chunked::from_vec(DATE.into(), days)
                .into_date()
                .into_column()
        }
        other => {
            return Err(type_error(
                origin,
                DATE,
                other,
                "date, timestamp or YYYY-MM-DD string",
            ));
        }
    };
    if out.null_count() > 0 {
        let ca = out.date().expect("date");
        let row = ca.phys.iter().position(|v| v.is_none()).unwrap_or(0);
        return Err(origin.bad_value(row, DATE, "", "missing date"));
    }
    Ok(out)
}

fn float_column(col: Column, origin: Origin<'_>) -> Result<Column, AnalyticsError> {
    let name = col.name().to_string();
    let name = name.as_str();
    match col.dtype() {
        DataType::Float64 => Ok(col),
        dt if dt.is_primitive_numeric() => {
            col.cast(&DataType::Float64)
                .map_err(AnalyticsError::polars(format!(
                    "{}: column `{name}`",
                    origin.name
                )))
        }
        DataType::String => {
            let ca = col.str().expect("dtype checked");
            let mut values = Vec::with_capacity(ca.len());
            for (row, v) in ca.iter().enumerate() {
                values.push(match v.map(str::trim) {
                    None | Some("") => None,
                    Some(s) => match s.parse::<f64>() {
                        Ok(x) => Some(x),
                        Err(_) => return Err(origin.bad_value(row, name, s, "not a number")),
                    },
                });
            }
            Ok(Float64Chunked::from_iter_options(name.into(), values.into_iter()).into_column())
        }
        other => Err(type_error(origin, name, other, "number")),
    }
}

fn int_column(col: Column, origin: Origin<'_>) -> Result<Column, AnalyticsError> {
    let name = col.name().to_string();
    let name = name.as_str();
    match col.dtype() {
        DataType::Int64 => Ok(col),
        dt if dt.is_integer() => {
            col.cast(&DataType::Int64)
                .map_err(AnalyticsError::polars(format!(
                    "{}: column `{name}`",
                    origin.name
                )))
        }
        DataType::String => {
            let ca = col.str().expect("dtype checked");
            let mut values = Vec::with_capacity(ca.len());
            for (row, v) in ca.iter().enumerate() {
                values.push(match v.map(str::trim) {
                    None | Some("") => None,
                    Some(s) => match s.parse::<i64>() {
                        Ok(x) => Some(x),
                        Err(_) => {
                            return Err(origin.bad_value(row, name, s, "not a whole number"));
                        }
                    },
                });
            }
            Ok(Int64Chunked::from_iter_options(name.into(), values.into_iter()).into_column())
        }
        other => Err(type_error(origin, name, other, "whole number")),
    }
}

/// Writes a frame as CSV: header, dates `YYYY-MM-DD`, floats in the shortest form that
/// reads back to the same value, nulls as empty cells.
pub fn write_csv(df: &mut DataFrame) -> Result<Vec<u8>, AnalyticsError> {
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .with_date_format(Some("%Y-%m-%d".into()))
        .with_float_precision(None)
        .with_null_value("".into())
        .finish(df)
        .map_err(AnalyticsError::polars("writing CSV"))?;
    Ok(buf)
}

/// Writes a frame as Parquet (zstd-compressed, with statistics).
pub fn write_parquet(df: &mut DataFrame) -> Result<Vec<u8>, AnalyticsError> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .finish(df)
        .map_err(AnalyticsError::polars("writing Parquet"))?;
    Ok(buf)
}

/// Writes a frame to `path` as CSV or Parquet by its extension.
pub fn write_frame(df: &mut DataFrame, path: &Path) -> Result<(), AnalyticsError> {
    let bytes = match extension(path).as_deref() {
        Some("csv") => write_csv(df)?,
        Some("parquet") | Some("pq") => write_parquet(df)?,
        _ => {
            return Err(AnalyticsError::UnsupportedFormat {
                path: path.to_path_buf(),
            });
        }
    };
    std::fs::write(path, bytes).map_err(|source| AnalyticsError::Io {
        path: path.to_path_buf(),
        source,
    })
}
