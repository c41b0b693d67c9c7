//! A SQLite row's cells as JSON text, so that the ledger can keep every column of a record
//! whose hot row was deleted, and a restore can put back exactly those values.
//!
//! SQLite types values, not columns, so the image keeps each cell's storage class: a JSON
//! integer is an INTEGER, a string is TEXT, `null` is NULL, and the rest are tagged objects:
//! `{"real": "1.5"}` (the shortest text that parses back to the same `f64`, which a JSON
//! number does not promise), `{"blob": "<hex>"}`, and `{"text_hex": "<hex>"}` for TEXT
//! that is not UTF-8 (SQLite stores whatever bytes it is given).
//!
//! PostgreSQL needs none of this: its ledger keeps the row as `to_json` writes it and a
//! restore reads it back with `json_populate_record`, both in SQL.

use rusqlite::types::{Value, ValueRef};
use serde_json::{Map, Value as Json};

/// One cell of a decoded image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cell {
    /// The column's name, as the table had it.
    pub name: String,
    /// The value to bind.
    pub value: Value,
    /// Bind `value` (a BLOB) cast to TEXT: TEXT bytes that are not UTF-8, which rusqlite
    /// cannot bind as text.
    pub raw_text: bool,
}

/// Encodes `cells` as a JSON object.
pub(crate) fn encode<'a>(cells: impl IntoIterator<Item = (&'a str, ValueRef<'a>)>) -> String {
    let tagged =
        |tag: &str, value: String| Json::Object(Map::from_iter([(tag.into(), value.into())]));
    let object: Map<String, Json> = cells
        .into_iter()
        .map(|(name, cell)| {
            let json = match cell {
                ValueRef::Null => Json::Null,
                ValueRef::Integer(i) => Json::from(i),
                ValueRef::Real(r) => tagged("real", r.to_string()),
                ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => Json::from(text),
                    Err(_) => tagged("text_hex", hex::encode(bytes)),
                },
                ValueRef::Blob(bytes) => tagged("blob", hex::encode(bytes)),
            };
            (name.to_owned(), json)
        })
        .collect();
    Json::Object(object).to_string()
}

/// Decodes an image written by [`encode`]; the error says what is malformed.
pub(crate) fn decode(image: &str) -> Result<Vec<Cell>, String> {
    let Json::Object(object) = serde_json::from_str(image).map_err(|e| format!("not JSON: {e}"))?
    else {
        return Err("not a JSON object".into());
    };
    object
        .into_iter()
        .map(|(name, json)| {
            let (value, raw_text) =
                cell(&json).ok_or_else(|| format!("column {name:?}: unreadable {json}"))?;
            Ok(Cell {
                name,
                value,
                raw_text,
            })
        })
        .collect()
}

fn cell(json: &Json) -> Option<(Value, bool)> {
    let value = match json {
        Json::Null => Value::Null,
        Json::Number(n) => Value::Integer(n.as_i64()?),
        Json::String(text) => Value::Text(text.clone()),
        Json::Object(tagged) if tagged.len() == 1 => {
            let (tag, value) = tagged.iter().next()?;
            let text = value.as_str()?;
            match tag.as_str() {
                "real" => Value::Real(text.parse().ok()?),
                "blob" => Value::Blob(hex::decode(text).ok()?),
                "text_hex" => return Some((Value::Blob(hex::decode(text).ok()?), true)),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((value, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_storage_class_comes_back_exactly() {
        let cells = [
            ("n", ValueRef::Null),
            ("i", ValueRef::Integer(i64::MIN)),
            ("r", ValueRef::Real(0.1 + 0.2)),
            ("inf", ValueRef::Real(f64::INFINITY)),
            ("t", ValueRef::Text("naïve \"quoted\"".as_bytes())),
            ("raw", ValueRef::Text(&[0xff, 0x00, 0x41])),
            ("b", ValueRef::Blob(&[0, 1, 2, 255])),
        ];
        let back = decode(&encode(cells)).unwrap();
        let cell = |name: &str, value, raw_text| Cell {
            name: name.into(),
            value,
            raw_text,
        };
        let mut expected = vec![
            cell("n", Value::Null, false),
            cell("i", Value::Integer(i64::MIN), false),
            cell("r", Value::Real(0.1 + 0.2), false),
            cell("inf", Value::Real(f64::INFINITY), false),
            cell("t", Value::Text("naïve \"quoted\"".into()), false),
            cell("raw", Value::Blob(vec![0xff, 0x00, 0x41]), true),
            cell("b", Value::Blob(vec![0, 1, 2, 255]), false),
        ];
        expected.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(back, expected);
    }

    #[test]
    fn malformed_images_are_named() {
        assert!(decode("[1]").unwrap_err().contains("not a JSON object"));
        assert!(
            decode(r#"{"a": {"real": "x"}}"#)
                .unwrap_err()
                .contains("\"a\"")
        );
        assert!(decode(r#"{"a": 1.5}"#).unwrap_err().contains("\"a\""));
    }
}
