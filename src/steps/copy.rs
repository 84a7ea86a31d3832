//! Heroku's copy of one database into another (what the official CLI's `pg:copy` does), made
//! at most once for a run however often the step runs, and the check that every table of the
//! copy holds as many rows as the original.

use serde::{Deserialize, Serialize};

use crate::api::models::{Attachment, Transfer};
use crate::api::{ApiClient, CopySpec, copy_name};
use crate::pg::{Db, Target};

use super::backup::follow;
use super::{Checkpoint, Observer, StepError, Wait, database, pushpull};

/// What a run remembers of its copy (kept in its journal under these names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Copying {
    /// The copy this run started, by its transfer id.
    #[serde(
        rename = "copy_transfer",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transfer: Option<String>,
    /// The app's transfers before the copy request was sent: when its answer is lost, a copy
    /// into the same target that is not in this list was started by it.
    #[serde(
        rename = "transfers_before_copy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub before: Option<Vec<String>>,
}

/// One side of a copy: its attachment and its URL (which holds its password).
#[derive(Debug, Clone)]
pub struct Side {
    pub attachment: Attachment,
    pub url: String,
}

impl Side {
    /// The name the copy gives it, as the official CLI names it.
    pub fn name(&self) -> String {
        copy_name(&self.attachment.name)
    }
}

/// Resolves a database of the app (`DATABASE_URL`, `HEROKU_POSTGRESQL_AMBER`, an add-on name)
/// and reads its URL; the observer hears the URL as a secret first.
pub async fn side(
    api: &ApiClient,
    app: &str,
    name: &str,
    observer: &mut dyn Observer,
) -> Result<Side, StepError> {
    let attachment = database::resolve(api, app, Some(name)).await?;
    let url = pushpull::database_url(api, app, Some(&attachment.config_var()), observer).await?;
    Ok(Side { attachment, url })
}

/// How [`copy_once`] came by its finished copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    /// Finished by an earlier attempt of this run.
    Reused(String),
    /// Started by an earlier attempt (or a request whose answer was lost), followed here.
    Followed(String),
    Made(String),
}

/// The app the copy's transfers are listed under: the one that owns the target's add-on.
fn billing_app(to: &Side, app: &str) -> String {
    match to.attachment.addon.app.name.as_str() {
        "" => app.to_string(),
        owner => owner.to_string(),
    }
}

fn is_copy_into(t: &Transfer, to: &Side) -> bool {
    t.from_type == "pg_dump" && t.to_type == "pg_restore" && t.to_name == Some(to.name())
}

/// Copies `from` into `to` at most once for one run: a copy this run started is followed (or
/// taken when finished), one a lost request started is adopted, and one that failed is made
/// again. The transfers that exist before the request are saved first, and the new copy's id
/// as soon as it is known, so that even a kill leaves enough to find it.
pub async fn copy_once(
    api: &ApiClient,
    app: &str,
    (from, to): (&Side, &Side),
    memory: &mut Copying,
    checkpoint: Checkpoint<'_, Copying>,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<(Transfer, Copied), StepError> {
    let billing = billing_app(to, app);
    if let Some(id) = memory.transfer.clone() {
        match api.transfer(&billing, &id, false).await {
            Ok(t) if t.finished_at.is_some() && t.succeeded => {
                return Ok((t.clone(), Copied::Reused(t.display_name())));
            }
            Ok(t) if t.finished_at.is_none() => {
                let done = follow(api, &billing, &id, wait, observer).await?;
                return Ok((done.clone(), Copied::Followed(done.display_name())));
            }
            // It failed (or is gone): a new copy starts over from an emptied target.
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        memory.transfer = None;
    }
    let transfers = api.transfers(&billing).await?;
    if let Some(before) = &memory.before {
        let made = transfers
            .iter()
            .find(|t| !before.contains(&t.uuid.to_string()) && is_copy_into(t, to));
        if let Some(made) = made {
            memory.transfer = Some(made.uuid.to_string());
            memory.before = None;
            checkpoint(memory)?;
            let done = follow(api, &billing, made.uuid.as_str(), wait, observer).await?;
            return Ok((done.clone(), Copied::Followed(done.display_name())));
        }
    }
    memory.before = Some(transfers.iter().map(|t| t.uuid.to_string()).collect());
    checkpoint(memory)?;
    let spec = CopySpec {
        from_name: from.name(),
        from_url: from.url.clone(),
        to_name: to.name(),
        to_url: to.url.clone(),
    };
    let started = api.copy(&to.attachment.addon.id, &spec).await?;
    memory.transfer = Some(started.uuid.to_string());
    memory.before = None;
    checkpoint(memory)?;
    let done = follow(api, &billing, started.uuid.as_str(), wait, observer).await?;
    Ok((done.clone(), Copied::Made(done.display_name())))
}

/// One table's rows on each side; `None` where the table is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRows {
    pub table: String,
    pub source: Option<i64>,
    pub target: Option<i64>,
}

/// Every table (plain and partitioned) outside the catalogs, with its exact row count.
pub async fn row_counts(db: &Db) -> Result<std::collections::BTreeMap<String, i64>, StepError> {
    let tables = db
        .query(
            "list the tables",
            "SELECT n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku') \
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
             ORDER BY 1, 2",
            &[],
        )
        .await?;
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let mut counts = std::collections::BTreeMap::new();
    for row in tables {
        let (schema, table): (String, String) = (row.get(0), row.get(1));
        let sql = format!(
            "SELECT count(*) FROM ONLY {}.{}",
            quote(&schema),
            quote(&table)
        );
        let rows = db.query("count the rows of a table", &sql, &[]).await?;
        counts.insert(format!("{schema}.{table}"), rows[0].get::<_, i64>(0));
    }
    Ok(counts)
}

/// The tables whose rows differ between two databases (a table missing on one side counts).
pub fn differences(
    source: &std::collections::BTreeMap<String, i64>,
    target: &std::collections::BTreeMap<String, i64>,
) -> Vec<TableRows> {
    let names: std::collections::BTreeSet<&String> = source.keys().chain(target.keys()).collect();
    names
        .into_iter()
        .map(|table| TableRows {
            table: table.clone(),
            source: source.get(table).copied(),
            target: target.get(table).copied(),
        })
        .filter(|t| t.source != t.target)
        .collect()
}

/// Counts the rows of every table on both sides; fails on the first difference it lists.
/// Returns how many tables and rows were compared.
pub async fn compare_rows(app: &str, from: &Side, to: &Side) -> Result<(usize, i64), StepError> {
    let source = row_counts(&Target::parse(&from.url)?.connect().await?).await?;
    let target = row_counts(&Target::parse(&to.url)?.connect().await?).await?;
    let diff = differences(&source, &target);
    if let Some(first) = diff.first() {
        let show = |n: Option<i64>| n.map_or("no table".to_string(), |n| format!("{n} rows"));
        return Err(StepError::RowCountMismatch {
            app: app.to_string(),
            differences: diff.len(),
            first: format!(
                "{}: {} in {}, {} in {}",
                first.table,
                show(first.source),
                from.name(),
                show(first.target),
                to.name()
            ),
        });
    }
    Ok((source.len(), source.values().sum()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_table_and_a_short_one_are_differences() {
        let source = [("public.a", 3), ("public.b", 5), ("public.c", 0)]
            .map(|(k, v)| (k.to_string(), v))
            .into_iter()
            .collect();
        let target = [("public.a", 3), ("public.b", 4)]
            .map(|(k, v)| (k.to_string(), v))
            .into_iter()
            .collect();
        let diff = differences(&source, &target);
        let tables: Vec<&str> = diff.iter().map(|d| d.table.as_str()).collect();
        assert_eq!(tables, ["public.b", "public.c"]);
        assert_eq!(diff[1].target, None);
        assert!(differences(&source, &source).is_empty());
    }

    #[test]
    fn the_copy_state_round_trips_under_its_journal_names() {
        let state = Copying {
            transfer: Some("abc".into()),
            before: None,
        };
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json, serde_json::json!({ "copy_transfer": "abc" }));
        assert_eq!(serde_json::from_value::<Copying>(json).unwrap(), state);
    }
}
