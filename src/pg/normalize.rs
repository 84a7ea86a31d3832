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
//! The work is a fixed number of statements, whatever the number of differences: the
//! temporary objects are made by one `DO` block from a JSON list, and read back by one query.

use std::collections::BTreeMap;

use super::PgError;
use super::connect::Db;
use super::expected::Expected;
use super::introspect::{LOCK_TIMEOUT, Schema, introspect};
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
    let drifts = verify_with(expected, &schema, options);
    let drifts = normalize(db, &schema.schema, drifts).await?;
    Ok(Verified { schema, drifts })
}

const SCRATCH: &str = "herokuops_n";

/// Runs the JSON list of statement groups in `herokuops.normalize`; a group that fails (an
/// expected definition naming a column the table lacks) leaves that side unrendered.
const RUN_GROUPS: &str = "DO $herokuops$
DECLARE
  item jsonb;
  statement text;
BEGIN
  FOR item IN SELECT * FROM jsonb_array_elements(current_setting('herokuops.normalize')::jsonb) LOOP
    BEGIN
      FOR statement IN SELECT * FROM jsonb_array_elements_text(item) LOOP
        EXECUTE statement;
      END LOOP;
    EXCEPTION WHEN others THEN NULL;
    END;
  END LOOP;
END
$herokuops$";

/// Every definition of the temporary objects, tagged by where it comes from.
const READ_BACK: &str = "SELECT 'constraint', con.conname::text, pg_get_constraintdef(con.oid)
       FROM pg_constraint con
      WHERE con.connamespace = pg_my_temp_schema() AND con.conname LIKE 'herokuops\\_n%' AND con.contype IN ('c', 'x')
     UNION ALL
     SELECT 'default', c.relname::text, CASE WHEN a.attgenerated = 's'
                THEN 'generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') stored'
                ELSE pg_get_expr(d.adbin, d.adrelid) END
       FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
       JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE c.relnamespace = pg_my_temp_schema() AND c.relname LIKE 'herokuops\\_t%'
     UNION ALL
     SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'index' END, c.relname::text,
            CASE c.relkind WHEN 'v' THEN pg_get_viewdef(c.oid) ELSE pg_get_indexdef(c.oid) END
       FROM pg_class c
      WHERE c.relnamespace = pg_my_temp_schema() AND c.relname LIKE 'herokuops\\_n%' AND c.relkind IN ('v', 'i', 'I')
     UNION ALL
     SELECT 'policy', p.polname::text, COALESCE(pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
       FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
      WHERE c.relnamespace = pg_my_temp_schema() AND p.polname LIKE 'herokuops\\_n%'";

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The two sides of one drift: `e` for the expected text, `f` for the one found.
const SIDES: [char; 2] = ['e', 'f'];

/// What to create for one side of a drift, and where its rendering is read back: the tag and
/// name of a [`READ_BACK`] row.
struct Scratch {
    statements: Vec<String>,
    tag: &'static str,
    name: String,
}

/// The index text from ` USING ` on: the part that does not name the index and its table.
fn index_tail(definition: &str) -> Option<&str> {
    definition.find(" USING ").map(|at| &definition[at..])
}

fn scratch(schema: &str, render: &Render, text: &str, id: &str) -> Option<Scratch> {
    let object = format!("{SCRATCH}{id}");
    let table = format!("herokuops_t{id}");
    let like = |source: &str| {
        format!(
            "CREATE TEMP TABLE {table} (LIKE {}.{})",
            quote_ident(schema),
            quote_ident(source)
        )
    };
    let (statements, tag, name) = match render {
        Render::Constraint { table: source } => (
            vec![
                like(source),
                format!("ALTER TABLE {table} ADD CONSTRAINT {object} {text}"),
            ],
            "constraint",
            object,
        ),
        Render::ColumnDefault {
            table: source,
            column,
            data_type,
        } => {
            let column = quote_ident(column);
            let mut statements = vec![like(source)];
            match text
                .strip_prefix("generated always as ")
                .and_then(|t| t.strip_suffix(" stored"))
            {
                Some(expression) => statements.extend([
                    format!("ALTER TABLE {table} DROP COLUMN {column}"),
                    format!(
                        "ALTER TABLE {table} ADD COLUMN {column} {data_type} GENERATED ALWAYS AS {expression} STORED"
                    ),
                ]),
                None if text.starts_with("generated ") => return None,
                None => statements.push(format!(
                    "ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {text}"
                )),
            }
            (statements, "default", table)
        }
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
                    format!("CREATE {unique}INDEX {object} ON {table}{tail}"),
                ],
                "index",
                object,
            )
        }
        Render::View => (
            vec![format!(
                "CREATE TEMP VIEW {object} AS {}",
                text.trim().trim_end_matches(';')
            )],
            "view",
            object,
        ),
        Render::PolicyExpression {
            table: source,
            with_check,
        } => {
            let clause = if *with_check { "WITH CHECK" } else { "USING" };
            (
                vec![
                    like(source),
                    format!("CREATE POLICY {object} ON {table} {clause} ({text})"),
                ],
                "policy",
                object,
            )
        }
        Render::DomainCheck { base_type } => (
            vec![format!(
                "CREATE DOMAIN pg_temp.{object} AS {base_type} CONSTRAINT {object} {text}"
            )],
            "constraint",
            object,
        ),
    };
    Some(Scratch {
        statements,
        tag,
        name,
    })
}

/// Drops the drifts whose two sides the server renders the same; the others show the
/// server's renderings. Returns the drifts unchanged when the server cannot make temporary
/// objects (a read-only standby).
pub async fn normalize(db: &Db, schema: &str, drifts: Vec<Drift>) -> Result<Vec<Drift>, PgError> {
    // Per drift, the scratch objects of its two sides.
    let mut plans: BTreeMap<usize, [Scratch; 2]> = BTreeMap::new();
    for (i, drift) in drifts.iter().enumerate() {
        let Some(render) = &drift.render else {
            continue;
        };
        let [e, f] = SIDES.map(|side| {
            let text = if side == 'e' {
                &drift.expected
            } else {
                &drift.found
            };
            scratch(schema, render, text, &format!("{i}{side}"))
        });
        if let (Some(e), Some(f)) = (e, f) {
            plans.insert(i, [e, f]);
        }
    }
    if plans.is_empty() {
        return Ok(drifts);
    }
    let groups: Vec<&Vec<String>> = plans
        .values()
        .flat_map(|sides| sides.iter().map(|s| &s.statements))
        .collect();
    let rendered = match render_all(
        db,
        schema,
        &serde_json::to_string(&groups).unwrap_or_default(),
    )
    .await
    {
        Ok(rendered) => rendered,
        Err(e @ PgError::ConnectionLost { .. }) => return Err(e),
        Err(_) => return Ok(drifts),
    };
    let mut out = Vec::with_capacity(drifts.len());
    for (i, mut drift) in drifts.into_iter().enumerate() {
        let Some([e, f]) = plans.get(&i) else {
            out.push(drift);
            continue;
        };
        let side = |s: &Scratch| rendered.get(&(s.tag, s.name.clone())).cloned();
        if let (Some(e), Some(f)) = (side(e), side(f)) {
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

/// Creates the scratch objects and reads their definitions, in a transaction rolled back.
async fn render_all(
    db: &Db,
    schema: &str,
    groups: &str,
) -> Result<BTreeMap<(&'static str, String), String>, PgError> {
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
        db.batch(&context, RUN_GROUPS).await?;
        db.query(&context, READ_BACK, &[]).await
    }
    .await;
    if !matches!(result, Err(PgError::ConnectionLost { .. })) {
        db.batch(&context, "ROLLBACK").await?;
    }
    let tags = ["constraint", "default", "index", "view", "policy"];
    Ok(result?
        .iter()
        .filter_map(|row| {
            let tag: String = row.get(0);
            let tag = tags.into_iter().find(|t| *t == tag)?;
            let text: Option<String> = row.get(2);
            Some(((tag, row.get::<_, String>(1)), text?))
        })
        .collect())
}
