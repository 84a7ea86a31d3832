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
    /// Objects in other schemas that depend on this one may be dropped with it (see
    /// [`SchemaState::dependents`]); without this, the drop refuses and changes nothing.
    pub allow_dependents: bool,
    /// The schema as [`inspect`] found it moments before, when the caller knows nothing came
    /// between (no prompt, no backup); `None` reads it again inside the drop's transaction.
    pub read_before: Option<SchemaState>,
}

impl Default for DropOptions {
    fn default() -> Self {
        DropOptions {
            schema: "public".into(),
            lock_timeout: Duration::from_secs(30),
            allow_dependents: false,
            read_before: None,
        }
    }
}

/// An `ALTER DEFAULT PRIVILEGES ... IN SCHEMA` entry (`pg_default_acl`): what objects `role`
/// creates in the schema are granted. It goes with the schema, so the drop puts it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultPrivilege {
    /// The role whose new objects it applies to, quoted as an identifier where needed.
    pub role: String,
    /// `TABLES`, `SEQUENCES`, `FUNCTIONS` or `TYPES`.
    pub objects: String,
    /// A role name (quoted where needed) or `PUBLIC`.
    pub grantee: String,
    /// `SELECT`, `USAGE`, ...
    pub privileges: Vec<String>,
    pub grantable: bool,
}

/// An object outside the schema that `DROP SCHEMA ... CASCADE` would drop too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependent {
    /// As PostgreSQL names the kind: `view`, `table column`, `table constraint`, ...
    pub kind: String,
    /// As PostgreSQL identifies it: `audit.events.kind`, `fk on audit.events`, ...
    pub identity: String,
}

impl std::fmt::Display for Dependent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.identity)
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
    /// `ALTER DEFAULT PRIVILEGES ... IN SCHEMA` entries, put back after the drop.
    pub default_privileges: Vec<DefaultPrivilege>,
    /// Objects in other schemas the drop would take along (found through `pg_depend`).
    pub dependents: Vec<Dependent>,
    #[serde(skip)]
    max_locks: String,
}

impl SchemaState {
    /// The state with `dependents` read apart (see [`inspect_apart`]).
    pub fn with_dependents(self, dependents: Vec<Dependent>) -> SchemaState {
        SchemaState { dependents, ..self }
    }
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
    inspect_with(db, db, schema).await
}

/// [`inspect`], with what depends on the schema read on `walker`, another session on the same
/// database when there is one: the walk through `pg_depend` is most of the work, and a second
/// server process does it while the first reads the rest.
pub async fn inspect_with(db: &Db, walker: &Db, schema: &str) -> Result<SchemaState, PgError> {
    let (state, dependents) =
        tokio::try_join!(inspect_apart(db, schema), dependents(walker, schema))?;
    Ok(state.with_dependents(dependents))
}

/// [`inspect`] but for what depends on the schema, which [`dependents`] reads: for a caller
/// that starts that walk, most of the work, as soon as it has a session for it.
pub async fn inspect_apart(db: &Db, schema: &str) -> Result<SchemaState, PgError> {
    let (state, default_privileges) = tokio::try_join!(
        owner_and_privileges(db, schema),
        default_privileges(db, schema),
    )?;
    Ok(match state {
        Some(state) => SchemaState {
            default_privileges,
            ..state
        },
        None => state_of_missing(db, schema).await?,
    })
}

/// What `pg_namespace` says of `schema`, or `None` when there is no such schema.
async fn owner_and_privileges(db: &Db, schema: &str) -> Result<Option<SchemaState>, PgError> {
    let rows = db
        .query_catalog(
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
            schema,
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
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
    Ok(Some(SchemaState {
        schema: schema.to_string(),
        exists: true,
        owner: row.get(0),
        acl: row.get(1),
        grants,
        comment: row.get(2),
        tables: row.get(3),
        default_privileges: Vec::new(),
        dependents: Vec::new(),
        max_locks: row.get(5),
    }))
}

/// The state of a schema that is not there: created by the current user.
async fn state_of_missing(db: &Db, schema: &str) -> Result<SchemaState, PgError> {
    let rows = db
        .query(
            "read the current user",
            "SELECT quote_ident(current_user), current_setting('max_locks_per_transaction')",
            &[],
        )
        .await?;
    Ok(SchemaState {
        schema: schema.to_string(),
        exists: false,
        owner: rows[0].get(0),
        acl: None,
        grants: Vec::new(),
        comment: None,
        tables: 0,
        default_privileges: Vec::new(),
        dependents: Vec::new(),
        max_locks: rows[0].get(1),
    })
}

/// The schema's `pg_default_acl` entries, one per role, object type, grantee and grant option.
async fn default_privileges(db: &Db, schema: &str) -> Result<Vec<DefaultPrivilege>, PgError> {
    let rows = db
        .query_catalog(
            "read the schema's default privileges",
            "SELECT quote_ident(r.rolname),
                    d.defaclobjtype::text,
                    CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.rolname) END,
                    a.is_grantable,
                    array_agg(a.privilege_type ORDER BY a.privilege_type)
               FROM pg_default_acl d
               JOIN pg_namespace n ON n.oid = d.defaclnamespace
               JOIN pg_roles r ON r.oid = d.defaclrole
               CROSS JOIN LATERAL aclexplode(d.defaclacl) a
               LEFT JOIN pg_roles g ON g.oid = a.grantee
              WHERE n.nspname = $1
              GROUP BY 1, 2, 3, 4
              ORDER BY 1, 2, 3, 4",
            schema,
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let objects = match row.get::<_, String>(1).as_str() {
                "r" => "TABLES",
                "S" => "SEQUENCES",
                "f" => "FUNCTIONS",
                "T" => "TYPES",
                _ => return None,
            };
            Some(DefaultPrivilege {
                role: row.get(0),
                objects: objects.to_string(),
                grantee: row.get(2),
                grantable: row.get(3),
                privileges: row.get(4),
            })
        })
        .collect())
}

/// What `DROP SCHEMA ... CASCADE` would drop outside the schema, as `pg_depend` tells: the
/// objects that depend on something in the schema (or on its parts: column defaults,
/// triggers, rules, policies, TOAST tables), then what depends on those in turn, each shown
/// by the object it is part of (a view, not its rewrite rule; a foreign key, not its
/// triggers). Default privileges are left out: the drop puts them back.
pub async fn dependents(db: &Db, schema: &str) -> Result<Vec<Dependent>, PgError> {
    let context = "read what depends on the schema";
    // JIT would compile this query for longer than it runs. Both go out together, the setting
    // first; the walk is sent whole, since a session walks once (or once more, in the drop).
    let (jit, rows) = tokio::join!(
        db.batch(context, "SET jit = off"),
        db.query_catalog_once(context, DEPENDENTS_SQL, schema)
    );
    jit?;
    let rows = rows?;
    Ok(rows
        .iter()
        .map(|row| Dependent {
            kind: row.get(0),
            identity: row.get(1),
        })
        .collect())
}

const DEPENDENTS_SQL: &str = "
WITH RECURSIVE
ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
inside(classid, objid) AS MATERIALIZED (
  SELECT 'pg_namespace'::regclass::oid, oid FROM ns
  UNION ALL SELECT 'pg_class'::regclass::oid, c.oid FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  UNION ALL SELECT 'pg_class'::regclass::oid, c.reltoastrelid FROM pg_class c JOIN ns ON c.relnamespace = ns.oid WHERE c.reltoastrelid <> 0
  UNION ALL SELECT 'pg_class'::regclass::oid, i.indexrelid FROM pg_class c JOIN ns ON c.relnamespace = ns.oid JOIN pg_index i ON i.indrelid = c.reltoastrelid WHERE c.reltoastrelid <> 0
  UNION ALL SELECT 'pg_type'::regclass::oid, o.oid FROM pg_type o JOIN ns ON o.typnamespace = ns.oid
  UNION ALL SELECT 'pg_proc'::regclass::oid, o.oid FROM pg_proc o JOIN ns ON o.pronamespace = ns.oid
  UNION ALL SELECT 'pg_constraint'::regclass::oid, o.oid FROM pg_constraint o JOIN ns ON o.connamespace = ns.oid
  UNION ALL SELECT 'pg_operator'::regclass::oid, o.oid FROM pg_operator o JOIN ns ON o.oprnamespace = ns.oid
  UNION ALL SELECT 'pg_opclass'::regclass::oid, o.oid FROM pg_opclass o JOIN ns ON o.opcnamespace = ns.oid
  UNION ALL SELECT 'pg_opfamily'::regclass::oid, o.oid FROM pg_opfamily o JOIN ns ON o.opfnamespace = ns.oid
  UNION ALL SELECT 'pg_collation'::regclass::oid, o.oid FROM pg_collation o JOIN ns ON o.collnamespace = ns.oid
  UNION ALL SELECT 'pg_conversion'::regclass::oid, o.oid FROM pg_conversion o JOIN ns ON o.connamespace = ns.oid
  UNION ALL SELECT 'pg_statistic_ext'::regclass::oid, o.oid FROM pg_statistic_ext o JOIN ns ON o.stxnamespace = ns.oid
  UNION ALL SELECT 'pg_ts_config'::regclass::oid, o.oid FROM pg_ts_config o JOIN ns ON o.cfgnamespace = ns.oid
  UNION ALL SELECT 'pg_ts_dict'::regclass::oid, o.oid FROM pg_ts_dict o JOIN ns ON o.dictnamespace = ns.oid
  UNION ALL SELECT 'pg_ts_parser'::regclass::oid, o.oid FROM pg_ts_parser o JOIN ns ON o.prsnamespace = ns.oid
  UNION ALL SELECT 'pg_ts_template'::regclass::oid, o.oid FROM pg_ts_template o JOIN ns ON o.tmplnamespace = ns.oid
  UNION ALL SELECT 'pg_extension'::regclass::oid, o.oid FROM pg_extension o JOIN ns ON o.extnamespace = ns.oid
  UNION ALL SELECT 'pg_default_acl'::regclass::oid, o.oid FROM pg_default_acl o JOIN ns ON o.defaclnamespace = ns.oid
  UNION ALL SELECT 'pg_attrdef'::regclass::oid, o.oid FROM pg_attrdef o JOIN pg_class c ON c.oid = o.adrelid JOIN ns ON c.relnamespace = ns.oid
  UNION ALL SELECT 'pg_trigger'::regclass::oid, o.oid FROM pg_trigger o JOIN pg_class c ON c.oid = o.tgrelid JOIN ns ON c.relnamespace = ns.oid
  UNION ALL SELECT 'pg_rewrite'::regclass::oid, o.oid FROM pg_rewrite o JOIN pg_class c ON c.oid = o.ev_class JOIN ns ON c.relnamespace = ns.oid
  UNION ALL SELECT 'pg_policy'::regclass::oid, o.oid FROM pg_policy o JOIN pg_class c ON c.oid = o.polrelid JOIN ns ON c.relnamespace = ns.oid
),
first_level AS MATERIALIZED (
  SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend d
   WHERE NOT EXISTS (SELECT 1 FROM inside j WHERE j.classid = d.classid AND j.objid = d.objid)
     AND EXISTS (SELECT 1 FROM inside i WHERE i.classid = d.refclassid AND i.objid = d.refobjid)
),
lost(classid, objid, objsubid) AS (
  SELECT classid, objid, objsubid FROM first_level
  UNION
  SELECT CASE WHEN d.refclassid = l.classid AND d.refobjid = l.objid THEN d.classid ELSE d.refclassid END,
         CASE WHEN d.refclassid = l.classid AND d.refobjid = l.objid THEN d.objid ELSE d.refobjid END,
         CASE WHEN d.refclassid = l.classid AND d.refobjid = l.objid THEN d.objsubid ELSE d.refobjsubid END
    FROM lost l JOIN pg_depend d
      ON (d.refclassid = l.classid AND d.refobjid = l.objid AND (l.objsubid = 0 OR d.refobjsubid = l.objsubid))
      OR (d.classid = l.classid AND d.objid = l.objid AND d.deptype = 'i')
)
SELECT o.type, o.identity
  FROM lost l, pg_identify_object(l.classid, l.objid, l.objsubid) o
 WHERE NOT EXISTS (SELECT 1 FROM inside j WHERE j.classid = l.classid AND j.objid = l.objid)
   AND NOT EXISTS (
         SELECT 1 FROM pg_depend x
          WHERE x.classid = l.classid AND x.objid = l.objid AND x.deptype = 'i'
            AND (EXISTS (SELECT 1 FROM inside j WHERE j.classid = x.refclassid AND j.objid = x.refobjid)
                 OR EXISTS (SELECT 1 FROM lost m WHERE m.classid = x.refclassid AND m.objid = x.refobjid)))
 ORDER BY 2, 1";

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
    for default in &state.default_privileges {
        sql.push(format!(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {schema} GRANT {} ON {} TO {}{}",
            default.role,
            default.privileges.join(", "),
            default.objects,
            default.grantee,
            if default.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            }
        ));
    }
    sql
}

/// Drops and recreates the schema in one transaction and returns what it was before.
pub async fn drop_schema(db: &Db, options: &DropOptions) -> Result<DropReport, PgError> {
    let started = Instant::now();
    let context = format!("drop schema {}", options.schema);
    let begin = format!(
        "BEGIN; SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = 0",
        options.lock_timeout.as_millis().max(1)
    );
    // Looked at again under the transaction, unless it was just read: what the plan showed may
    // have changed while a prompt or a backup ran. A reading just taken goes with the drop,
    // transaction and all, in one batch.
    let read_before = options
        .read_before
        .as_ref()
        .filter(|state| state.schema == options.schema);
    if read_before.is_none() {
        db.batch(&context, &begin).await?;
    }
    let result = async {
        let before = match read_before {
            Some(state) => state.clone(),
            None => inspect(db, &options.schema).await?,
        };
        if !before.dependents.is_empty() && !options.allow_dependents {
            return Err(PgError::OtherSchemasDepend {
                target: db.target().to_string(),
                schema: options.schema.clone(),
                dependents: before.dependents.iter().map(|d| d.to_string()).collect(),
            });
        }
        let statements = statements(&before);
        let mut script = match read_before {
            Some(_) => format!("{begin};\n"),
            None => String::new(),
        };
        script.push_str(&statements.join(";\n"));
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
            // With a reading given, a refusal comes before any transaction began.
            let began = read_before.is_none() || !matches!(e, PgError::OtherSchemasDepend { .. });
            if began && !matches!(e, PgError::ConnectionLost { .. }) {
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
            default_privileges: Vec::new(),
            dependents: Vec::new(),
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
    fn item_02_default_privileges_are_put_back() {
        let mut s = state(None, vec![]);
        s.default_privileges = vec![DefaultPrivilege {
            role: "app".into(),
            objects: "TABLES".into(),
            grantee: "PUBLIC".into(),
            privileges: vec!["INSERT".into(), "SELECT".into()],
            grantable: true,
        }];
        assert_eq!(
            statements(&s).last().unwrap(),
            "ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA \"public\" GRANT INSERT, SELECT ON TABLES TO PUBLIC WITH GRANT OPTION"
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
