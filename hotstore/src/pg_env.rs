//! What `hot.url` leaves out, taken where PostgreSQL's own tools take it: the `PGHOST`,
//! `PGPORT`, `PGUSER`, `PGDATABASE` and `PGPASSWORD` variables, then the password file
//! (`PGPASSFILE`, or `~/.pgpass`). So the password never has to be in tiergate's config
//! file. tokio-postgres reads none of these itself.
//!
//! Pure: the environment and the password file come in as arguments.

use tokio_postgres::config::{Config, Host};

/// Fills in what `config` (parsed from `hot.url`) lacks from `env` (a variable's value by
/// name) and `pgpass` (the password file's contents, when there is one). The URL wins
/// over the environment, as with `psql`.
pub(crate) fn fill(
    config: &mut Config,
    env: impl Fn(&str) -> Option<String>,
    pgpass: Option<&str>,
) {
    // A URL that names a host has a port too (tokio-postgres fills in 5432): PGPORT goes
    // with PGHOST, for a URL that names neither.
    if config.get_hosts().is_empty() {
        if let Some(hosts) = env("PGHOST") {
            for host in hosts.split(',') {
                config.host(host);
            }
        }
        if let Some(port) = env("PGPORT").and_then(|p| p.parse().ok()) {
            config.port(port);
        }
    }
    if config.get_user().is_none()
        && let Some(user) = env("PGUSER")
    {
        config.user(user);
    }
    if config.get_dbname().is_none()
        && let Some(dbname) = env("PGDATABASE")
    {
        config.dbname(dbname);
    }
    if config.get_password().is_some() {
        return;
    }
    if let Some(password) = env("PGPASSWORD") {
        config.password(password);
    } else if let Some(password) = pgpass.and_then(|file| from_pgpass(config, file)) {
        config.password(password);
    }
}

/// Where the password file is: `PGPASSFILE`, else `~/.pgpass`.
pub(crate) fn pgpass_path(env: impl Fn(&str) -> Option<String>) -> Option<std::path::PathBuf> {
    env("PGPASSFILE")
        .map(Into::into)
        .or_else(|| env("HOME").map(|home| std::path::Path::new(&home).join(".pgpass")))
}

/// The password of the first line of `file` (`host:port:database:user:password`, `*`
/// matching anything, `\:` and `\\` escaped) that matches the connection.
fn from_pgpass(config: &Config, file: &str) -> Option<String> {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        // A socket directory matches "localhost", as in libpq.
        Some(Host::Unix(_)) | None => "localhost".to_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user()?.to_owned();
    let database = config.get_dbname().unwrap_or(&user).to_owned();
    let wanted = [host, port, database, user];
    file.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split_fields(line);
            let [h, p, d, u, password] = fields.as_slice() else {
                return None;
            };
            let matches = [h, p, d, u]
                .iter()
                .zip(&wanted)
                .all(|(field, wanted)| field.as_str() == "*" || field == &wanted);
            matches.then(|| password.clone())
        })
}

fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one field").extend(chars.next()),
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn parsed(url: &str) -> Config {
        url.parse().unwrap()
    }

    #[test]
    fn the_url_wins_and_the_environment_fills_the_rest() {
        let mut config = parsed("postgres://app@db.internal/billing");
        let vars = [
            ("PGUSER", "other"),
            ("PGHOST", "elsewhere"),
            ("PGPORT", "6432"),
            ("PGPASSWORD", "s3cret"),
        ];
        fill(&mut config, env(&vars), None);
        assert_eq!(config.get_user(), Some("app"));
        assert_eq!(config.get_hosts(), &[Host::Tcp("db.internal".into())]);
        assert_eq!(config.get_ports(), &[5432]);
        assert_eq!(config.get_dbname(), Some("billing"));
        assert_eq!(config.get_password(), Some(&b"s3cret"[..]));

        let mut bare = parsed("postgres://");
        let vars = [
            ("PGHOST", "db"),
            ("PGPORT", "6432"),
            ("PGUSER", "u"),
            ("PGDATABASE", "d"),
        ];
        fill(&mut bare, env(&vars), None);
        assert_eq!(bare.get_hosts(), &[Host::Tcp("db".into())]);
        assert_eq!(bare.get_ports(), &[6432]);
        assert_eq!((bare.get_user(), bare.get_dbname()), (Some("u"), Some("d")));
        assert_eq!(bare.get_password(), None);
    }

    #[test]
    fn a_password_in_the_url_is_kept() {
        let mut config = parsed("postgres://app:inline@db/billing");
        fill(
            &mut config,
            env(&[("PGPASSWORD", "env")]),
            Some("*:*:*:*:file"),
        );
        assert_eq!(config.get_password(), Some(&b"inline"[..]));
    }

    #[test]
    fn the_password_file_gives_the_first_matching_line() {
        let file = "# comment\n\
                    other:5432:billing:app:wrong-host\n\
                    db:5432:billing:app:pa\\:ss\\\\word\n\
                    *:*:*:*:fallback\n";
        let mut config = parsed("postgres://app@db/billing");
        fill(&mut config, env(&[]), Some(file));
        assert_eq!(config.get_password(), Some(&b"pa:ss\\word"[..]));

        let mut other = parsed("postgres://app@db:6432/billing");
        fill(&mut other, env(&[]), Some(file));
        assert_eq!(other.get_password(), Some(&b"fallback"[..]));

        let mut none = parsed("postgres://app@db/billing");
        fill(&mut none, env(&[]), Some("db:5432:billing:someone:x\n"));
        assert_eq!(none.get_password(), None);
    }

    #[test]
    fn the_password_file_is_found_where_libpq_looks() {
        assert_eq!(
            pgpass_path(env(&[("PGPASSFILE", "/etc/pg"), ("HOME", "/home/u")])),
            Some("/etc/pg".into())
        );
        assert_eq!(
            pgpass_path(env(&[("HOME", "/home/u")])),
            Some("/home/u/.pgpass".into())
        );
    }
}
