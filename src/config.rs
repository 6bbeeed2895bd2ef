//! Start-up configuration values that need parsing: the database URL and secrets.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where ctid keeps its data. Only `sqlite:` and `postgres:` URLs are accepted.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite { path: PathBuf },
    Postgres { url: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("unsupported database URL scheme {0:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB")]
    Scheme(String),
    #[error("database URL has no scheme: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB")]
    NoScheme,
    #[error("sqlite URL has no file path: use sqlite://PATH (sqlite://ctid.db, sqlite:///var/lib/ctid/ctid.db)")]
    EmptyPath,
    #[error("in-memory SQLite databases are refused: ctid keeps what it acknowledges")]
    Memory,
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = text.split_once(':').ok_or(DatabaseUrlError::NoScheme)?;
        match scheme {
            "sqlite" => {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                let path = rest.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err(DatabaseUrlError::EmptyPath);
                }
                if path == ":memory:" || rest.contains("mode=memory") {
                    return Err(DatabaseUrlError::Memory);
                }
                Ok(Self::Sqlite { path: PathBuf::from(path) })
            }
            "postgres" | "postgresql" => Ok(Self::Postgres { url: text.to_string() }),
            "" => Err(DatabaseUrlError::NoScheme),
            other => Err(DatabaseUrlError::Scheme(other.to_string())),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    /// The URL with any password replaced by `***`, safe for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            Self::Postgres { url } => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A secret value that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_urls() {
        assert_eq!("sqlite://ctid.db".parse(), Ok(DatabaseUrl::Sqlite { path: "ctid.db".into() }));
        assert_eq!("sqlite:///var/lib/ctid.db".parse(), Ok(DatabaseUrl::Sqlite { path: "/var/lib/ctid.db".into() }));
        assert_eq!("sqlite:data.db".parse(), Ok(DatabaseUrl::Sqlite { path: "data.db".into() }));
    }

    #[test]
    fn refuses_other_schemes_and_memory() {
        assert_eq!("mysql://x".parse::<DatabaseUrl>(), Err(DatabaseUrlError::Scheme("mysql".into())));
        assert_eq!("ctid.db".parse::<DatabaseUrl>(), Err(DatabaseUrlError::NoScheme));
        assert_eq!("sqlite://".parse::<DatabaseUrl>(), Err(DatabaseUrlError::EmptyPath));
        assert_eq!("sqlite://:memory:".parse::<DatabaseUrl>(), Err(DatabaseUrlError::Memory));
    }

    #[test]
    fn redacts_postgres_passwords() {
        let url: DatabaseUrl = "postgres://ctid:s3cret@db:5432/ctid".parse().expect("valid");
        assert_eq!(url.to_string(), "postgres://ctid:***@db:5432/ctid");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}
