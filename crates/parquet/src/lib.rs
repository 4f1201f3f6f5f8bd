//! Bars as Parquet: the columnar form in which validate hands a batch's bars to Screen
//! (decoded there by polars). Nothing in the project reads it but polars: the exactness of what
//! polars reads back is tested in `crates/analytics/tests/it/core_parquet.rs`.
//!
//! One fixed schema, `symbol` (UTF-8), `date` (DATE), `open`..`volume` (DOUBLE), `vwap`
//! (optional DOUBLE), `trade_count` (optional INT64), written in the subset of the format every
//! reader supports: PLAIN values, uncompressed, data pages v1, row groups of
//! [`ROWS_PER_GROUP`]. The page bodies (PLAIN values, RLE definition levels) are written here;
//! the page headers and the footer are polars' generated Thrift types (`polars-parquet-format`).
//!
//! Why not a whole Parquet library, for the validate Lambda (zip budget 5 MB)? Measured on
//! x86_64 with the release profile, writing 100 symbols x 300 bars, size added to a stripped
//! binary and to its `zip -9`:
//!
//! | writer | binary | zip |
//! |---|---|---|
//! | page bodies here, hand-written Thrift (before) | +8.6 KiB | +4.5 KiB |
//! | page bodies here, `polars-parquet-format` 0.1.0 (this) | +63 KiB | +24 KiB |
//! | `parquet` 60.1.0, `default-features = false` | +936 KiB | +298 KiB |
//!
//! All three files read back equal in pyarrow; the first two are byte-identical. The Thrift
//! crate costs 20 KB of zip for not keeping a protocol encoder by hand; the `parquet` crate would
//! cost 0.3 MB more for the same file.

use chrono::{Datelike, NaiveDate};
use polars_parquet_format::thrift::protocol::TCompactOutputProtocol;
use polars_parquet_format::{
    ColumnChunk, ColumnMetaData, CompressionCodec, ConvertedType, DataPageHeader, DateType,
    Encoding, FieldRepetitionType, FileMetaData, LogicalType, PageHeader, PageType, RowGroup,
    SchemaElement, StringType, Type,
};

use screener_core::bar::{Bar, BarsBySymbol};
use screener_core::symbol::Symbol;

/// The content type the store records for these files.
pub const CONTENT_TYPE: &str = "application/vnd.apache.parquet";

/// Rows per row group: a batch of 100 symbols x 1 year fits in one; bigger inputs are split
/// so that no page nears the format's 2 GiB page limit.
pub const ROWS_PER_GROUP: usize = 1 << 17;

const MAGIC: &[u8; 4] = b"PAR1";

const WRITING_TO_A_VEC: &str = "writing to a Vec cannot fail";

struct ColumnSpec {
    name: &'static str,
    physical: Type,
    required: bool,
    logical: Option<(ConvertedType, LogicalType)>,
}

fn columns() -> [ColumnSpec; 9] {
    let column = |name, physical, required, logical| ColumnSpec {
        name,
        physical,
        required,
        logical,
    };
    let utf8 = Some((ConvertedType::UTF8, LogicalType::STRING(StringType {})));
    let date = Some((ConvertedType::DATE, LogicalType::DATE(DateType {})));
    [
        column("symbol", Type::BYTE_ARRAY, true, utf8),
        column("date", Type::INT32, true, date),
        column("open", Type::DOUBLE, true, None),
        column("high", Type::DOUBLE, true, None),
        column("low", Type::DOUBLE, true, None),
        column("close", Type::DOUBLE, true, None),
        column("volume", Type::DOUBLE, true, None),
        column("vwap", Type::DOUBLE, false, None),
        column("trade_count", Type::INT64, false, None),
    ]
}

/// 1970-01-01 counted from 0001-01-01, the base `chrono` counts from.
const EPOCH_FROM_CE: i32 = 719_163;

fn days_since_epoch(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - EPOCH_FROM_CE
}

/// Writes bars, symbol by symbol in the map's order, each symbol's bars in their order.
pub fn write_bars_parquet(bars: &BarsBySymbol) -> Vec<u8> {
    let columns = columns();
    let rows: Vec<(&Symbol, &Bar)> = bars
        .iter()
        .flat_map(|(symbol, list)| list.iter().map(move |bar| (symbol, bar)))
        .collect();
    let mut out = Vec::with_capacity(64 * rows.len() + 1024);
    out.extend_from_slice(MAGIC);
    let mut row_groups = Vec::new();
    for group in rows.chunks(ROWS_PER_GROUP) {
        let start = out.len() as i64;
        let mut chunks = Vec::with_capacity(columns.len());
        for (index, spec) in columns.iter().enumerate() {
            let body = column_page_body(index, spec, group);
            let offset = out.len() as i64;
            page_header(group.len(), body.len())
                .write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut out))
                .expect(WRITING_TO_A_VEC);
            out.extend_from_slice(&body);
            chunks.push(column_chunk(
                spec,
                group.len(),
                offset,
                out.len() as i64 - offset,
            ));
        }
        let bytes = out.len() as i64 - start;
        row_groups.push(RowGroup {
            columns: chunks,
            total_byte_size: bytes,
            num_rows: group.len() as i64,
            sorting_columns: None,
            file_offset: Some(start),
            total_compressed_size: Some(bytes),
            ordinal: None,
        });
    }
    let footer_start = out.len();
    file_metadata(&columns, rows.len(), row_groups)
        .write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut out))
        .expect(WRITING_TO_A_VEC);
    let footer_len = (out.len() - footer_start) as u32;
    out.extend_from_slice(&footer_len.to_le_bytes());
    out.extend_from_slice(MAGIC);
    out
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

fn page_header(values: usize, body_len: usize) -> PageHeader {
    PageHeader {
        type_: PageType::DATA_PAGE,
        uncompressed_page_size: body_len as i32,
        compressed_page_size: body_len as i32,
        crc: None,
        data_page_header: Some(DataPageHeader {
            num_values: values as i32,
            encoding: Encoding::PLAIN,
            definition_level_encoding: Encoding::RLE,
            repetition_level_encoding: Encoding::RLE,
            statistics: None,
        }),
        index_page_header: None,
        dictionary_page_header: None,
        data_page_header_v2: None,
    }
}

/// A column chunk of `size` bytes at `offset`: one data page.
fn column_chunk(spec: &ColumnSpec, values: usize, offset: i64, size: i64) -> ColumnChunk {
    ColumnChunk {
        file_path: None,
        file_offset: offset,
        meta_data: Some(ColumnMetaData {
            type_: spec.physical,
            encodings: vec![Encoding::PLAIN, Encoding::RLE],
            path_in_schema: vec![spec.name.to_string()],
            codec: CompressionCodec::UNCOMPRESSED,
            num_values: values as i64,
            total_uncompressed_size: size,
            total_compressed_size: size,
            key_value_metadata: None,
            data_page_offset: offset,
            index_page_offset: None,
            dictionary_page_offset: None,
            statistics: None,
            encoding_stats: None,
            bloom_filter_offset: None,
            bloom_filter_length: None,
            size_statistics: None,
        }),
        offset_index_offset: None,
        offset_index_length: None,
        column_index_offset: None,
        column_index_length: None,
        crypto_metadata: None,
        encrypted_column_metadata: None,
    }
}

fn schema_element(name: &str) -> SchemaElement {
    SchemaElement {
        type_: None,
        type_length: None,
        repetition_type: None,
        name: name.to_string(),
        num_children: None,
        converted_type: None,
        scale: None,
        precision: None,
        field_id: None,
        logical_type: None,
    }
}

/// The footer: the flat schema (a root with one child per column) and the row groups.
fn file_metadata(columns: &[ColumnSpec], rows: usize, row_groups: Vec<RowGroup>) -> FileMetaData {
    let mut schema = vec![SchemaElement {
        num_children: Some(columns.len() as i32),
        ..schema_element("schema")
    }];
    schema.extend(columns.iter().map(|spec| SchemaElement {
        type_: Some(spec.physical),
        repetition_type: Some(if spec.required {
            FieldRepetitionType::REQUIRED
        } else {
            FieldRepetitionType::OPTIONAL
        }),
        converted_type: spec.logical.as_ref().map(|(converted, _)| *converted),
        logical_type: spec.logical.as_ref().map(|(_, logical)| logical.clone()),
        ..schema_element(spec.name)
    }));
    FileMetaData {
        version: 1,
        schema,
        num_rows: rows as i64,
        row_groups,
        key_value_metadata: None,
        created_by: Some(concat!("screener-parquet ", env!("CARGO_PKG_VERSION")).to_string()),
        column_orders: None,
        encryption_algorithm: None,
        footer_signing_key_metadata: None,
    }
}

/// An unsigned LEB128 varint, as the RLE run headers of definition levels use.
fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use polars_parquet_format::thrift::protocol::TCompactInputProtocol;

    use super::*;

    fn bars(symbols: &[&str], days: usize) -> BarsBySymbol {
        let start = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        symbols
            .iter()
            .map(|name| {
                let list = (0..days)
                    .map(|i| Bar {
                        date: start + chrono::Duration::days(i as i64),
                        open: 1.0,
                        high: 2.0,
                        low: 0.5,
                        close: 1.5 + i as f64,
                        volume: 1e6,
                        vwap: (i % 3 == 0).then_some(1.2),
                        trade_count: Some(7),
                    })
                    .collect();
                (Symbol::parse(name).unwrap(), list)
            })
            .collect()
    }

    /// The footer, read back with the same generated types: magic, length, then metadata.
    fn footer(bytes: &[u8]) -> FileMetaData {
        assert_eq!(&bytes[..4], MAGIC);
        assert_eq!(&bytes[bytes.len() - 4..], MAGIC);
        let len = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
        let start = bytes.len() - 8 - len as usize;
        let mut protocol = TCompactInputProtocol::new(&bytes[start..bytes.len() - 8], usize::MAX);
        FileMetaData::read_from_in_protocol(&mut protocol).unwrap()
    }

    #[test]
    fn the_footer_describes_the_schema_and_every_column_chunk() {
        let bytes = write_bars_parquet(&bars(&["AAPL", "MSFT"], 10));
        let meta = footer(&bytes);
        assert_eq!(meta.num_rows, 20);
        let names: Vec<&str> = meta.schema.iter().map(|e| e.name.as_str()).collect();
        let columns = screener_core::bar::BARS_CSV_HEADER;
        assert_eq!(names, [&["schema"][..], &columns[..]].concat());
        assert_eq!(meta.row_groups.len(), 1);
        let group = &meta.row_groups[0];
        assert_eq!(group.columns.len(), 9);
        // Each chunk starts where the previous one ended, right after the magic.
        let mut next = 4;
        for chunk in &group.columns {
            let data = chunk.meta_data.as_ref().unwrap();
            assert_eq!(data.data_page_offset, next);
            assert_eq!(data.num_values, 20);
            next += data.total_compressed_size;
        }
        // ... and the footer follows the last chunk.
        let footer_len =
            u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
        assert_eq!(next as usize + footer_len as usize + 8, bytes.len());
    }

    #[test]
    fn many_rows_are_split_into_row_groups() {
        let days = ROWS_PER_GROUP / 2 + 1;
        let meta = footer(&write_bars_parquet(&bars(&["A", "B"], days)));
        let rows: Vec<i64> = meta.row_groups.iter().map(|g| g.num_rows).collect();
        assert_eq!(rows, [ROWS_PER_GROUP as i64, 2]);
    }

    #[test]
    fn an_empty_batch_is_a_file_with_no_rows() {
        let meta = footer(&write_bars_parquet(&BarsBySymbol::new()));
        assert_eq!((meta.num_rows, meta.row_groups.len()), (0, 0));
    }
}
