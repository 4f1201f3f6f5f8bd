//! Bars as Parquet: the columnar form in which validate hands a batch's bars to Screen
//! (decoded there by polars), and in which the dashboard's `web` Lambda reads one symbol's bars
//! for its chart (publish's charts come from Screen's `charts.json` instead).
//!
//! One fixed schema, `symbol` (UTF-8), `date` (DATE), `open`..`volume` (DOUBLE), `vwap`
//! (optional DOUBLE), `trade_count` (optional INT64), written in the subset of the format every
//! reader supports: PLAIN values, uncompressed, data pages v1, row groups of
//! [`ROWS_PER_GROUP`]. It is written here, in a few hundred lines, because the Parquet
//! libraries (arrow-rs, polars) would each add megabytes to validate's and publish's Lambda
//! packages, which are budgeted at 5 MB zipped. The reader reads what the writer writes and
//! refuses, by name, anything else (compression, dictionary pages, other columns' types).

pub mod thrift;

use chrono::{Datelike, NaiveDate};

use screener_core::bar::{Bar, BarsBySymbol};
use screener_core::symbol::Symbol;
use thrift::{ThriftError, Value, Writer, push_varint};

/// The content type the store records for these files.
pub const CONTENT_TYPE: &str = "application/vnd.apache.parquet";

/// Rows per row group: a batch of 100 symbols x 1 year fits in one; bigger inputs are split
/// so that no page nears the format's 2 GiB page limit.
pub const ROWS_PER_GROUP: usize = 1 << 17;

const MAGIC: &[u8; 4] = b"PAR1";

// Parquet's enums, as the format's Thrift definition numbers them.
const INT32: i64 = 1;
const INT64: i64 = 2;
const DOUBLE: i64 = 5;
const BYTE_ARRAY: i64 = 6;
const REQUIRED: i32 = 0;
const OPTIONAL: i32 = 1;
const CONVERTED_UTF8: i32 = 0;
const CONVERTED_DATE: i32 = 6;
const LOGICAL_STRING: i16 = 1;
const LOGICAL_DATE: i16 = 6;
const ENCODING_PLAIN: i32 = 0;
const ENCODING_RLE: i32 = 3;
const CODEC_UNCOMPRESSED: i64 = 0;
const PAGE_DATA: i64 = 0;

struct ColumnSpec {
    name: &'static str,
    physical: i64,
    required: bool,
    converted: Option<(i32, i16)>,
}

const COLUMNS: [ColumnSpec; 9] = [
    ColumnSpec::new(
        "symbol",
        BYTE_ARRAY,
        true,
        Some((CONVERTED_UTF8, LOGICAL_STRING)),
    ),
    ColumnSpec::new("date", INT32, true, Some((CONVERTED_DATE, LOGICAL_DATE))),
    ColumnSpec::new("open", DOUBLE, true, None),
    ColumnSpec::new("high", DOUBLE, true, None),
    ColumnSpec::new("low", DOUBLE, true, None),
    ColumnSpec::new("close", DOUBLE, true, None),
    ColumnSpec::new("volume", DOUBLE, true, None),
    ColumnSpec::new("vwap", DOUBLE, false, None),
    ColumnSpec::new("trade_count", INT64, false, None),
];

impl ColumnSpec {
    const fn new(
        name: &'static str,
        physical: i64,
        required: bool,
        converted: Option<(i32, i16)>,
    ) -> Self {
        ColumnSpec {
            name,
            physical,
            required,
            converted,
        }
    }
}

fn physical_name(physical: i64) -> &'static str {
    match physical {
        0 => "BOOLEAN",
        INT32 => "INT32",
        INT64 => "INT64",
        3 => "INT96",
        4 => "FLOAT",
        DOUBLE => "DOUBLE",
        BYTE_ARRAY => "BYTE_ARRAY",
        7 => "FIXED_LEN_BYTE_ARRAY",
        _ => "an unknown type",
    }
}

/// 1970-01-01 counted from 0001-01-01, the base `chrono` counts from.
const EPOCH_FROM_CE: i32 = 719_163;

fn days_since_epoch(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - EPOCH_FROM_CE
}

/// Writes bars, symbol by symbol in the map's order, each symbol's bars in their order.
pub fn write_bars_parquet(bars: &BarsBySymbol) -> Vec<u8> {
    let rows: Vec<(&Symbol, &Bar)> = bars
        .iter()
        .flat_map(|(symbol, list)| list.iter().map(move |bar| (symbol, bar)))
        .collect();
    let mut out = Vec::with_capacity(64 * rows.len() + 1024);
    out.extend_from_slice(MAGIC);
    let mut groups = Vec::new();
    for group in rows.chunks(ROWS_PER_GROUP) {
        let mut chunks = Vec::with_capacity(COLUMNS.len());
        for (index, spec) in COLUMNS.iter().enumerate() {
            let body = column_page_body(index, spec, group);
            let header = page_header(group.len(), body.len());
            let offset = out.len();
            out.extend_from_slice(&header);
            out.extend_from_slice(&body);
            chunks.push(ChunkMeta {
                offset,
                size: header.len() + body.len(),
            });
        }
        groups.push((group.len(), chunks));
    }
    let footer = file_metadata(rows.len(), &groups);
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(MAGIC);
    out
}

struct ChunkMeta {
    offset: usize,
    size: usize,
}

/// One data page holding a whole column chunk: definition levels for optional columns, then
/// the PLAIN-encoded non-null values.
fn column_page_body(index: usize, spec: &ColumnSpec, rows: &[(&Symbol, &Bar)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(rows.len() * 9 + 16);
    match index {
        0 => {
            for (symbol, _) in rows {
                let s = symbol.as_str().as_bytes();
                body.extend_from_slice(&(s.len() as u32).to_le_bytes());
                body.extend_from_slice(s);
            }
        }
        1 => {
            for (_, bar) in rows {
                body.extend_from_slice(&days_since_epoch(bar.date).to_le_bytes());
            }
        }
        2..=6 => {
            let field: fn(&Bar) -> f64 = match index {
                2 => |b| b.open,
                3 => |b| b.high,
                4 => |b| b.low,
                5 => |b| b.close,
                _ => |b| b.volume,
            };
            for (_, bar) in rows {
                body.extend_from_slice(&field(bar).to_le_bytes());
            }
        }
        7 => {
            write_levels(&mut body, rows.iter().map(|(_, b)| b.vwap.is_some()));
            for v in rows.iter().filter_map(|(_, b)| b.vwap) {
                body.extend_from_slice(&v.to_le_bytes());
            }
        }
        _ => {
            debug_assert_eq!(spec.name, "trade_count");
            write_levels(&mut body, rows.iter().map(|(_, b)| b.trade_count.is_some()));
            for v in rows.iter().filter_map(|(_, b)| b.trade_count) {
                // Counts past i64::MAX do not occur; saturate rather than wrap if one did.
                let v = i64::try_from(v).unwrap_or(i64::MAX);
                body.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    body
}

/// Definition levels (1 = present, 0 = null) as RLE runs of the RLE/bit-packing hybrid at
/// bit width 1, preceded by their byte length, as data pages v1 carry them.
fn write_levels(body: &mut Vec<u8>, present: impl Iterator<Item = bool>) {
    let start = body.len();
    body.extend_from_slice(&[0; 4]);
    let mut run: Option<(bool, u64)> = None;
    let flush = |body: &mut Vec<u8>, (value, len): (bool, u64)| {
        push_varint(body, len << 1);
        body.push(u8::from(value));
    };
    for p in present {
        run = match run {
            Some((value, len)) if value == p => Some((value, len + 1)),
            Some(done) => {
                flush(body, done);
                Some((p, 1))
            }
            None => Some((p, 1)),
        };
    }
    if let Some(done) = run {
        flush(body, done);
    }
    let len = (body.len() - start - 4) as u32;
    body[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

fn page_header(values: usize, body_len: usize) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(1, PAGE_DATA as i32);
    w.i32(2, body_len as i32);
    w.i32(3, body_len as i32);
    w.begin_struct(5);
    w.i32(1, values as i32);
    w.i32(2, ENCODING_PLAIN);
    w.i32(3, ENCODING_RLE);
    w.i32(4, ENCODING_RLE);
    w.end_struct();
    w.finish()
}

fn file_metadata(rows: usize, groups: &[(usize, Vec<ChunkMeta>)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(1, 1);
    w.begin_list(2, thrift::STRUCT, COLUMNS.len() + 1);
    w.begin_list_struct();
    w.binary(4, b"schema");
    w.i32(5, COLUMNS.len() as i32);
    w.end_struct();
    for spec in &COLUMNS {
        w.begin_list_struct();
        w.i32(1, spec.physical as i32);
        w.i32(3, if spec.required { REQUIRED } else { OPTIONAL });
        w.binary(4, spec.name.as_bytes());
        if let Some((converted, logical)) = spec.converted {
            w.i32(6, converted);
            w.begin_struct(10);
            w.begin_struct(logical); // an empty StringType / DateType
            w.end_struct();
            w.end_struct();
        }
        w.end_struct();
    }
    w.i64(3, rows as i64);
    w.begin_list(4, thrift::STRUCT, groups.len());
    for (group_rows, chunks) in groups {
        let bytes: usize = chunks.iter().map(|c| c.size).sum();
        w.begin_list_struct();
        w.begin_list(1, thrift::STRUCT, chunks.len());
        for (spec, chunk) in COLUMNS.iter().zip(chunks) {
            w.begin_list_struct();
            w.i64(2, chunk.offset as i64);
            w.begin_struct(3);
            w.i32(1, spec.physical as i32);
            w.begin_list(2, thrift::I32, 2);
            w.list_i32(ENCODING_PLAIN);
            w.list_i32(ENCODING_RLE);
            w.begin_list(3, thrift::BINARY, 1);
            w.list_binary(spec.name.as_bytes());
            w.i32(4, CODEC_UNCOMPRESSED as i32);
            w.i64(5, *group_rows as i64);
            w.i64(6, chunk.size as i64);
            w.i64(7, chunk.size as i64);
            w.i64(9, chunk.offset as i64);
            w.end_struct();
            w.end_struct();
        }
        w.i64(2, bytes as i64);
        w.i64(3, *group_rows as i64);
        w.i64(5, chunks.first().map_or(0, |c| c.offset) as i64);
        w.i64(6, bytes as i64);
        w.end_struct();
    }
    w.binary(
        6,
        concat!("screener-core ", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    w.finish()
}

#[derive(Debug, thiserror::Error)]
pub enum BarsParquetError {
    #[error("bars Parquet: {0}")]
    Invalid(String),
    #[error("bars Parquet metadata: {0}")]
    Thrift(#[from] ThriftError),
}

fn invalid<T>(message: impl Into<String>) -> Result<T, BarsParquetError> {
    Err(BarsParquetError::Invalid(message.into()))
}

/// One decoded cell; `Null` only in optional columns.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Null,
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
}

/// Reads bars written by [`write_bars_parquet`]. Errors name the column or row and the problem.
pub fn read_bars_parquet(bytes: &[u8]) -> Result<BarsBySymbol, BarsParquetError> {
    if bytes.len() < 12 || &bytes[..4] != MAGIC || &bytes[bytes.len() - 4..] != MAGIC {
        return invalid("not a Parquet file (no PAR1 magic at its start and end)");
    }
    let footer_len =
        u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap()) as usize;
    let Some(footer_start) = (bytes.len() - 8)
        .checked_sub(footer_len)
        .filter(|&s| s >= 4)
    else {
        return invalid(format!(
            "footer length {footer_len} is longer than the file"
        ));
    };
    let (meta, _) = thrift::read_struct(&bytes[footer_start..bytes.len() - 8])?;

    let schema = meta.list(2).unwrap_or_default();
    let leaves = schema.get(1..).unwrap_or_default();
    // Where each expected column is among the file's leaves, and whether it may hold nulls.
    let mut found: Vec<Option<(usize, bool)>> = Vec::with_capacity(COLUMNS.len());
    for spec in &COLUMNS {
        let position = leaves
            .iter()
            .position(|leaf| leaf.binary(4) == Some(spec.name.as_bytes()));
        let Some(position) = position else {
            if spec.required {
                return invalid(format!("missing column {:?}", spec.name));
            }
            found.push(None);
            continue;
        };
        let leaf = &leaves[position];
        let physical = leaf.int(1).unwrap_or(-1);
        if physical != spec.physical {
            return invalid(format!(
                "column {:?} is {}, expected {}",
                spec.name,
                physical_name(physical),
                physical_name(spec.physical)
            ));
        }
        found.push(Some((position, leaf.int(3) == Some(i64::from(OPTIONAL)))));
    }

    let mut out = BarsBySymbol::new();
    let mut row_base = 0usize;
    for group in meta.list(4).unwrap_or_default() {
        let rows = usize::try_from(group.int(3).unwrap_or(-1))
            .or_else(|_| invalid("a row group without a row count"))?;
        // Every row takes bytes in the file: a larger count is corruption, not a reason to allocate.
        if rows > bytes.len() {
            return invalid(format!(
                "a row group claims {rows} rows, more than the file can hold"
            ));
        }
        let chunks = group.list(1).unwrap_or_default();
        let mut columns: Vec<Option<Vec<Cell<'_>>>> = Vec::with_capacity(COLUMNS.len());
        for (spec, place) in COLUMNS.iter().zip(&found) {
            let Some((position, nullable)) = *place else {
                columns.push(None);
                continue;
            };
            let Some(chunk) = chunks.get(position) else {
                return invalid(format!("row group without column {:?}", spec.name));
            };
            let cells = read_column_chunk(bytes, chunk, spec, nullable, rows)?;
            columns.push(Some(cells));
        }
        assemble_rows(&columns, rows, row_base, &mut out)?;
        row_base += rows;
    }
    Ok(out)
}

fn read_column_chunk<'a>(
    bytes: &'a [u8],
    chunk: &Value,
    spec: &ColumnSpec,
    nullable: bool,
    rows: usize,
) -> Result<Vec<Cell<'a>>, BarsParquetError> {
    let name = spec.name;
    let Some(meta) = chunk.field(3) else {
        return invalid(format!("column {name:?} has no metadata"));
    };
    let codec = meta.int(4).unwrap_or(-1);
    if codec != CODEC_UNCOMPRESSED {
        return invalid(format!(
            "column {name:?} is compressed (codec {codec}); only the uncompressed files the workflow writes are read here"
        ));
    }
    if meta.int(11).is_some() {
        return invalid(format!(
            "column {name:?} is dictionary-encoded; only the PLAIN files the workflow writes are read here"
        ));
    }
    let mut at = usize::try_from(meta.int(9).unwrap_or(-1))
        .or_else(|_| invalid(format!("column {name:?} has no data page offset")))?;
    let mut cells = Vec::with_capacity(rows);
    while cells.len() < rows {
        let Some(rest) = bytes.get(at..) else {
            return invalid(format!("column {name:?}: page offset {at} is past the end"));
        };
        let (header, used) = thrift::read_struct(rest)?;
        if header.int(1) != Some(PAGE_DATA) {
            return invalid(format!(
                "column {name:?}: page type {:?} is not a v1 data page",
                header.int(1)
            ));
        }
        let size = usize::try_from(header.int(3).unwrap_or(-1))
            .or_else(|_| invalid(format!("column {name:?}: page without a size")))?;
        let Some(body) = rest.get(used..used + size) else {
            return invalid(format!(
                "column {name:?}: page runs past the end of the file"
            ));
        };
        let Some(data) = header.field(5) else {
            return invalid(format!("column {name:?}: data page without its header"));
        };
        let values = usize::try_from(data.int(1).unwrap_or(-1))
            .or_else(|_| invalid(format!("column {name:?}: page without a value count")))?;
        if data.int(2) != Some(i64::from(ENCODING_PLAIN)) {
            return invalid(format!(
                "column {name:?}: encoding {:?} is not PLAIN",
                data.int(2)
            ));
        }
        if values == 0 || cells.len() + values > rows {
            return invalid(format!(
                "column {name:?}: pages hold a different number of values than the row group's {rows} rows"
            ));
        }
        decode_page(body, spec, nullable, values, &mut cells)?;
        at += used + size;
    }
    Ok(cells)
}

fn decode_page<'a>(
    body: &'a [u8],
    spec: &ColumnSpec,
    nullable: bool,
    values: usize,
    cells: &mut Vec<Cell<'a>>,
) -> Result<(), BarsParquetError> {
    let name = spec.name;
    let (present, mut data) = if nullable {
        let Some(len) = body.get(..4) else {
            return invalid(format!("column {name:?}: page too short for its levels"));
        };
        let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
        let Some(levels) = body.get(4..4 + len) else {
            return invalid(format!("column {name:?}: levels run past the page"));
        };
        (Some(read_levels(levels, values, name)?), &body[4 + len..])
    } else {
        (None, body)
    };
    let short = || invalid(format!("column {name:?}: page ends before its values"));
    for i in 0..values {
        if present.as_ref().is_some_and(|p| !p[i]) {
            cells.push(Cell::Null);
            continue;
        }
        let cell = match spec.physical {
            BYTE_ARRAY => {
                let Some(len) = data.get(..4) else {
                    return short();
                };
                let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
                let Some(value) = data.get(4..4 + len) else {
                    return short();
                };
                data = &data[4 + len..];
                Cell::Bytes(value)
            }
            INT32 => {
                let Some(raw) = data.get(..4) else {
                    return short();
                };
                data = &data[4..];
                Cell::Int(i64::from(i32::from_le_bytes(raw.try_into().unwrap())))
            }
            _ => {
                let Some(raw) = data.get(..8) else {
                    return short();
                };
                data = &data[8..];
                let raw: [u8; 8] = raw.try_into().unwrap();
                if spec.physical == DOUBLE {
                    Cell::Double(f64::from_le_bytes(raw))
                } else {
                    Cell::Int(i64::from_le_bytes(raw))
                }
            }
        };
        cells.push(cell);
    }
    Ok(())
}

/// Decodes `count` definition levels of bit width 1 from the RLE/bit-packing hybrid.
fn read_levels(mut levels: &[u8], count: usize, name: &str) -> Result<Vec<bool>, BarsParquetError> {
    let mut out = Vec::with_capacity(count);
    let bad = || invalid(format!("column {name:?}: malformed definition levels"));
    while out.len() < count {
        let mut header = 0u64;
        let mut shift = 0;
        loop {
            let Some((&b, rest)) = levels.split_first() else {
                return bad();
            };
            levels = rest;
            header |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return bad();
            }
        }
        if header & 1 == 0 {
            let Some((&value, rest)) = levels.split_first() else {
                return bad();
            };
            levels = rest;
            let run = (header >> 1).min((count - out.len()) as u64) as usize;
            out.extend(std::iter::repeat_n(value & 1 == 1, run));
        } else {
            let groups = (header >> 1) as usize;
            let Some(packed) = levels.get(..groups) else {
                return bad();
            };
            levels = &levels[groups..];
            for byte in packed {
                for bit in 0..8 {
                    if out.len() < count {
                        out.push(byte >> bit & 1 == 1);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn assemble_rows(
    columns: &[Option<Vec<Cell<'_>>>],
    rows: usize,
    row_base: usize,
    out: &mut BarsBySymbol,
) -> Result<(), BarsParquetError> {
    let required = |index: usize, row: usize| -> Result<Cell<'_>, BarsParquetError> {
        let cell = columns[index]
            .as_ref()
            .expect("required columns are present")[row];
        if let Cell::Null = cell {
            return invalid(format!(
                "row {}: {} is null",
                row_base + row + 1,
                COLUMNS[index].name
            ));
        }
        Ok(cell)
    };
    let number = |index: usize, row: usize| -> Result<f64, BarsParquetError> {
        match required(index, row)? {
            Cell::Double(v) => Ok(v),
            _ => unreachable!("DOUBLE columns decode to doubles"),
        }
    };
    let mut current: Option<Symbol> = None;
    let mut list: Vec<Bar> = Vec::new();
    for row in 0..rows {
        let Cell::Bytes(raw) = required(0, row)? else {
            unreachable!("BYTE_ARRAY columns decode to bytes")
        };
        if current
            .as_ref()
            .is_none_or(|s| s.as_str().as_bytes() != raw)
        {
            let text = std::str::from_utf8(raw)
                .or_else(|_| invalid(format!("row {}: symbol is not UTF-8", row_base + row + 1)))?;
            let symbol = Symbol::parse(text)
                .or_else(|e| invalid(format!("row {}: {e}", row_base + row + 1)))?;
            if let Some(done) = current.replace(symbol) {
                out.entry(done).or_default().append(&mut list);
            }
        }
        let Cell::Int(days) = required(1, row)? else {
            unreachable!("INT32 columns decode to integers")
        };
        let date = i32::try_from(days)
            .ok()
            .and_then(|d| NaiveDate::from_num_days_from_ce_opt(d.checked_add(EPOCH_FROM_CE)?))
            .map_or_else(
                || {
                    invalid(format!(
                        "row {}: date {days} is out of range",
                        row_base + row + 1
                    ))
                },
                Ok,
            )?;
        let optional = |index: usize| columns[index].as_ref().map_or(Cell::Null, |c| c[row]);
        list.push(Bar {
            date,
            open: number(2, row)?,
            high: number(3, row)?,
            low: number(4, row)?,
            close: number(5, row)?,
            volume: number(6, row)?,
            vwap: match optional(7) {
                Cell::Double(v) => Some(v),
                _ => None,
            },
            trade_count: match optional(8) {
                Cell::Int(v) => Some(u64::try_from(v).or_else(|_| {
                    invalid(format!(
                        "row {}: trade_count {v} is negative",
                        row_base + row + 1
                    ))
                })?),
                _ => None,
            },
        });
    }
    if let Some(done) = current {
        out.entry(done).or_default().append(&mut list);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(date: NaiveDate, close: f64, vwap: Option<f64>, trades: Option<u64>) -> Bar {
        Bar {
            date,
            open: close - 0.5,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 1e6 + close,
            vwap,
            trade_count: trades,
        }
    }

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 2).unwrap() + chrono::Duration::days(n)
    }

    fn sample() -> BarsBySymbol {
        let mut bars = BarsBySymbol::new();
        bars.insert(
            Symbol::parse("AAPL").unwrap(),
            (0..40)
                .map(|i| {
                    // Runs of present and missing optional values, and a bit-pattern mix.
                    let vwap = (i % 7 < 4).then_some(i as f64 + 0.25);
                    let trades = (i >= 20).then_some(1_000 + i as u64);
                    bar(day(i), 0.1 + 0.2 + i as f64, vwap, trades)
                })
                .collect(),
        );
        bars.insert(
            Symbol::parse("BRK.B").unwrap(),
            vec![bar(
                NaiveDate::from_ymd_opt(1969, 12, 31).unwrap(),
                1e-9,
                None,
                None,
            )],
        );
        bars.insert(
            Symbol::parse("MSFT").unwrap(),
            vec![bar(day(3), f64::MAX, Some(-0.0), Some(0))],
        );
        bars
    }

    #[test]
    fn bars_round_trip_exactly() {
        let bars = sample();
        let bytes = write_bars_parquet(&bars);
        assert_eq!(read_bars_parquet(&bytes).unwrap(), bars);
    }

    #[test]
    fn an_empty_batch_round_trips() {
        let bytes = write_bars_parquet(&BarsBySymbol::new());
        assert!(read_bars_parquet(&bytes).unwrap().is_empty());
    }

    #[test]
    fn many_rows_are_split_into_row_groups_and_read_back_in_order() {
        let mut bars = BarsBySymbol::new();
        let n = ROWS_PER_GROUP + 10;
        bars.insert(
            Symbol::parse("SPY").unwrap(),
            (0..n as i64)
                .map(|i| bar(day(i), i as f64, None, Some(i as u64)))
                .collect(),
        );
        let bytes = write_bars_parquet(&bars);
        let (meta, _) = {
            let footer_len =
                u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
            thrift::read_struct(&bytes[bytes.len() - 8 - footer_len as usize..]).unwrap()
        };
        assert_eq!(meta.list(4).unwrap().len(), 2);
        assert_eq!(read_bars_parquet(&bytes).unwrap(), bars);
    }

    #[test]
    fn every_truncation_is_an_error_that_names_parquet() {
        let bytes = write_bars_parquet(&sample());
        for cut in (0..bytes.len()).step_by(7) {
            let err = read_bars_parquet(&bytes[..cut]).unwrap_err().to_string();
            assert!(err.starts_with("bars Parquet"), "{err}");
        }
    }

    #[test]
    fn a_corrupted_page_is_an_error_not_a_panic() {
        let clean = write_bars_parquet(&sample());
        // Flip every byte in turn: each result is bars or an error, never a panic.
        for i in 0..clean.len() {
            let mut bytes = clean.clone();
            bytes[i] ^= 0xFF;
            let _ = read_bars_parquet(&bytes);
        }
    }

    #[test]
    fn a_csv_file_is_refused_by_name() {
        let err = read_bars_parquet(b"symbol,date,open,high,low,close,volume\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a Parquet file"), "{err}");
    }
}
