//! The app's database itself, reached through its `DATABASE_URL`: its tables, the schema drop,
//! and the check that the app has migrated it again.

use std::time::{Duration, Instant};

use crate::api::ApiClient;
use crate::pg::drop::{DropOptions, DropReport, SchemaState};
use crate::pg::{self, Db, Expected, Target};

use super::{Event, Observer, StepError};

/// The app's `DATABASE_URL` as it is now (it changes on promotion). The observer hears it as a
/// secret first, so that it is masked before anything could print it.
pub async fn database_url(
    api: &ApiClient,
    app: &str,
    observer: &mut dyn Observer,
) -> Result<String, StepError> {
    let vars = api.config_vars(app).await?;
    let url = vars
        .get("DATABASE_URL")
        .cloned()
        .ok_or_else(|| StepError::NoDatabaseUrl {
            app: app.to_string(),
        })?;
    observer.event(Event::Secret(url.clone()));
    Ok(url)
}

/// A connection to the app's current database.
pub async fn connect(
    api: &ApiClient,
    app: &str,
    observer: &mut dyn Observer,
) -> Result<Db, StepError> {
    let url = database_url(api, app, observer).await?;
    Ok(Target::parse(&url)?.connect().await?)
}

/// A connection kept for the next step or look at the same database. It serves again while
/// it is to the URL asked for, still open, and idle for less than a minute: one idle longer
/// may have been dropped on the way without either end knowing.
pub struct KeptConnection {
    url: String,
    db: Db,
    since: Instant,
}

const KEPT_AT_MOST: Duration = Duration::from_secs(60);

impl KeptConnection {
    pub fn new(url: String, db: Db) -> KeptConnection {
        KeptConnection {
            url,
            db,
            since: Instant::now(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The connection, when it can serve `url`.
    fn serving(self, url: &str) -> Option<Db> {
        self.serves(url).then_some(self.db)
    }

    /// Whether the connection is still open, recent, and to `url`.
    pub fn serves(&self, url: &str) -> bool {
        self.is_fresh() && self.url == url
    }

    /// Whether the connection is still open and recent enough to be used again.
    pub fn is_fresh(&self) -> bool {
        self.since.elapsed() < KEPT_AT_MOST && !self.db.is_closed()
    }

    /// Counts the connection as just used.
    pub fn touch(&mut self) {
        self.since = Instant::now();
    }
}

/// A connection to `url`: the kept one when it can serve it, else a new one.
pub async fn connect_reusing(
    kept: &mut Option<KeptConnection>,
    url: &str,
) -> Result<Db, StepError> {
    match kept.take().and_then(|k| k.serving(url)) {
        Some(db) => Ok(db),
        None => Ok(Target::parse(url)?.connect().await?),
    }
}

/// How long a reading of the schema stands in for the drop's own. A drop that follows its plan
/// at once (no prompt, no safety backup between) would only read the same again; and its own
/// reading holds no lock either, since the drop takes its locks as it drops.
const READING_FRESH_FOR: Duration = Duration::from_secs(1);

/// What a read of schema `public` found, of which database, and when.
#[derive(Debug)]
pub struct SchemaReading {
    url: String,
    state: SchemaState,
    at: Instant,
}

impl SchemaReading {
    /// A reading of the database at `url`, taken just now.
    pub fn new(url: String, state: SchemaState) -> SchemaReading {
        SchemaReading {
            url,
            state,
            at: Instant::now(),
        }
    }

    /// The reading, when it is of the database at `url` and recent enough to stand in for a
    /// new one.
    pub fn fresh_for(self, url: &str) -> Option<SchemaState> {
        self.is_fresh_at(url, Instant::now()).then_some(self.state)
    }

    fn is_fresh_at(&self, url: &str, now: Instant) -> bool {
        now.saturating_duration_since(self.at) < READING_FRESH_FOR && self.url == url
    }
}

/// The tables (plain and partitioned) of a schema, by name.
pub async fn table_names(db: &Db, schema: &str) -> Result<Vec<String>, StepError> {
    let rows = db
        .query_catalog(
            "list the tables of the schema",
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1",
            schema,
        )
        .await?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// About how many rows the tables of a schema hold, from the planner's statistics (or the
/// live-tuple count, for tables never analysed): cheap at any size, close enough to say what a
/// drop would lose.
pub async fn estimated_rows(db: &Db, schema: &str) -> Result<i64, StepError> {
    let rows = db
        .query_catalog(
            "estimate the rows of the schema",
            // The statistics function rather than the `pg_stat_user_tables` view it feeds:
            // the view costs a fresh session several milliseconds of planning.
            "SELECT coalesce(sum(greatest(c.reltuples::bigint, pg_stat_get_live_tuples(c.oid), 0)), 0)::bigint \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'r'",
            schema,
        )
        .await?;
    Ok(rows[0].get(0))
}

/// Drops schema `public` of the app's database and recreates it, in one transaction. Objects
/// in other schemas that depend on it make it refuse, unless `allow_dependents`. `read_before`
/// is a [`SchemaReading`] still fresh, which the drop then need not repeat.
pub async fn drop(
    db: &Db,
    allow_dependents: bool,
    read_before: Option<SchemaState>,
) -> Result<DropReport, StepError> {
    let options = DropOptions {
        allow_dependents,
        read_before,
        ..DropOptions::default()
    };
    Ok(pg::drop::drop_schema(db, &options).await?)
}

/// How the schema looked at one check.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaCheck {
    /// It matches the expected schema (or, with none, has tables): the line to report.
    Ready(String),
    /// Not yet: how many differences, and the first of them (or "no tables yet").
    Pending { differences: usize, first: String },
}

/// Looks at the schema once: against `expected` when given, else for any table in `public`.
pub async fn check(db: &Db, expected: Option<&Expected>) -> Result<SchemaCheck, StepError> {
    let Some(expected) = expected else {
        let tables = table_names(db, "public").await?;
        return Ok(if tables.is_empty() {
            SchemaCheck::Pending {
                differences: 1,
                first: "no tables yet".into(),
            }
        } else {
            SchemaCheck::Ready(format!("{} tables: {}", tables.len(), tables.join(", ")))
        });
    };
    let pg::Verified {
        schema,
        drifts: drift,
    } = pg::verify_live(db, expected, &pg::VerifyOptions::default()).await?;
    Ok(match drift.first() {
        None => SchemaCheck::Ready(format!("schema matches ({} tables)", schema.tables.len())),
        Some(first) => SchemaCheck::Pending {
            differences: drift.len(),
            first: first.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading() -> SchemaReading {
        let mut state = SchemaState::default();
        state.tables = 3;
        SchemaReading::new("postgres://a@h/db".into(), state)
    }

    #[test]
    fn a_reading_stands_in_only_for_its_own_database_and_only_briefly() {
        let reading = reading();
        let soon = reading.at + Duration::from_millis(5);
        assert!(reading.is_fresh_at("postgres://a@h/db", soon));
        assert!(!reading.is_fresh_at("postgres://a@h/other", soon));
        let later = reading.at + READING_FRESH_FOR;
        assert!(!reading.is_fresh_at("postgres://a@h/db", later));
        // Just taken, it hands over what it read.
        let state = reading.fresh_for("postgres://a@h/db").unwrap();
        assert_eq!(state.tables, 3);
    }
}
