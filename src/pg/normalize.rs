//! Compares definitions as the server means them, not as text.
//!
//! PostgreSQL does not print a parsed definition back the way it was written, and printing is
//! not stable across a dump and restore: `CHECK (k IN ('x', 'y'))` reads back as
//! `((ARRAY['x'::character varying, ...])::text[])` and, once restored from that text, as
//! `ARRAY[('x'::character varying)::text, ...]`. Text that differs may therefore mean the
//! same. For each definition that differs, both sides are given to the live server as
//! temporary objects (a table `LIKE` the real one, so columns, types and names resolve as in
//! the real schema) and read back with the same `pg_get_*def` functions as the live objects,
//! in one transaction that is rolled back. Only the drifts whose two renderings still differ
//! are kept. When comparing two databases, the second one's server renders both sides, which
//! also removes differences between major versions in how definitions are printed.
//!
//! The work is a fixed number of statements, whatever the number of differences: one `DO`
//! block renders every definition from a JSON list, each in a subtransaction it then undoes
//! (so that neither the temporary objects nor their locks pile up), and one query reads the
//! renderings.

use std::collections::{BTreeMap, HashMap};

use super::PgError;
use super::connect::Db;
use super::expected::Expected;
use super::expected::Items;
use super::introspect::{
    LOCK_TIMEOUT, Schema, index_definitions, introspect, introspect_with_lock_timeout,
};
use super::verify::{Drift, Render, VerifyOptions, same_sql, verify_with};

/// Statements sent by [`normalize`] when some drift can be rendered by the server.
pub const STATEMENTS: u64 = 5;

/// The schema as read and the drifts that remain after normalization.
#[derive(Debug, Clone)]
pub struct Verified {
    pub schema: Schema,
    pub drifts: Vec<Drift>,
}

/// Reads the schema `expected` describes from `db`, compares, and normalizes the differing
/// definitions through `db`'s server. What the `pg.verify` step and `herokuops verify` run.
pub async fn verify_live(
    db: &Db,
    expected: &Expected,
    options: &VerifyOptions,
) -> Result<Verified, PgError> {
    let schema = introspect(db, &expected.schema, &expected.probe()).await?;
    verify_read(db, expected, schema, options).await
}

/// Has `db`'s session prepare and plan the reads of [`verify_live`] by running them once, and
/// forgets what they find: a later verify on the same connection then costs only their
/// execution. For the time an app spends migrating; waiting at most a millisecond for any
/// lock, so that it never waits behind the migration. Nothing it meets is an error: the
/// verify that counts says what is wrong.
pub async fn prepare_verify(db: &Db, expected: &Expected) {
    let quick = std::time::Duration::from_millis(1);
    let _ = introspect_with_lock_timeout(db, &expected.schema, &expected.probe(), quick).await;
}

/// [`verify_live`] of a schema already read from `db` (with the migration table the file
/// names, if any).
pub async fn verify_read(
    db: &Db,
    expected: &Expected,
    mut schema: Schema,
    options: &VerifyOptions,
) -> Result<Verified, PgError> {
    index_definitions(db, &mut schema, &listed_index_definitions(expected)).await?;
    let drifts = verify_with(expected, &schema, options);
    let drifts = normalize(db, &schema, drifts).await?;
    Ok(Verified { schema, drifts })
}

/// Renders each group of the JSON list in `herokuops.normalize`, `{"key", "run": [...],
/// "read"}`, in a subtransaction of its own that is then undone: the temporary objects and
/// their locks go with it, so any number of definitions fits in one transaction. The
/// renderings survive in a local variable and end up in `herokuops.rendered`. A group that
/// fails (an expected definition naming a column the table lacks) is left unrendered.
const RENDER_GROUPS: &str = "DO $herokuops$
DECLARE
  item jsonb;
  statement text;
  rendered text;
  result jsonb := '{}';
BEGIN
  FOR item IN SELECT * FROM jsonb_array_elements(current_setting('herokuops.normalize')::jsonb) LOOP
    BEGIN
      FOR statement IN SELECT * FROM jsonb_array_elements_text(item -> 'run') LOOP
        EXECUTE statement;
      END LOOP;
      EXECUTE item ->> 'read' INTO rendered;
      result := result || jsonb_build_object(item ->> 'key', rendered);
      RAISE EXCEPTION 'undo';
    EXCEPTION WHEN others THEN NULL;
    END;
  END LOOP;
  PERFORM set_config('herokuops.rendered', result::text, true);
END
$herokuops$";

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The two sides of one drift: `e` for the expected text, `f` for the one found.
/// The (table, index) pairs whose definitions the file gives.
fn listed_index_definitions(expected: &Expected) -> Vec<(String, String)> {
    expected
        .tables
        .iter()
        .filter_map(|(table, spec)| match &spec.indexes {
            Some(Items::Specs(specs)) => Some(specs.keys().map(|i| (table.clone(), i.clone()))),
            _ => None,
        })
        .flatten()
        .collect()
}

const SIDES: [char; 2] = ['e', 'f'];

/// What to create for one side of a drift, and the query that reads its rendering back.
#[derive(serde::Serialize)]
struct Scratch {
    key: String,
    run: Vec<String>,
    read: String,
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A default is set on the column; a generation expression needs the column made again.
fn default_scratch(
    like: String,
    column: &str,
    data_type: &str,
    text: &str,
) -> Option<(Vec<String>, String)> {
    let quoted = quote_ident(column);
    let mut run = vec![like];
    match text
        .strip_prefix("generated always as ")
        .and_then(|t| t.strip_suffix(" stored"))
    {
        Some(expression) => run.extend([
            format!("ALTER TABLE herokuops_t DROP COLUMN {quoted}"),
            format!(
                "ALTER TABLE herokuops_t ADD COLUMN {quoted} {data_type} GENERATED ALWAYS AS {expression} STORED"
            ),
        ]),
        // Identity: no expression to render.
        None if text.starts_with("generated ") => return None,
        None => run.push(format!(
            "ALTER TABLE herokuops_t ALTER COLUMN {quoted} SET DEFAULT {text}"
        )),
    }
    let read = format!(
        "SELECT CASE WHEN a.attgenerated = 's' \
           THEN 'generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') stored' \
           ELSE pg_get_expr(d.adbin, d.adrelid) END \
           FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
          WHERE d.adrelid = 'pg_temp.herokuops_t'::regclass AND a.attname = {}",
        literal(column)
    );
    Some((run, read))
}

/// The index text from ` USING ` on: the part that does not name the index and its table.
fn index_tail(definition: &str) -> Option<&str> {
    definition.find(" USING ").map(|at| &definition[at..])
}

const READ_CONSTRAINT: &str = "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
     WHERE conname = 'herokuops_n' AND connamespace = pg_my_temp_schema()";

/// What a rendering depends on besides the text: the columns of the table it is made on (so
/// that tables of the same shape share renderings), or the domain's base type.
fn shape(live: &Schema, render: &Render) -> String {
    match render {
        Render::Constraint { table } => format!("constraint {}", shape_of(live, table)),
        Render::Index { table } => format!("index {}", shape_of(live, table)),
        Render::PolicyExpression { table, with_check } => {
            format!("policy {with_check} {}", shape_of(live, table))
        }
        Render::ColumnDefault {
            table,
            column,
            data_type,
        } => format!("default {column} {data_type} {}", shape_of(live, table)),
        Render::View => "view".into(),
        Render::DomainCheck { base_type } => format!("domain {base_type}"),
    }
}

fn shape_of(live: &Schema, table: &str) -> String {
    match live.tables.get(table) {
        Some(t) => t
            .columns
            .iter()
            .map(|c| format!("{} {} {:?};", c.name, c.data_type, c.collation))
            .collect(),
        // A materialized view's index: its own shape.
        None => format!("relation {table}"),
    }
}

fn scratch(schema: &str, render: &Render, text: &str, key: usize) -> Option<Scratch> {
    let key = key.to_string();
    let like = |source: &str| {
        format!(
            "CREATE TEMP TABLE herokuops_t (LIKE {}.{})",
            quote_ident(schema),
            quote_ident(source)
        )
    };
    let (run, read) = match render {
        Render::Constraint { table: source } => (
            vec![
                like(source),
                format!("ALTER TABLE herokuops_t ADD CONSTRAINT herokuops_n {text}"),
            ],
            READ_CONSTRAINT.to_string(),
        ),
        Render::ColumnDefault {
            table: source,
            column,
            data_type,
        } => default_scratch(like(source), column, data_type, text)?,
        Render::Index { table: source } => {
            let unique = if text.starts_with("CREATE UNIQUE ") {
                "UNIQUE "
            } else {
                ""
            };
            let tail = index_tail(text)?;
            (
                vec![
                    like(source),
                    format!("CREATE {unique}INDEX herokuops_n ON herokuops_t{tail}"),
                ],
                "SELECT pg_get_indexdef('pg_temp.herokuops_n'::regclass)".to_string(),
            )
        }
        Render::View => (
            vec![format!(
                "CREATE TEMP VIEW herokuops_n AS {}",
                text.trim().trim_end_matches(';')
            )],
            "SELECT pg_get_viewdef('pg_temp.herokuops_n'::regclass)".to_string(),
        ),
        Render::PolicyExpression {
            table: source,
            with_check,
        } => {
            let clause = if *with_check { "WITH CHECK" } else { "USING" };
            (
                vec![
                    like(source),
                    format!("CREATE POLICY herokuops_n ON herokuops_t {clause} ({text})"),
                ],
                "SELECT COALESCE(pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)) \
                   FROM pg_policy WHERE polname = 'herokuops_n' AND polrelid = 'pg_temp.herokuops_t'::regclass"
                    .to_string(),
            )
        }
        Render::DomainCheck { base_type } => (
            vec![format!(
                "CREATE DOMAIN pg_temp.herokuops_d AS {base_type} CONSTRAINT herokuops_n {text}"
            )],
            READ_CONSTRAINT.to_string(),
        ),
    };
    Some(Scratch { key, run, read })
}

/// Drops the drifts whose two sides the server renders the same; the others show the
/// server's renderings. Returns the drifts unchanged when the server cannot make temporary
/// objects (a read-only standby).
pub async fn normalize(db: &Db, live: &Schema, drifts: Vec<Drift>) -> Result<Vec<Drift>, PgError> {
    // Each distinct rendering once: a schema made by a tool repeats the same CHECK on many
    // tables of the same shape, and a restore changes the text of every one of them.
    let mut groups: Vec<Scratch> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut sides: HashMap<(usize, char), usize> = HashMap::new();
    for (i, drift) in drifts.iter().enumerate() {
        let Some(render) = &drift.render else {
            continue;
        };
        for side in SIDES {
            let text = if side == 'e' {
                &drift.expected
            } else {
                &drift.found
            };
            // An index's text names the index and its table; what is rendered is the rest.
            let rendered_part = match render {
                Render::Index { .. } => index_tail(text).unwrap_or(text),
                _ => text,
            };
            let key = format!("{}\u{0}{rendered_part}", shape(live, render));
            let group = match by_key.get(&key) {
                Some(group) => *group,
                None => {
                    let Some(scratch) = scratch(&live.schema, render, text, groups.len()) else {
                        continue;
                    };
                    groups.push(scratch);
                    by_key.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            sides.insert((i, side), group);
        }
    }
    if groups.is_empty() {
        return Ok(drifts);
    }
    let groups = serde_json::to_string(&groups).unwrap_or_default();
    let rendered = match render_all(db, &live.schema, &groups).await {
        Ok(rendered) => rendered,
        Err(e @ PgError::ConnectionLost { .. }) => return Err(e),
        Err(_) => return Ok(drifts),
    };
    let mut out = Vec::with_capacity(drifts.len());
    for (i, mut drift) in drifts.into_iter().enumerate() {
        let side = |side: char| {
            let group = sides.get(&(i, side))?;
            rendered.get(&group.to_string()).cloned().flatten()
        };
        if let (Some(e), Some(f)) = (side('e'), side('f')) {
            if same_sql(&e, &f) {
                continue;
            }
            if matches!(drift.render, Some(Render::Index { .. })) {
                drift.expected = restore_index_head(&drift.expected, &e);
                drift.found = restore_index_head(&drift.found, &f);
            } else {
                (drift.expected, drift.found) = (e, f);
            }
        }
        out.push(drift);
    }
    Ok(out)
}

/// The original index text up to ` USING `, and the server's rendering from there on.
fn restore_index_head(original: &str, rendered: &str) -> String {
    match (original.find(" USING "), index_tail(rendered)) {
        (Some(at), Some(tail)) => format!("{}{tail}", &original[..at]),
        _ => original.to_string(),
    }
}

/// Renders every group, in a transaction rolled back: rendering by key.
async fn render_all(
    db: &Db,
    schema: &str,
    groups: &str,
) -> Result<BTreeMap<String, Option<String>>, PgError> {
    let context = format!("render definitions in schema {schema}");
    db.batch(
        &context,
        &format!(
            "BEGIN; SET LOCAL search_path TO {}, pg_temp; SET LOCAL lock_timeout = {}",
            quote_ident(schema),
            LOCK_TIMEOUT.as_millis()
        ),
    )
    .await?;
    let result = async {
        db.query(
            &context,
            "SELECT set_config('herokuops.normalize', $1, true)",
            &[&groups],
        )
        .await?;
        db.batch(&context, RENDER_GROUPS).await?;
        db.query(
            &context,
            "SELECT current_setting('herokuops.rendered')",
            &[],
        )
        .await
    }
    .await;
    if !matches!(result, Err(PgError::ConnectionLost { .. })) {
        db.batch(&context, "ROLLBACK").await?;
    }
    let text: String = result?.first().map(|row| row.get(0)).unwrap_or_default();
    Ok(serde_json::from_str(&text).unwrap_or_default())
}
