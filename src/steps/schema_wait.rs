//! Waiting for the schema of an app that migrates at boot: looks at the schema (and the
//! dynos) on the wait's schedule, and between two looks a watch on the database alone, which
//! asks the platform nothing, for the moment the last expected table appears.

use std::time::{Duration, Instant};

use crate::api::ApiClient;
use crate::pg::{self, Db, Expected};

use super::dynos::{self, DynoStates};
use super::schema::{
    KeptConnection, SchemaCheck, check, connect_reusing, database_url, table_names,
};
use super::{Event, Observer, StepError, Wait};

/// Whether a wait for the schema also looks at the app's dynos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchDynos {
    Yes,
    No,
}

impl WatchDynos {
    async fn look(self, api: &ApiClient, app: &str) -> Result<Option<DynoStates>, StepError> {
        match self {
            WatchDynos::Yes => Ok(Some(dynos::look(api, app).await?)),
            WatchDynos::No => Ok(None),
        }
    }
}

/// The watch on the tables between two looks: one planned catalog query on a connection already
/// open. It looks every 3 ms for the first half second, while a small app's migration is
/// likely to end; then each pause is a twentieth longer than the one before (the end is seen
/// within a twentieth of the time waited since, plus 3 ms), up to a few looks a second once
/// it takes long (after about five seconds more).
const TABLE_WATCH_FIRST: Duration = Duration::from_millis(3);
const TABLE_WATCH_STEADY_FOR: Duration = Duration::from_millis(500);
const TABLE_WATCH_GROWTH: f64 = 1.05;
const TABLE_WATCH_LONGEST: Duration = Duration::from_millis(250);

/// Checks the app's schema until it is ready or the wait runs out. An app that migrates at
/// boot gets there in its own time, so a pending check is polled, each time through the
/// current `DATABASE_URL`. With `dynos` set, each look also looks at the app's dynos: one that
/// crashed ends the wait at once, and the ready line says which are still starting. While
/// expected tables are missing, the pause before the next look ends as soon as they are all
/// there.
pub async fn verify_until_ready(
    api: &ApiClient,
    app: &str,
    expected: Option<&Expected>,
    dynos: WatchDynos,
    wait: Wait,
    mut kept: Option<KeptConnection>,
    observer: &mut dyn Observer,
) -> Result<String, StepError> {
    // The last look, for the error when time runs out (in a check, or between two).
    let mut last: Option<(usize, String)> = None;
    let polled = wait
        .bound("the schema", async {
            let mut deadline = wait.deadline();
            let mut prepared = false;
            loop {
                let (looked, states) = tokio::join!(
                    look_at_schema(api, app, expected, &mut kept, observer),
                    dynos.look(api, app)
                );
                let states = states?;
                let (checked, tables_missing) = looked?;
                let (differences, first) = match checked {
                    SchemaCheck::Ready(line) => return Ok(with_dynos(line, states)),
                    SchemaCheck::Pending { differences, first } => (differences, first),
                };
                observer.event(Event::Status(format!(
                    "{differences} difference(s): {first}"
                )));
                last = Some((differences, first));
                let watched = match (&kept, expected) {
                    (Some(kept), Some(expected)) if tables_missing => Some((kept.db(), expected)),
                    _ => None,
                };
                if let Some((db, expected)) = watched.filter(|_| !prepared) {
                    // The migration takes a while; the verify that follows it then finds its
                    // reads planned (not inside the race below: a cancelled read could leave
                    // its transaction open).
                    pg::prepare_verify(db, expected).await;
                    prepared = true;
                }
                let sooner = async {
                    match watched {
                        Some((db, expected)) => until_tables_are_there(db, expected).await,
                        None => std::future::pending().await,
                    }
                };
                deadline.tick_or("the schema", sooner).await?;
            }
        })
        .await;
    match polled {
        Err(StepError::Timeout { after, .. }) => Err(match expected {
            Some(_) => {
                let (differences, first) =
                    last.unwrap_or_else(|| (1, "the schema could not be checked in time".into()));
                StepError::SchemaNotReached {
                    app: app.to_string(),
                    after,
                    differences,
                    first,
                }
            }
            None => StepError::NoTables {
                schema: "public".into(),
                after,
            },
        }),
        other => other,
    }
}

/// One look at the schema through the current `DATABASE_URL`, and whether expected tables
/// are missing. The last look's connection (or the step's before) is used again while the URL
/// is the same: no new session to authenticate, and its server process has the catalogs in
/// its caches. That connection looks while the platform is asked for the URL; the look counts
/// only if the URL is still the connection's.
async fn look_at_schema(
    api: &ApiClient,
    app: &str,
    expected: Option<&Expected>,
    kept: &mut Option<KeptConnection>,
    observer: &mut dyn Observer,
) -> Result<(SchemaCheck, bool), StepError> {
    let url = match kept.as_mut().filter(|k| k.is_fresh()) {
        Some(known) => {
            let (url, checked) = tokio::join!(
                database_url(api, app, observer),
                check_while_migrating(known.db(), expected)
            );
            let url = url?;
            if known.serves(&url) {
                known.touch();
                return checked;
            }
            url
        }
        None => database_url(api, app, observer).await?,
    };
    let db = connect_reusing(kept, &url).await?;
    let checked = check_while_migrating(&db, expected).await;
    *kept = Some(KeptConnection::new(url, db));
    checked
}

/// A look while an app migrates: a migration under way lacks tables, and one query says so
/// before the whole comparison is made.
async fn check_while_migrating(
    db: &Db,
    expected: Option<&Expected>,
) -> Result<(SchemaCheck, bool), StepError> {
    if let Some(expected) = expected {
        let present = table_names(db, &expected.schema).await?;
        let missing = pg::missing_tables(expected, present.iter().map(String::as_str));
        if let Some(first) = missing.first() {
            let pending = SchemaCheck::Pending {
                differences: missing.len(),
                first: first.to_string(),
            };
            return Ok((pending, true));
        }
    }
    Ok((check(db, expected).await?, false))
}

/// Ends once every table `expected` lists is in the database: counted by one catalog query,
/// every few milliseconds at first, less often as the wait goes on. A failing query ends
/// nothing; the next look says what is wrong.
pub async fn until_tables_are_there(db: &Db, expected: &Expected) {
    let count = count_of_tables(&expected.schema, expected.tables.keys());
    let listed = expected.tables.len();
    let started = Instant::now();
    let mut pause = TABLE_WATCH_FIRST;
    loop {
        tokio::time::sleep(pause).await;
        match db.query_kept("count the expected tables", &count).await {
            Ok(rows) if usize::try_from(rows[0].get::<_, i64>(0)).ok() == Some(listed) => return,
            Ok(_) => {}
            Err(_) => return std::future::pending().await,
        }
        if started.elapsed() >= TABLE_WATCH_STEADY_FOR {
            pause = pause.mul_f64(TABLE_WATCH_GROWTH).min(TABLE_WATCH_LONGEST);
        }
    }
}

/// The statement counting which of `names` are tables of `schema`, the names written in: the
/// session keeps it, since the watch sends it again and again.
fn count_of_tables<'a>(schema: &str, names: impl Iterator<Item = &'a String>) -> String {
    let listed: Vec<String> = names.map(|name| pg::literal(name)).collect();
    format!(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = {} AND c.relkind IN ('r', 'p') AND c.relname = ANY(ARRAY[{}]::name[])",
        pg::literal(schema),
        listed.join(", ")
    )
}

fn with_dynos(line: String, states: Option<DynoStates>) -> String {
    match states {
        Some(states) if !states.is_empty() => format!("{line}; {}", states.summary()),
        _ => line,
    }
}
