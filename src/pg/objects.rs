//! The kinds of object beyond tables, columns, keys and indexes: each is read by one catalog
//! query over the whole schema (a few kinds share a query) and kept as named attributes, so
//! one comparison serves every kind and the number of queries never depends on the schema.
//!
//! Objects that belong to an extension are left out: `pg_dump` does not emit them either, and
//! the extension itself is compared.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// What a difference is about: every kind of object `verify` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Schema,
    Table,
    Column,
    Index,
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Extension,
    View,
    MaterializedView,
    Sequence,
    Enum,
    Domain,
    CompositeType,
    Function,
    Trigger,
    Policy,
    Collation,
    Comment,
    Grant,
    DefaultPrivilege,
    Migration,
}

impl ObjectKind {
    /// The kinds kept in [`Objects`], in the order files and reports list them.
    pub const CATALOG: [ObjectKind; 13] = [
        ObjectKind::View,
        ObjectKind::MaterializedView,
        ObjectKind::Sequence,
        ObjectKind::Enum,
        ObjectKind::Domain,
        ObjectKind::CompositeType,
        ObjectKind::Function,
        ObjectKind::Trigger,
        ObjectKind::Policy,
        ObjectKind::Collation,
        ObjectKind::Comment,
        ObjectKind::Grant,
        ObjectKind::DefaultPrivilege,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Table => "table",
            ObjectKind::Column => "column",
            ObjectKind::Index => "index",
            ObjectKind::PrimaryKey => "primary_key",
            ObjectKind::Unique => "unique",
            ObjectKind::Check => "check",
            ObjectKind::ForeignKey => "foreign_key",
            ObjectKind::Extension => "extension",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized_view",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Enum => "enum",
            ObjectKind::Domain => "domain",
            ObjectKind::CompositeType => "composite_type",
            ObjectKind::Function => "function",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Policy => "policy",
            ObjectKind::Collation => "collation",
            ObjectKind::Comment => "comment",
            ObjectKind::Grant => "grant",
            ObjectKind::DefaultPrivilege => "default_privilege",
            ObjectKind::Migration => "migration",
        }
    }

    /// The key of the kind's section in an expected-schema file.
    pub fn section(self) -> &'static str {
        match self {
            ObjectKind::View => "views",
            ObjectKind::MaterializedView => "materialized_views",
            ObjectKind::Sequence => "sequences",
            ObjectKind::Enum => "enums",
            ObjectKind::Domain => "domains",
            ObjectKind::CompositeType => "composite_types",
            ObjectKind::Function => "functions",
            ObjectKind::Trigger => "triggers",
            ObjectKind::Policy => "policies",
            ObjectKind::Collation => "collations",
            ObjectKind::Comment => "comments",
            ObjectKind::Grant => "grants",
            ObjectKind::DefaultPrivilege => "default_privileges",
            other => other.as_str(),
        }
    }

    /// Grants name roles, which differ between databases: compared only when asked for.
    pub fn is_privilege(self) -> bool {
        matches!(self, ObjectKind::Grant | ObjectKind::DefaultPrivilege)
    }

    fn from_row(kind: &str) -> Option<ObjectKind> {
        ObjectKind::CATALOG.into_iter().find(|k| k.as_str() == kind)
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An object's attributes: what differs is named by the attribute (`definition`, `labels`,
/// `volatility`, `check positive`, ...).
pub type Attributes = BTreeMap<String, String>;

/// Objects of each kind by name.
pub type Objects = BTreeMap<ObjectKind, BTreeMap<String, Attributes>>;

/// Leaves out objects that an extension created (`pg_depend` type `e`).
fn not_extension_member(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// An ACL as sorted `grantee:privilege` items, PUBLIC as `PUBLIC`. The owner's own items are
/// left out: the owner has every privilege, and the list of privileges grows between major
/// versions (MAINTAIN in 17), which is no difference in what the schema allows.
fn acl(items: &str, owner: &str) -> String {
    format!(
        "(SELECT string_agg(g, ', ' ORDER BY g) FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
         WHEN a.grantee = {owner} THEN 'owner' ELSE quote_ident(pg_get_userbyid(a.grantee)) END \
         || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END AS g \
         FROM aclexplode({items}) a WHERE a.grantee <> {owner}) acl)"
    )
}

fn types_query() -> String {
    let member = not_extension_member("pg_type", "t.oid");
    format!(
        "SELECT 'enum', t.typname, json_build_object('labels',
                (SELECT string_agg(quote_literal(l.enumlabel), ', ' ORDER BY l.enumsortorder)
                   FROM pg_enum l WHERE l.enumtypid = t.oid))::text
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE n.nspname = $1 AND t.typtype = 'e' AND {member}
         UNION ALL
         SELECT 'domain', t.typname, (jsonb_strip_nulls(jsonb_build_object(
                'type', format_type(t.typbasetype, t.typtypmod),
                'not_null', CASE WHEN t.typnotnull THEN 'not null' ELSE 'nullable' END,
                'default', t.typdefault,
                'collation', CASE WHEN t.typcollation <> b.typcollation THEN t.typcollation::regcollation::text END))
             || COALESCE((SELECT jsonb_object_agg('check ' || c.conname, pg_get_constraintdef(c.oid))
                            FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'), '{{}}'))::text
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type b ON b.oid = t.typbasetype
          WHERE n.nspname = $1 AND t.typtype = 'd' AND {member}
         UNION ALL
         SELECT 'composite_type', t.typname, json_build_object('definition',
                (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                   FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))::text
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class r ON r.oid = t.typrelid
          WHERE n.nspname = $1 AND r.relkind = 'c' AND {member}"
    )
}

/// A SQL-standard body (`BEGIN ATOMIC`, `RETURN`) is stored parsed, with no source text: it
/// is compared as `pg_get_functiondef` prints the function, which any version has.
fn routines_query() -> String {
    let member = not_extension_member("pg_proc", "p.oid");
    format!(
        "SELECT 'function', p.oid::regprocedure::text, (jsonb_strip_nulls(jsonb_build_object(
                'kind', CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                                       WHEN 'w' THEN 'window function' ELSE 'function' END,
                'arguments', pg_get_function_arguments(p.oid),
                'returns', pg_get_function_result(p.oid),
                'language', l.lanname,
                'volatility', CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
                'strict', CASE WHEN p.proisstrict THEN 'strict' ELSE 'called on null input' END,
                'security', CASE WHEN p.prosecdef THEN 'definer' ELSE 'invoker' END,
                'leakproof', CASE WHEN p.proleakproof THEN 'leakproof' END,
                'parallel', CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' ELSE 'unsafe' END,
                'cost', p.procost::text,
                'rows', CASE WHEN p.proretset THEN p.prorows::text END,
                'config', array_to_string(p.proconfig, ', '),
                'body', CASE WHEN p.prokind = 'a' THEN NULL WHEN p.prosrc <> '' THEN p.prosrc
                             ELSE pg_get_functiondef(p.oid) END))
             || COALESCE((SELECT jsonb_strip_nulls(jsonb_build_object(
                    'transition', a.aggtransfn::oid::regprocedure::text,
                    'state_type', format_type(a.aggtranstype, NULL),
                    'final', CASE WHEN a.aggfinalfn::oid <> 0 THEN a.aggfinalfn::oid::regprocedure::text END,
                    'combine', CASE WHEN a.aggcombinefn::oid <> 0 THEN a.aggcombinefn::oid::regprocedure::text END,
                    'initial', a.agginitval,
                    'sort_operator', CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::regoperator::text END))
                  FROM pg_aggregate a WHERE a.aggfnoid = p.oid), '{{}}'))::text
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
          WHERE n.nspname = $1 AND {member}"
    )
}

fn relation_objects_query() -> String {
    let member = not_extension_member("pg_class", "c.oid");
    format!(
        "SELECT CASE c.relkind WHEN 'm' THEN 'materialized_view' ELSE 'view' END, c.relname,
                (jsonb_build_object('definition', pg_get_viewdef(c.oid))
                 || COALESCE((SELECT jsonb_object_agg('index ' || i.relname, pg_get_indexdef(i.oid))
                                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                               WHERE x.indrelid = c.oid), '{{}}'))::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('v', 'm') AND {member}
         UNION ALL
         SELECT 'trigger', c.relname || '.' || t.tgname, json_build_object(
                'definition', pg_get_triggerdef(t.oid),
                'enabled', CASE t.tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                                            WHEN 'R' THEN 'replica' ELSE 'always' END)::text
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND NOT t.tgisinternal AND t.tgparentid = 0
         UNION ALL
         SELECT 'policy', c.relname || '.' || p.polname, jsonb_strip_nulls(jsonb_build_object(
                'mode', CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END,
                'command', CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                                         WHEN 'd' THEN 'delete' ELSE 'all' END,
                'roles', (SELECT string_agg(r, ', ' ORDER BY r) FROM (SELECT CASE WHEN o = 0 THEN 'public'
                            ELSE quote_ident(pg_get_userbyid(o)) END AS r FROM unnest(p.polroles) o) roles),
                'using', pg_get_expr(p.polqual, p.polrelid),
                'with_check', pg_get_expr(p.polwithcheck, p.polrelid)))::text
           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1"
    )
}

fn sequences_and_collations_query() -> String {
    let sequence = not_extension_member("pg_class", "c.oid");
    let collation = not_extension_member("pg_collation", "co.oid");
    format!(
        "SELECT 'sequence', c.relname, jsonb_strip_nulls(jsonb_build_object(
                'type', format_type(s.seqtypid, NULL),
                'start', s.seqstart::text, 'increment', s.seqincrement::text,
                'min', s.seqmin::text, 'max', s.seqmax::text, 'cache', s.seqcache::text,
                'cycle', CASE WHEN s.seqcycle THEN 'cycle' ELSE 'no cycle' END,
                'persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' END,
                'owned_by', (SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname)
                               FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1)))::text
           FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND {sequence}
         UNION ALL
         SELECT 'collation', co.collname, jsonb_strip_nulls(jsonb_build_object(
                'provider', CASE co.collprovider WHEN 'i' THEN 'icu' WHEN 'c' THEN 'libc' WHEN 'b' THEN 'builtin' ELSE 'default' END,
                'locale', COALESCE(to_jsonb(co) ->> 'colllocale', to_jsonb(co) ->> 'colliculocale', co.collcollate),
                'ctype', CASE WHEN co.collctype IS DISTINCT FROM co.collcollate THEN co.collctype END,
                'deterministic', CASE WHEN co.collisdeterministic THEN 'yes' ELSE 'no' END))::text
           FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
          WHERE n.nspname = $1 AND {collation}"
    )
}

/// Comments on the schema and on every object in it, named as `pg_identify_object` names
/// them (`table users`, `table column users.email`, `function f(integer)`), without the
/// schema's own name. Objects below 16384 are the system's.
const COMMENTS: &str = "SELECT 'comment', replace(o.type || ' ' || o.identity, quote_ident($1) || '.', ''),
            json_build_object('text', d.description)::text
       FROM pg_description d, LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o
      WHERE d.objoid >= 16384
        AND (o.schema = $1 OR (o.type = 'schema' AND o.identity = quote_ident($1))
             OR (o.schema IS NULL AND o.identity LIKE '% on ' || quote_ident($1) || '.%'))
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')";

/// Grants: an object without an ACL has its kind's default one (`acldefault`), which for
/// functions and types grants PUBLIC too, so a revoke from PUBLIC is seen.
fn grants_query() -> String {
    let relation = acl(
        "COALESCE(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner))",
        "c.relowner",
    );
    let column = acl("a.attacl", "c.relowner");
    let function = acl(
        "COALESCE(p.proacl, acldefault('f', p.proowner))",
        "p.proowner",
    );
    let type_ = acl(
        "COALESCE(t.typacl, acldefault('T', t.typowner))",
        "t.typowner",
    );
    let schema = acl(
        "COALESCE(n.nspacl, acldefault('n', n.nspowner))",
        "n.nspowner",
    );
    let default = acl("d.defaclacl", "d.defaclrole");
    let relation_member = not_extension_member("pg_class", "c.oid");
    let function_member = not_extension_member("pg_proc", "p.oid");
    let type_member = not_extension_member("pg_type", "t.oid");
    format!(
        "SELECT 'grant', CASE c.relkind WHEN 'S' THEN 'sequence ' WHEN 'v' THEN 'view '
                WHEN 'm' THEN 'materialized view ' ELSE 'table ' END || c.relname,
                json_build_object('privileges', {relation})::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {relation_member}
         UNION ALL
         SELECT 'grant', 'column ' || c.relname || '.' || a.attname, json_build_object('privileges', {column})::text
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
         UNION ALL
         SELECT 'grant', 'function ' || p.oid::regprocedure::text, json_build_object('privileges', {function})::text
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = $1 AND {function_member}
         UNION ALL
         SELECT 'grant', 'type ' || t.typname, json_build_object('privileges', {type_})::text
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'c', 'r', 'm', 'b') AND t.typelem = 0 AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') AND {type_member}
         UNION ALL
         SELECT 'grant', 'schema ' || n.nspname, json_build_object('privileges', {schema})::text
           FROM pg_namespace n WHERE n.nspname = $1
         UNION ALL
         SELECT 'default_privilege',
                CASE WHEN d.defaclrole = (SELECT datdba FROM pg_database WHERE datname = current_database())
                     THEN 'owner' ELSE quote_ident(pg_get_userbyid(d.defaclrole)) END || ' on '
                || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
                                        WHEN 'T' THEN 'types' ELSE 'schemas' END,
                json_build_object('privileges', {default})::text
           FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
          WHERE n.nspname = $1"
    )
}

/// The queries, each returning rows of (kind, name, attributes as a JSON object of strings).
pub static QUERIES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let owned = [
        types_query(),
        routines_query(),
        relation_objects_query(),
        sequences_and_collations_query(),
        grants_query(),
    ];
    let mut queries: Vec<&'static str> = owned
        .into_iter()
        .map(|q| &*Box::leak(q.into_boxed_str()))
        .collect();
    queries.push(COMMENTS);
    queries
});

/// Rows of [`QUERIES`] into objects by kind and name.
pub fn assemble(rows: &[tokio_postgres::Row]) -> Objects {
    let mut objects = Objects::new();
    for row in rows {
        let kind: String = row.get(0);
        let Some(kind) = ObjectKind::from_row(&kind) else {
            continue;
        };
        let attributes: Option<String> = row.get(2);
        let attributes: Attributes = attributes
            .and_then(|text| serde_json::from_str::<BTreeMap<String, Option<String>>>(&text).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        // An ACL that grants nothing beyond the owner is no grant at all.
        if kind.is_privilege() && attributes.is_empty() {
            continue;
        }
        objects
            .entry(kind)
            .or_default()
            .insert(row.get(1), attributes);
    }
    objects
}
