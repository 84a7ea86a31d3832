//! `pg.drop-schema`: drop a schema with everything in it and recreate it empty, keeping its owner,
//! privileges and comment, in one transaction.
//!
//! One transaction means a failure, a kill or a server stop at any point leaves the old schema
//! and its data as they were: PostgreSQL's DDL is transactional and an unfinished transaction
//! is rolled back by the server.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::PgError;
use super::connect::Db;

/// What the drop will do, or did.
#[derive(Debug, Clone)]
pub struct DropOptions {
    pub schema: String,
    /// How long to wait for other sessions' locks before giving up with nothing changed.
    /// Without a bound, a drop queued behind an app's open transaction would also block every
    /// new query the app makes on those tables.
    pub lock_timeout: Duration,
}

impl Default for DropOptions {
    fn default() -> Self {
        DropOptions {
            schema: "public".into(),
            lock_timeout: Duration::from_secs(30),
        }
    }
}

/// One privilege on the schema, as `aclexplode` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// A role name, or `PUBLIC`.
    pub grantee: String,
    pub privilege: String,
    pub grantable: bool,
}

/// The schema as it is before the drop: what has to be put back afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaState {
    pub schema: String,
    pub exists: bool,
    /// Owner role, already quoted as an identifier where needed.
    pub owner: String,
    /// The ACL as PostgreSQL prints it (`{owner=UC/owner,=U/owner}`); `None` means the
    /// built-in default, which a freshly created schema has too.
    pub acl: Option<String>,
    pub grants: Vec<Grant>,
    pub comment: Option<String>,
    pub tables: i64,
    #[serde(skip)]
    max_locks: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DropReport {
    pub before: SchemaState,
    pub statements: Vec<String>,
    pub duration_ms: u128,
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Reads owner, privileges, comment and table count of `schema`. Read-only; used for the plan
/// shown by `--dry-run` and, inside the drop's transaction, for what to restore.
pub async fn inspect(db: &Db, schema: &str) -> Result<SchemaState, PgError> {
    let rows = db
        .query(
            "read the schema's owner and privileges",
            "SELECT n.nspowner::regrole::text,
                    n.nspacl::text,
                    obj_description(n.oid, 'pg_namespace'),
                    (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')),
                    COALESCE((SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
                                               || ' ' || a.privilege_type || ' ' || a.is_grantable::text
                                               ORDER BY a.ord)
                              FROM aclexplode(n.nspacl) WITH ORDINALITY a(grantor, grantee, privilege_type, is_grantable, ord)
                              LEFT JOIN pg_roles r ON r.oid = a.grantee),
                             '{}'::text[]),
                    current_setting('max_locks_per_transaction')
               FROM pg_namespace n WHERE n.nspname = $1",
            &[&schema],
        )
        .await?;
    let Some(row) = rows.first() else {
        let rows = db
            .query(
                "read the current user",
                "SELECT quote_ident(current_user), current_setting('max_locks_per_transaction')",
                &[],
            )
            .await?;
        return Ok(SchemaState {
            schema: schema.to_string(),
            exists: false,
            owner: rows[0].get(0),
            acl: None,
            grants: Vec::new(),
            comment: None,
            tables: 0,
            max_locks: rows[0].get(1),
        });
    };
    let exploded: Vec<String> = row.get(4);
    let grants = exploded
        .iter()
        .filter_map(|line| {
            let mut parts = line.rsplitn(3, ' ');
            let grantable = parts.next()? == "true";
            let privilege = parts.next()?.to_string();
            let grantee = parts.next()?.to_string();
            Some(Grant {
                grantee,
                privilege,
                grantable,
            })
        })
        .collect();
    Ok(SchemaState {
        schema: schema.to_string(),
        exists: true,
        owner: row.get(0),
        acl: row.get(1),
        grants,
        comment: row.get(2),
        tables: row.get(3),
        max_locks: row.get(5),
    })
}

/// The statements that drop and recreate the schema as `state` describes it.
pub fn statements(state: &SchemaState) -> Vec<String> {
    let schema = quote_ident(&state.schema);
    let mut sql = Vec::new();
    if state.exists {
        sql.push(format!("DROP SCHEMA {schema} CASCADE"));
    }
    sql.push(format!(
        "CREATE SCHEMA {schema} AUTHORIZATION {}",
        state.owner
    ));
    if state.acl.is_some() {
        // A new schema has the default ACL; start from nothing so that privileges the owner
        // had revoked from itself stay revoked.
        sql.push(format!(
            "REVOKE ALL ON SCHEMA {schema} FROM {}",
            state.owner
        ));
        // In the original order, so the ACL reads the same afterwards.
        for grant in &state.grants {
            sql.push(format!(
                "GRANT {} ON SCHEMA {schema} TO {}{}",
                grant.privilege,
                grant.grantee,
                if grant.grantable {
                    " WITH GRANT OPTION"
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(comment) = &state.comment {
        sql.push(format!(
            "COMMENT ON SCHEMA {schema} IS {}",
            quote_literal(comment)
        ));
    }
    sql
}

/// Drops and recreates the schema in one transaction and returns what it was before.
pub async fn drop_schema(db: &Db, options: &DropOptions) -> Result<DropReport, PgError> {
    let started = Instant::now();
    let context = format!("drop schema {}", options.schema);
    db.batch(
        &context,
        &format!(
            "BEGIN; SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = 0",
            options.lock_timeout.as_millis().max(1)
        ),
    )
    .await?;
    let result = async {
        let before = inspect(db, &options.schema).await?;
        let statements = statements(&before);
        let mut script = statements.join(";\n");
        script.push_str(";\nCOMMIT");
        db.batch(&context, &script)
            .await
            .map_err(|e| refine(e, options, &before.max_locks))?;
        Ok::<_, PgError>((before, statements))
    }
    .await;
    match result {
        Ok((before, statements)) => Ok(DropReport {
            before,
            statements,
            duration_ms: started.elapsed().as_millis(),
        }),
        Err(e) => {
            if !matches!(e, PgError::ConnectionLost { .. }) {
                let _ = db.batch(&context, "ROLLBACK").await;
            }
            Err(e)
        }
    }
}

fn refine(e: PgError, options: &DropOptions, max_locks: &str) -> PgError {
    match e {
        PgError::Query {
            target,
            context,
            code: Some(code),
            ..
        } if code == "55P03" => PgError::LockTimeout {
            target,
            context,
            waited: humantime::format_duration(options.lock_timeout).to_string(),
        },
        PgError::Query {
            target,
            context,
            code: Some(code),
            ..
        } if code == "53200" => PgError::OutOfLocks {
            target,
            context,
            max_locks: max_locks.to_string(),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(acl: Option<&str>, grants: Vec<Grant>) -> SchemaState {
        SchemaState {
            schema: "public".into(),
            exists: true,
            owner: "pg_database_owner".into(),
            acl: acl.map(str::to_string),
            grants,
            comment: Some("standard public schema".into()),
            tables: 25,
            max_locks: "64".into(),
        }
    }

    #[test]
    fn default_acl_needs_no_grants() {
        let sql = statements(&state(None, vec![]));
        assert_eq!(
            sql,
            [
                "DROP SCHEMA \"public\" CASCADE",
                "CREATE SCHEMA \"public\" AUTHORIZATION pg_database_owner",
                "COMMENT ON SCHEMA \"public\" IS 'standard public schema'",
            ]
        );
    }

    #[test]
    fn explicit_acl_is_rebuilt_from_nothing() {
        let grants = vec![
            Grant {
                grantee: "PUBLIC".into(),
                privilege: "USAGE".into(),
                grantable: false,
            },
            Grant {
                grantee: "\"App Reader\"".into(),
                privilege: "CREATE".into(),
                grantable: true,
            },
        ];
        let sql = statements(&state(Some("{...}"), grants));
        assert_eq!(
            sql[2],
            "REVOKE ALL ON SCHEMA \"public\" FROM pg_database_owner"
        );
        assert_eq!(sql[3], "GRANT USAGE ON SCHEMA \"public\" TO PUBLIC");
        assert_eq!(
            sql[4],
            "GRANT CREATE ON SCHEMA \"public\" TO \"App Reader\" WITH GRANT OPTION"
        );
    }

    #[test]
    fn missing_schema_is_only_created() {
        let mut s = state(None, vec![]);
        s.exists = false;
        s.comment = None;
        assert_eq!(
            statements(&s),
            ["CREATE SCHEMA \"public\" AUTHORIZATION pg_database_owner"]
        );
    }
}
