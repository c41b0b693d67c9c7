//! The `[hot]` section of the host's TOML file: which database, and where in it the
//! records are. The user's records table is described, never changed.

use crate::sql_name::SqlName;
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// Which database holds the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// A local SQLite file: the embedded default for one host.
    Sqlite,
    /// A PostgreSQL server: shared by archivers on several hosts.
    Postgres,
}

/// Where the records live and how to read them, as the operator configures it.
///
/// Its `Debug` output hides the password in [`url`](Self::url), so that a configuration
/// printed in a log line or a test failure never carries the database's secret.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotConfig {
    /// The database engine.
    pub engine: Engine,
    /// SQLite: the database file.
    pub path: Option<PathBuf>,
    /// PostgreSQL: a connection URL such as `postgres://postgres@127.0.0.1:5432/test`.
    /// What it leaves out comes from `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`,
    /// `PGPASSWORD` and the password file (`PGPASSFILE`, `~/.pgpass`), as with `psql`.
    pub url: Option<String>,
    /// The records table; may be schema-qualified on PostgreSQL (`billing.records`).
    #[serde(default = "defaults::table")]
    pub table: String,
    /// The record id column: text, or any type whose text form is the id in the record's
    /// path (bigint, uuid); ids are compared as the column's own type.
    #[serde(default = "defaults::id_column")]
    pub id_column: String,
    /// When the record last changed: PostgreSQL `timestamptz` or `timestamp` (as UTC);
    /// SQLite ISO-8601 text or integer unix seconds.
    #[serde(default = "defaults::changed_column")]
    pub changed_column: String,
    /// The record's bytes (bytea/BLOB, or text).
    #[serde(default = "defaults::body_column")]
    pub body_column: String,
    /// The record's content type; without it every record is `application/json`.
    pub content_type_column: Option<String>,
    /// The record's version; without it the changed column's value is the version.
    pub version_column: Option<String>,
    /// A boolean column; true means legal hold: the record is never archived.
    pub hold_column: Option<String>,
    /// An SQL predicate over the records table; matching records are never archived.
    pub exclude_where: Option<String>,
    /// tiergate's own ledger table, created in the same database; may be schema-qualified
    /// on PostgreSQL. `<ledger_table>_runs`, `<ledger_table>_walk` and
    /// `<ledger_table>_schema` go beside it.
    #[serde(default = "defaults::ledger_table")]
    pub ledger_table: String,
    /// PostgreSQL: how many connections the pool may open.
    #[serde(default = "defaults::pool_size")]
    pub pool_size: u32,
    /// The column holding each record's owner, when the edge checks access by it: its value
    /// is read with the record and stored with the copy. Set from `[edge.auth]
    /// owner_column` (one place for it), not a `[hot]` key.
    #[serde(skip)]
    pub owner_column: Option<String>,
}

impl fmt::Debug for HotConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so that a new field cannot be left out of the output unnoticed.
        let Self {
            engine,
            path,
            url,
            table,
            id_column,
            changed_column,
            body_column,
            content_type_column,
            version_column,
            hold_column,
            exclude_where,
            ledger_table,
            pool_size,
            owner_column,
        } = self;
        f.debug_struct("HotConfig")
            .field("engine", engine)
            .field("path", path)
            .field("url", &url.as_deref().map(redacted_url))
            .field("table", table)
            .field("id_column", id_column)
            .field("changed_column", changed_column)
            .field("body_column", body_column)
            .field("content_type_column", content_type_column)
            .field("version_column", version_column)
            .field("hold_column", hold_column)
            .field("exclude_where", exclude_where)
            .field("ledger_table", ledger_table)
            .field("pool_size", pool_size)
            .field("owner_column", owner_column)
            .finish()
    }
}

/// What stands in for a hidden password.
const HIDDEN: &str = "***";

/// `url` with its password hidden: the one in the user info (`postgres://user:PASSWORD@host`)
/// and a `password` query parameter. The user info ends at the first `@`, as
/// tokio-postgres reads it, so what is hidden is exactly what it would send. A connection
/// string that is not a `postgres://` or `postgresql://` URL (the `key=value` form) is hidden
/// whole rather than parsed a second way here.
fn redacted_url(url: &str) -> String {
    let Some(rest) = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
    else {
        return format!("<hidden: {} characters, not a postgres:// URL>", url.len());
    };
    let scheme = &url[..url.len() - rest.len()];
    let (user_info, after) = match rest.split_once('@') {
        Some((user_info, after)) => (Some(user_info), after),
        None => (None, rest),
    };
    let mut shown = scheme.to_owned();
    if let Some(user_info) = user_info {
        match user_info.split_once(':') {
            Some((user, _password)) => shown.push_str(&format!("{user}:{HIDDEN}@")),
            None => shown.push_str(&format!("{user_info}@")),
        }
    }
    let Some((location, query)) = after.split_once('?') else {
        shown.push_str(after);
        return shown;
    };
    shown.push_str(location);
    shown.push('?');
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _value)) if key == "password" => format!("{key}={HIDDEN}"),
            _ => param.to_owned(),
        })
        .collect();
    shown.push_str(&params.join("&"));
    shown
}

mod defaults {
    pub(super) fn table() -> String {
        "records".into()
    }
    pub(super) fn id_column() -> String {
        "id".into()
    }
    pub(super) fn changed_column() -> String {
        "updated_at".into()
    }
    pub(super) fn body_column() -> String {
        "body".into()
    }
    pub(super) fn ledger_table() -> String {
        "tiergate_ledger".into()
    }
    pub(super) fn pool_size() -> u32 {
        8
    }
}

/// The configured names, checked, for the backends to splice into SQL.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) table: SqlName,
    pub(crate) id: SqlName,
    pub(crate) changed: SqlName,
    pub(crate) body: SqlName,
    pub(crate) content_type: Option<SqlName>,
    pub(crate) version: Option<SqlName>,
    pub(crate) hold: Option<SqlName>,
    pub(crate) owner: Option<SqlName>,
    pub(crate) ledger: SqlName,
}

impl Names {
    /// Every configured column of the records table, with its config key, for checking that
    /// they exist.
    pub(crate) fn columns(&self) -> impl Iterator<Item = (&'static str, &SqlName)> {
        [
            ("hot.id_column", Some(&self.id)),
            ("hot.changed_column", Some(&self.changed)),
            ("hot.body_column", Some(&self.body)),
            ("hot.content_type_column", self.content_type.as_ref()),
            ("hot.version_column", self.version.as_ref()),
            ("hot.hold_column", self.hold.as_ref()),
            ("edge.auth.owner_column", self.owner.as_ref()),
        ]
        .into_iter()
        .filter_map(|(key, column)| column.map(|column| (key, column)))
    }
}

impl HotConfig {
    /// A configuration for `engine` with every other key at its default.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            path: None,
            url: None,
            table: defaults::table(),
            id_column: defaults::id_column(),
            changed_column: defaults::changed_column(),
            body_column: defaults::body_column(),
            content_type_column: None,
            version_column: None,
            hold_column: None,
            exclude_where: None,
            ledger_table: defaults::ledger_table(),
            pool_size: defaults::pool_size(),
            owner_column: None,
        }
    }

    /// Checks everything that can be checked without the database, so that a bad value
    /// stops the start with a message naming its key. Names must be plain SQL identifiers
    /// because they are spliced into SQL.
    pub fn validate(&self) -> Result<(), String> {
        self.names()?;
        match self.engine {
            Engine::Sqlite if self.path.is_none() => {
                Err("hot.path: the SQLite database file is required for engine = \"sqlite\"".into())
            }
            Engine::Postgres if self.url.is_none() => Err(
                "hot.url: a connection URL (postgres://user@host:5432/db) is required for engine = \"postgres\""
                    .into(),
            ),
            Engine::Postgres if self.pool_size == 0 => {
                Err("hot.pool_size: must be at least 1".into())
            }
            _ => match &self.exclude_where {
                Some(predicate) if predicate.trim().is_empty() => {
                    Err("hot.exclude_where: empty; leave the key out to exclude nothing".into())
                }
                _ => Ok(()),
            },
        }
    }

    pub(crate) fn names(&self) -> Result<Names, String> {
        // SQLite has no schemas, only attached databases, which tiergate does not use.
        let qualified = self.engine == Engine::Postgres;
        let table = |key: &str, text: &str| {
            SqlName::parse(text, qualified).map_err(|why| format!("hot.{key}: {why}"))
        };
        let column = |key: &str, text: &str| {
            SqlName::parse(text, false).map_err(|why| format!("hot.{key}: {why}"))
        };
        let optional = |key: &str, text: &Option<String>| {
            text.as_deref().map(|text| column(key, text)).transpose()
        };
        Ok(Names {
            table: table("table", &self.table)?,
            id: column("id_column", &self.id_column)?,
            changed: column("changed_column", &self.changed_column)?,
            body: column("body_column", &self.body_column)?,
            content_type: optional("content_type_column", &self.content_type_column)?,
            version: optional("version_column", &self.version_column)?,
            hold: optional("hold_column", &self.hold_column)?,
            owner: self
                .owner_column
                .as_deref()
                .map(|text| {
                    SqlName::parse(text, false)
                        .map_err(|why| format!("edge.auth.owner_column: {why}"))
                })
                .transpose()?,
            ledger: table("ledger_table", &self.ledger_table)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres() -> HotConfig {
        HotConfig {
            url: Some("postgres://postgres@127.0.0.1:5432/test".into()),
            ..HotConfig::new(Engine::Postgres)
        }
    }

    #[test]
    fn toml_with_only_the_engine_and_url_takes_the_defaults() {
        let config: HotConfig = toml::from_str(
            "engine = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:5432/test\"",
        )
        .unwrap();
        assert_eq!(config, postgres());
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let parsed =
            toml::from_str::<HotConfig>("engine = \"sqlite\"\npath = \"a.db\"\ntabel = \"x\"");
        assert!(parsed.unwrap_err().to_string().contains("tabel"));
    }

    #[test]
    fn identifiers_that_are_not_plain_names_are_refused_with_their_key() {
        let config = HotConfig {
            id_column: "id; drop table x".into(),
            ..postgres()
        };
        let error = config.validate().unwrap_err();
        assert!(error.starts_with("hot.id_column: "), "{error}");
    }

    #[test]
    fn schema_qualified_tables_only_on_postgres() {
        let qualified = HotConfig {
            table: "billing.records".into(),
            ..postgres()
        };
        assert_eq!(qualified.validate(), Ok(()));
        let sqlite = HotConfig {
            engine: Engine::Sqlite,
            path: Some("a.db".into()),
            ..qualified
        };
        assert!(sqlite.validate().unwrap_err().starts_with("hot.table: "));
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let config = HotConfig {
            url: Some(
                "postgres://tiergate:s3cr%40t:x@db.internal:5432/billing?sslmode=disable&password=0ther"
                    .into(),
            ),
            ..postgres()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cr") && !shown.contains("0ther"),
            "a password is shown: {shown}"
        );
        assert!(
            shown.contains(
                "postgres://tiergate:***@db.internal:5432/billing?sslmode=disable&password=***"
            ),
            "the rest of the URL should stay readable: {shown}"
        );
    }

    #[test]
    fn debug_output_keeps_a_url_without_password_and_hides_other_forms() {
        let shown = format!("{:?}", postgres());
        assert!(
            shown.contains("postgres://postgres@127.0.0.1:5432/test"),
            "{shown}"
        );
        let key_value = HotConfig {
            url: Some("host=db.internal user=tiergate password=s3cret".into()),
            ..postgres()
        };
        let shown = format!("{key_value:?}");
        assert!(!shown.contains("s3cret"), "a password is shown: {shown}");
    }

    #[test]
    fn each_engine_needs_its_location() {
        let error = HotConfig::new(Engine::Sqlite).validate().unwrap_err();
        assert!(error.starts_with("hot.path: "), "{error}");
        let error = HotConfig::new(Engine::Postgres).validate().unwrap_err();
        assert!(error.starts_with("hot.url: "), "{error}");
    }
}
