//! Table and column names from the configuration, checked before they are spliced into SQL.
//!
//! Names cannot be bound as query parameters, so they are restricted to plain identifiers
//! (`[A-Za-z_][A-Za-z0-9_]*`, optionally `schema.name`) and always written double-quoted:
//! quoting keeps names that are SQL keywords (`order`, `user`) working and makes the match
//! exact, as stored in the database's catalog.

use std::fmt;

/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1); refusing them avoids two
/// configured names silently meaning the same table.
const MAX_LEN: usize = 63;

/// A checked identifier, optionally schema-qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqlName {
    schema: Option<String>,
    name: String,
}

impl SqlName {
    /// Checks `text`; the error says what is wrong, for the caller to prefix with the key.
    pub(crate) fn parse(text: &str, allow_schema: bool) -> Result<Self, String> {
        let (schema, name) = match text.split_once('.') {
            Some((schema, name)) if allow_schema => (Some(schema), name),
            Some(_) => {
                return Err(format!(
                    "{text:?} is schema-qualified; use a plain name here"
                ));
            }
            None => (None, text),
        };
        for part in schema.into_iter().chain([name]) {
            check_identifier(part)
                .map_err(|why| format!("{text:?} is not a plain SQL name: {why}"))?;
        }
        Ok(Self {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// Whether a schema is named (`billing.records`).
    pub(crate) fn is_qualified(&self) -> bool {
        self.schema.is_some()
    }

    /// The unquoted name without its schema, as the catalog stores it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The same schema with `suffix` appended to the name (tiergate's companion tables).
    pub(crate) fn with_suffix(&self, suffix: &str) -> Self {
        Self {
            schema: self.schema.clone(),
            name: format!("{}{suffix}", self.name),
        }
    }
}

/// A name read from the database's catalog, which may hold any character, double-quoted
/// for SQL.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Writes the quoted form, ready to splice into SQL.
impl fmt::Display for SqlName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "\"{schema}\".")?;
        }
        write!(f, "\"{}\"", self.name)
    }
}

fn check_identifier(part: &str) -> Result<(), String> {
    let mut chars = part.chars();
    match chars.next() {
        None => return Err("a name part is empty".into()),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err(format!("{part:?} must start with a letter or '_'"));
        }
        Some(_) => {}
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!(
            "{bad:?} is not allowed (letters, digits and '_' only)"
        ));
    }
    if part.len() > MAX_LEN {
        return Err(format!("{part:?} is longer than {MAX_LEN} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_qualified_names_are_quoted() {
        assert_eq!(
            SqlName::parse("records", false).unwrap().to_string(),
            "\"records\""
        );
        let qualified = SqlName::parse("billing.records", true).unwrap();
        assert_eq!(qualified.to_string(), "\"billing\".\"records\"");
        assert_eq!(
            qualified.with_suffix("_runs").to_string(),
            "\"billing\".\"records_runs\""
        );
    }

    #[test]
    fn anything_but_plain_identifiers_is_refused() {
        for bad in [
            "",
            "id; drop table x",
            "a\"b",
            "1abc",
            "a.b.c",
            ".a",
            "a.",
            "a b",
            "é",
        ] {
            assert!(SqlName::parse(bad, true).is_err(), "{bad:?} was accepted");
        }
        assert!(SqlName::parse("billing.records", false).is_err());
        assert!(SqlName::parse(&"x".repeat(64), false).is_err());
    }
}
