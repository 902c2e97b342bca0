//! Reading a system listing (CSV with a header row, a JSON array of objects, or JSON lines) one
//! record at a time, each with the line it starts on.
//!
//! CSV and JSON lines are streamed; a JSON array is read whole (up to [`MAX_JSON_ARRAY_BYTES`])
//! so that each object's line can be found. Values are compared as text: a JSON number or
//! boolean is its JSON text, `null` and a missing field are empty.

use serde_json::value::RawValue;
use std::io::BufRead;
use std::path::Path;

/// The largest JSON array listing read; CSV and JSON lines have no limit (they are streamed).
pub const MAX_JSON_ARRAY_BYTES: u64 = 256 << 20;

/// The formats a listing may have, from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonArray,
    JsonLines,
}

impl Format {
    pub fn of(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if lower.ends_with(".json") {
            Some(Format::JsonArray)
        } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(Format::JsonLines)
        } else {
            None
        }
    }
}

/// Why a listing cannot be read, and where.
#[derive(Debug)]
pub struct ListingError {
    pub line: Option<usize>,
    pub message: String,
}

impl ListingError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        ListingError { line: Some(line), message: message.into() }
    }
}

/// One record: its line, and a way to read a column's value.
pub enum Record<'a> {
    Csv { line: usize, headers: &'a csv::StringRecord, row: &'a csv::StringRecord },
    Json { line: usize, object: &'a serde_json::Map<String, serde_json::Value> },
}

impl Record<'_> {
    pub fn line(&self) -> usize {
        match self {
            Record::Csv { line, .. } | Record::Json { line, .. } => *line,
        }
    }

    /// The value of `column` (for JSON, `a.b` reads a nested field); `None` when absent.
    pub fn get(&self, column: &str) -> Option<String> {
        match self {
            Record::Csv { headers, row, .. } => {
                let i = headers.iter().position(|h| h == column)?;
                row.get(i).map(str::to_string)
            }
            Record::Json { object, .. } => {
                let mut parts = column.split('.');
                let mut v = object.get(parts.next()?)?;
                for p in parts {
                    v = v.as_object()?.get(p)?;
                }
                Some(match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
            }
        }
    }
}

/// What reading a listing found besides its records.
#[derive(Debug, Default)]
pub struct Summary {
    /// CSV: the header; JSON: every top-level key seen, in first-seen order.
    pub columns: Vec<String>,
    pub records: usize,
}

/// Reads every record of the listing at `path`, calling `each` for each.
pub fn read(path: &Path, format: Format, mut each: impl FnMut(&Record<'_>)) -> Result<Summary, ListingError> {
    let file = crate::fsutil::open_regular(path).map_err(|e| ListingError { line: None, message: e.to_string() })?;
    match format {
        Format::Csv => read_csv(file, each),
        Format::JsonLines => {
            let mut summary = Summary::default();
            let reader = std::io::BufReader::new(file);
            for (i, line) in reader.lines().enumerate() {
                let line_no = i + 1;
                let text = line.map_err(|e| ListingError::at(line_no, e.to_string()))?;
                if text.trim().is_empty() {
                    continue;
                }
                let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                    .map_err(|e| ListingError::at(line_no, format!("not a JSON object: {e}")))?;
                note_columns(&mut summary.columns, &object);
                summary.records += 1;
                each(&Record::Json { line: line_no, object: &object });
            }
            Ok(summary)
        }
        Format::JsonArray => {
            let bytes = crate::fsutil::read_limited(path, MAX_JSON_ARRAY_BYTES).map_err(|e| ListingError {
                line: None,
                message: format!("{e} (a JSON array is read whole: write larger listings as JSON lines or CSV)"),
            })?;
            let text = std::str::from_utf8(&bytes).map_err(|e| ListingError {
                line: Some(1 + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count()),
                message: "not valid UTF-8".into(),
            })?;
            let items: Vec<&RawValue> = serde_json::from_str(text)
                .map_err(|e| ListingError::at(e.line(), format!("not a JSON array of objects: {e}")))?;
            let mut summary = Summary::default();
            let mut scanned = 0;
            let mut line = 1;
            for raw in items {
                // The element's offset in the text gives its line.
                let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
                line += text.as_bytes()[scanned..offset].iter().filter(|b| **b == b'\n').count();
                scanned = offset;
                let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw.get())
                    .map_err(|_| ListingError::at(line, "an element of the array is not a JSON object"))?;
                note_columns(&mut summary.columns, &object);
                summary.records += 1;
                each(&Record::Json { line, object: &object });
            }
            Ok(summary)
        }
    }
}

fn read_csv(file: std::fs::File, mut each: impl FnMut(&Record<'_>)) -> Result<Summary, ListingError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(file);
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize);
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("the row has {len} fields where the header has {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
            _ => e.to_string(),
        };
        ListingError { line: line.or(Some(1)), message }
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let mut summary =
        Summary { columns: headers.iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect(), records: 0 };
    // A byte-order mark belongs to the file, not to the first column's name.
    let headers = csv::StringRecord::from(summary.columns.clone());
    let mut row = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut row) {
            Ok(true) => {
                let line = row.position().map(|p| p.line() as usize).unwrap_or(0);
                summary.records += 1;
                each(&Record::Csv { line, headers: &headers, row: &row });
            }
            Ok(false) => break,
            Err(e) => return Err(csv_error(e)),
        }
    }
    Ok(summary)
}

fn note_columns(columns: &mut Vec<String>, object: &serde_json::Map<String, serde_json::Value>) {
    for k in object.keys() {
        if !columns.iter().any(|c| c == k) {
            columns.push(k.clone());
        }
    }
}

/// Counts the records of a listing (for a provenance record count), reading nothing else.
pub fn count(path: &Path, format: Format) -> Result<usize, ListingError> {
    read(path, format, |_| {}).map(|s| s.records)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary of a listing and each record's line with its date cell.
    type Collected = (Summary, Vec<(usize, Option<String>)>);

    fn collect(name: &str, text: &str) -> Result<Collected, ListingError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let mut out = Vec::new();
        let s = read(&p, Format::of(name).unwrap(), |r| out.push((r.line(), r.get("id"))))?;
        Ok((s, out))
    }

    #[test]
    fn csv_records_know_their_lines_even_with_quoted_newlines() {
        let (s, rows) = collect("a.csv", "\u{feff}id,note\n1,\"two\nlines\"\n2,x\n").unwrap();
        assert_eq!(s.columns, ["id", "note"]);
        assert_eq!(rows, [(2, Some("1".into())), (4, Some("2".into()))]);
    }

    #[test]
    fn json_array_elements_know_their_lines() {
        let (s, rows) = collect("a.json", "[\n  {\"id\": 7},\n  {\"id\": \"x\",\n   \"u\": {\"n\": 1}}\n]").unwrap();
        assert_eq!(s.records, 2);
        assert_eq!(rows, [(2, Some("7".into())), (3, Some("x".into()))]);
    }

    #[test]
    fn json_lines_skip_blank_lines_and_report_bad_ones() {
        let (s, _) = collect("a.jsonl", "{\"id\":1}\n\n{\"id\":2}\n").unwrap();
        assert_eq!(s.records, 2);
        let e = collect("b.ndjson", "{\"id\":1}\n[1]\n").unwrap_err();
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn a_ragged_csv_row_is_located() {
        let e = collect("a.csv", "id,b\n1,2\n3\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("1 fields where the header has 2"), "{}", e.message);
    }

    #[test]
    fn nested_json_fields_read_with_dots() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        std::fs::write(&p, r#"[{"user": {"login": "ana"}, "n": null}]"#).unwrap();
        let mut got = Vec::new();
        read(&p, Format::JsonArray, |r| got.push((r.get("user.login"), r.get("n"), r.get("zzz")))).unwrap();
        assert_eq!(got, [(Some("ana".into()), Some(String::new()), None)]);
    }
}
