//! Compares an expected schema with a live one: a pure function, one [`Drift`] per difference.
//!
//! Definitions are compared as text here; [`super::normalize`] then asks the live server to
//! render both sides of each differing definition the same way, and keeps only the drifts
//! that remain, so a difference is reported only when the server would behave differently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::expected::{ColumnSpec, Expected, Items, ObjectSpec, TableSpec, normalize_type};
use super::introspect::{Column, Schema, Table};
use super::objects::{Attributes, ObjectKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    TooFewTables,
    MissingTable,
    ExtraTable,
    MissingColumn,
    ExtraColumn,
    ColumnType,
    ColumnNullability,
    ColumnDefault,
    ColumnCollation,
    PrimaryKey,
    MissingIndex,
    ExtraIndex,
    IndexDefinition,
    MissingUnique,
    ExtraUnique,
    UniqueDefinition,
    MissingCheck,
    ExtraCheck,
    CheckDefinition,
    MissingForeignKey,
    ExtraForeignKey,
    ForeignKeyDefinition,
    MissingExtension,
    ExtraExtension,
    MigrationTableMissing,
    MigrationVersion,
    /// An object of another kind (see [`Drift::object_kind`]) is not there.
    Missing,
    /// An object the file does not list (strict files only).
    Extra,
    /// One attribute of an object differs (see [`Drift::aspect`]).
    Changed,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::TooFewTables => "too_few_tables",
            DriftKind::MissingTable => "missing_table",
            DriftKind::ExtraTable => "extra_table",
            DriftKind::MissingColumn => "missing_column",
            DriftKind::ExtraColumn => "extra_column",
            DriftKind::ColumnType => "column_type",
            DriftKind::ColumnNullability => "column_nullability",
            DriftKind::ColumnDefault => "column_default",
            DriftKind::ColumnCollation => "column_collation",
            DriftKind::PrimaryKey => "primary_key",
            DriftKind::MissingIndex => "missing_index",
            DriftKind::ExtraIndex => "extra_index",
            DriftKind::IndexDefinition => "index_definition",
            DriftKind::MissingUnique => "missing_unique",
            DriftKind::ExtraUnique => "extra_unique",
            DriftKind::UniqueDefinition => "unique_definition",
            DriftKind::MissingCheck => "missing_check",
            DriftKind::ExtraCheck => "extra_check",
            DriftKind::CheckDefinition => "check_definition",
            DriftKind::MissingForeignKey => "missing_foreign_key",
            DriftKind::ExtraForeignKey => "extra_foreign_key",
            DriftKind::ForeignKeyDefinition => "foreign_key_definition",
            DriftKind::MissingExtension => "missing_extension",
            DriftKind::ExtraExtension => "extra_extension",
            DriftKind::MigrationTableMissing => "migration_table_missing",
            DriftKind::MigrationVersion => "migration_version",
            DriftKind::Missing => "missing",
            DriftKind::Extra => "extra",
            DriftKind::Changed => "changed",
        }
    }

    /// The kind of object and the aspect a drift of this kind is about; the generic kinds
    /// (`missing`, `extra`, `changed`) say it in the drift itself.
    fn subject(self) -> (ObjectKind, &'static str) {
        use DriftKind::*;
        match self {
            TooFewTables => (ObjectKind::Schema, "table count"),
            MissingTable | ExtraTable => (ObjectKind::Table, "present"),
            MissingColumn | ExtraColumn => (ObjectKind::Column, "present"),
            ColumnType => (ObjectKind::Column, "type"),
            ColumnNullability => (ObjectKind::Column, "nullability"),
            ColumnDefault => (ObjectKind::Column, "default"),
            ColumnCollation => (ObjectKind::Column, "collation"),
            PrimaryKey => (ObjectKind::PrimaryKey, "columns"),
            MissingIndex | ExtraIndex => (ObjectKind::Index, "present"),
            IndexDefinition => (ObjectKind::Index, "definition"),
            MissingUnique | ExtraUnique => (ObjectKind::Unique, "present"),
            UniqueDefinition => (ObjectKind::Unique, "definition"),
            MissingCheck | ExtraCheck => (ObjectKind::Check, "present"),
            CheckDefinition => (ObjectKind::Check, "definition"),
            MissingForeignKey | ExtraForeignKey => (ObjectKind::ForeignKey, "present"),
            ForeignKeyDefinition => (ObjectKind::ForeignKey, "definition"),
            MissingExtension | ExtraExtension => (ObjectKind::Extension, "present"),
            MigrationTableMissing => (ObjectKind::Migration, "present"),
            MigrationVersion => (ObjectKind::Migration, "version"),
            Missing | Extra => (ObjectKind::Table, "present"),
            Changed => (ObjectKind::Table, "definition"),
        }
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the server can render a definition, so that both sides of a difference are printed
/// by the same server the same way (see [`super::normalize`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Render {
    /// A CHECK or EXCLUDE constraint of the table.
    Constraint { table: String },
    /// A column's default, or its generation expression.
    ColumnDefault {
        table: String,
        column: String,
        data_type: String,
    },
    /// An index of the table or materialized view.
    Index { table: String },
    /// The query of a view or materialized view.
    View,
    /// A policy's USING (or WITH CHECK) expression on the table.
    PolicyExpression { table: String, with_check: bool },
    /// A CHECK of a domain over the base type.
    DomainCheck { base_type: String },
}

/// One difference: which object, what differs, what the file expects and what the database has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub kind: DriftKind,
    /// What kind of object it is about.
    pub object_kind: ObjectKind,
    /// `table`, `table.column`, `table.index_name`, a view, a function's signature, ...
    pub object: String,
    /// What differs: `present`, `type`, `definition`, or an attribute such as `volatility`.
    pub aspect: String,
    pub expected: String,
    pub found: String,
    /// How the server renders the definitions compared here, if it can.
    #[serde(skip)]
    pub render: Option<Render>,
}

impl Drift {
    /// A drift of one of the specific kinds, whose object kind and aspect follow from it.
    pub fn new(
        kind: DriftKind,
        object: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Drift {
        let (object_kind, aspect) = kind.subject();
        Drift {
            kind,
            object_kind,
            object: object.into(),
            aspect: aspect.to_string(),
            expected: expected.into(),
            found: found.into(),
            render: None,
        }
    }

    fn about(mut self, object_kind: ObjectKind, aspect: &str) -> Drift {
        self.object_kind = object_kind;
        self.aspect = aspect.to_string();
        self
    }

    fn rendered(mut self, render: Option<Render>) -> Drift {
        self.render = render;
        self
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DriftKind::Missing | DriftKind::Extra | DriftKind::Changed => write!(
                f,
                "{} {}: {}: {}: expected {}, found {}",
                self.kind, self.object_kind, self.object, self.aspect, self.expected, self.found
            ),
            _ => write!(
                f,
                "{}: {}: expected {}, found {}",
                self.kind, self.object, self.expected, self.found
            ),
        }
    }
}

const MISSING: &str = "nothing (missing)";
const UNLISTED: &str = "not listed";
const NONE: &str = "none";

/// Extensions every database has; never worth reporting as extras.
const BUILT_IN_EXTENSIONS: &[&str] = &["plpgsql"];

/// The tables `expected` lists that are not among `present`, as drift: what a whole
/// comparison would say of them, from the table names alone.
pub fn missing_tables<'a>(
    expected: &Expected,
    present: impl IntoIterator<Item = &'a str>,
) -> Vec<Drift> {
    let present: std::collections::BTreeSet<&str> = present.into_iter().collect();
    let missing = expected
        .tables
        .keys()
        .filter(|name| !present.contains(name.as_str()));
    missing.map(|name| missing_table(name)).collect()
}

fn missing_table(name: &str) -> Drift {
    drift(DriftKind::MissingTable, name, "table", MISSING)
}

fn drift(
    kind: DriftKind,
    object: impl Into<String>,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Drift {
    Drift::new(kind, object, expected, found)
}

/// Whitespace-insensitive comparison of SQL text such as definitions and defaults.
pub fn same_sql(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// What is compared beyond the file's own content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Compare grants and default privileges (the file's `grants` and `default_privileges`).
    pub with_grants: bool,
}

/// Every difference between `expected` and `actual`, in a stable order; grants not compared.
pub fn verify(expected: &Expected, actual: &Schema) -> Vec<Drift> {
    verify_with(expected, actual, &VerifyOptions::default())
}

/// Every difference between `expected` and `actual`, in a stable order.
pub fn verify_with(expected: &Expected, actual: &Schema, options: &VerifyOptions) -> Vec<Drift> {
    let mut out = Vec::new();

    if let Some(min) = expected.min_tables
        && actual.tables.len() < min
    {
        out.push(drift(
            DriftKind::TooFewTables,
            format!("schema {}", actual.schema),
            format!("at least {min} tables"),
            format!("{} tables", actual.tables.len()),
        ));
    }
    if let Some(extensions) = &expected.extensions {
        verify_extensions(&mut out, extensions, actual, expected.strict);
    }
    for kind in ObjectKind::CATALOG {
        if kind.is_privilege() && !options.with_grants {
            continue;
        }
        if let Some(spec) = expected.objects(kind) {
            verify_objects(
                &mut out,
                kind,
                spec,
                &present_objects(expected, actual, kind),
                expected.strict,
            );
        }
    }

    for (name, spec) in &expected.tables {
        let Some(table) = actual.tables.get(name) else {
            out.push(missing_table(name));
            continue;
        };
        verify_table(&mut out, name, spec, table, expected.strict);
    }
    if expected.strict {
        for name in actual.tables.keys() {
            if !expected.tables.contains_key(name) {
                out.push(drift(DriftKind::ExtraTable, name, UNLISTED, "table"));
            }
        }
    }
    if let Some(spec) = &expected.migration {
        verify_migration(&mut out, spec, actual);
    }
    out
}

fn verify_extensions(
    out: &mut Vec<Drift>,
    extensions: &Items<String>,
    actual: &Schema,
    strict: bool,
) {
    let listed = extensions.names();
    for name in &listed {
        match actual.extensions.get(*name) {
            None => out.push(drift(
                DriftKind::MissingExtension,
                *name,
                "installed",
                MISSING,
            )),
            Some(found) => {
                if let Some(version) = extensions.spec(name)
                    && version != &found.version
                {
                    out.push(
                        drift(
                            DriftKind::Changed,
                            *name,
                            version.as_str(),
                            found.version.as_str(),
                        )
                        .about(ObjectKind::Extension, "version"),
                    );
                }
            }
        }
    }
    if strict {
        for (name, ext) in &actual.extensions {
            if !listed.contains(&name.as_str()) && !BUILT_IN_EXTENSIONS.contains(&name.as_str()) {
                out.push(drift(
                    DriftKind::ExtraExtension,
                    name,
                    UNLISTED,
                    format!("version {} in schema {}", ext.version, ext.schema),
                ));
            }
        }
    }
}

/// The live objects of `kind`; materialized views count as views for a file that has no
/// `materialized_views` section (files written before it listed both under `views`).
fn present_objects<'a>(
    expected: &Expected,
    actual: &'a Schema,
    kind: ObjectKind,
) -> BTreeMap<&'a str, &'a Attributes> {
    let of = |k: ObjectKind| {
        actual
            .objects
            .get(&k)
            .into_iter()
            .flatten()
            .map(|(n, a)| (n.as_str(), a))
    };
    let mut present: BTreeMap<&str, &Attributes> = of(kind).collect();
    if kind == ObjectKind::View && expected.materialized_views.is_none() {
        present.extend(of(ObjectKind::MaterializedView));
    }
    present
}

fn verify_objects(
    out: &mut Vec<Drift>,
    kind: ObjectKind,
    spec: &Items<ObjectSpec>,
    present: &BTreeMap<&str, &Attributes>,
    strict: bool,
) {
    let listed: BTreeSet<&str> = spec.names().into_iter().collect();
    for name in &listed {
        let want = spec.spec(name);
        match present.get(name) {
            None => {
                let expected = want
                    .and_then(|w| w.0.get("definition").or(w.0.get("text")))
                    .map_or_else(|| format!("{kind} present"), Clone::clone);
                out.push(
                    drift(DriftKind::Missing, *name, expected, MISSING).about(kind, "present"),
                );
            }
            Some(found) => {
                if let Some(want) = want {
                    compare_attributes(out, kind, name, &want.0, found, strict);
                }
            }
        }
    }
    if strict {
        for (name, attributes) in present {
            if !listed.contains(*name) {
                let found = attributes
                    .get("definition")
                    .or(attributes.get("text"))
                    .cloned()
                    .unwrap_or_else(|| format!("{kind} present"));
                out.push(drift(DriftKind::Extra, *name, UNLISTED, found).about(kind, "present"));
            }
        }
    }
}

/// The attributes the file gives; under `strict`, the object's other attributes too.
fn compare_attributes(
    out: &mut Vec<Drift>,
    kind: ObjectKind,
    name: &str,
    want: &Attributes,
    found: &Attributes,
    strict: bool,
) {
    let aspects: BTreeSet<&String> = if strict {
        want.keys().chain(found.keys()).collect()
    } else {
        want.keys().collect()
    };
    for aspect in aspects {
        let (w, f) = (want.get(aspect), found.get(aspect));
        let same = match (w, f) {
            (Some(w), Some(f)) => same_sql(w, f),
            (None, None) => true,
            _ => false,
        };
        if !same {
            out.push(
                drift(
                    DriftKind::Changed,
                    name,
                    w.map_or(NONE, String::as_str),
                    f.map_or(NONE, String::as_str),
                )
                .about(kind, aspect)
                .rendered(render_of(kind, name, aspect, found)),
            );
        }
    }
}

/// How the server renders an object's attribute, for the attributes that are expressions.
fn render_of(kind: ObjectKind, name: &str, aspect: &str, found: &Attributes) -> Option<Render> {
    let table = || name.split_once('.').map_or(name, |(t, _)| t).to_string();
    match (kind, aspect) {
        (ObjectKind::View | ObjectKind::MaterializedView, "definition") => Some(Render::View),
        (ObjectKind::MaterializedView, a) if a.starts_with("index ") => Some(Render::Index {
            table: name.to_string(),
        }),
        (ObjectKind::Policy, "using" | "with_check") => Some(Render::PolicyExpression {
            table: table(),
            with_check: aspect == "with_check",
        }),
        (ObjectKind::Domain, a) if a.starts_with("check ") => Some(Render::DomainCheck {
            base_type: found.get("type")?.clone(),
        }),
        _ => None,
    }
}

fn verify_migration(out: &mut Vec<Drift>, spec: &super::expected::MigrationSpec, actual: &Schema) {
    let column = spec.column();
    let object = format!("{}.{}", spec.table, column);
    let values = actual
        .migration
        .as_ref()
        .filter(|m| m.table == spec.table && m.column == column)
        .and_then(|m| m.values.as_ref());
    let Some(values) = values else {
        out.push(drift(
            DriftKind::MigrationTableMissing,
            object,
            "a version table",
            MISSING,
        ));
        return;
    };
    let found = match values.as_slice() {
        [] => "no rows".to_string(),
        [one] => one.clone(),
        many => format!("{} rows: {}", many.len(), many.join(", ")),
    };
    if let Some(want) = &spec.equals
        && !(values.len() == 1 && &values[0] == want)
    {
        out.push(drift(
            DriftKind::MigrationVersion,
            object.clone(),
            want,
            found.clone(),
        ));
    }
    if let Some(want) = &spec.contains
        && !values.contains(want)
    {
        out.push(drift(
            DriftKind::MigrationVersion,
            object,
            format!("a row {want}"),
            found,
        ));
    }
}

fn verify_table(out: &mut Vec<Drift>, name: &str, spec: &TableSpec, table: &Table, strict: bool) {
    verify_table_properties(out, name, spec, table, strict);
    if let Some(columns) = &spec.columns {
        verify_columns(out, name, columns, table, strict);
    }
    if let Some(want) = &spec.primary_key {
        verify_primary_key(out, name, want, table);
    }
    for (expected, actual, kinds, render) in table_collections(name, spec, table) {
        if let Some(expected) = expected {
            definitions_check(out, name, expected, &actual, strict, kinds, render);
        }
    }
}

fn verify_primary_key(out: &mut Vec<Drift>, name: &str, want: &[String], table: &Table) {
    let found = table
        .primary_key
        .as_ref()
        .map(|k| k.columns.clone())
        .unwrap_or_default();
    if found != want {
        let show = |cols: &[String]| {
            if cols.is_empty() {
                "no primary key".to_string()
            } else {
                format!("({})", cols.join(", "))
            }
        };
        out.push(drift(DriftKind::PrimaryKey, name, show(want), show(&found)));
    }
}

/// The table's indexes, unique constraints, checks and foreign keys, each beside the file's.
/// An index that backs a constraint is the constraint's: it never counts as an extra index.
fn table_collections<'a>(name: &str, spec: &'a TableSpec, table: &'a Table) -> [Collection<'a>; 4] {
    let on_table = |render: fn(String) -> Render| Some(render(name.to_string()));
    [
        (
            &spec.indexes,
            table
                .indexes
                .iter()
                .map(|(n, i)| (n.as_str(), i.definition.as_str(), i.constraint.is_none()))
                .collect(),
            [
                DriftKind::MissingIndex,
                DriftKind::ExtraIndex,
                DriftKind::IndexDefinition,
            ],
            on_table(|table| Render::Index { table }),
        ),
        (
            &spec.uniques,
            table
                .uniques
                .iter()
                .map(|(n, k)| (n.as_str(), k.definition.as_str(), true))
                .collect(),
            [
                DriftKind::MissingUnique,
                DriftKind::ExtraUnique,
                DriftKind::UniqueDefinition,
            ],
            None,
        ),
        (
            &spec.checks,
            table
                .checks
                .iter()
                .map(|(n, d)| (n.as_str(), d.as_str(), true))
                .collect(),
            [
                DriftKind::MissingCheck,
                DriftKind::ExtraCheck,
                DriftKind::CheckDefinition,
            ],
            on_table(|table| Render::Constraint { table }),
        ),
        (
            &spec.foreign_keys,
            table
                .foreign_keys
                .iter()
                .map(|(n, k)| (n.as_str(), k.definition.as_str(), true))
                .collect(),
            [
                DriftKind::MissingForeignKey,
                DriftKind::ExtraForeignKey,
                DriftKind::ForeignKeyDefinition,
            ],
            None,
        ),
    ]
}

/// A per-table collection: the file's items, the table's (name, definition, whether an
/// unlisted one counts as extra), the drift kinds, and how the server renders a definition.
type Collection<'a> = (
    &'a Option<Items<String>>,
    Vec<(&'a str, &'a str, bool)>,
    [DriftKind; 3],
    Option<Render>,
);

/// Persistence, partitioning and row-level security: the ones the file gives, or under
/// `strict` every one the table has.
fn verify_table_properties(
    out: &mut Vec<Drift>,
    name: &str,
    spec: &TableSpec,
    table: &Table,
    strict: bool,
) {
    let properties = [
        (
            "persistence",
            &spec.persistence,
            Some(&table.persistence),
            "permanent",
        ),
        (
            "partition_key",
            &spec.partition_key,
            table.partition_key.as_ref(),
            NONE,
        ),
        (
            "partition_of",
            &spec.partition_of,
            table.partition_of.as_ref(),
            NONE,
        ),
        (
            "partition_bound",
            &spec.partition_bound,
            table.partition_bound.as_ref(),
            NONE,
        ),
        (
            "row_security",
            &spec.row_security,
            Some(&table.row_security),
            "disabled",
        ),
    ];
    for (aspect, want, found, default) in properties {
        let want = match want {
            Some(want) => want.as_str(),
            None if strict => default,
            None => continue,
        };
        let found = found.map_or(NONE, String::as_str);
        if !same_sql(want, found) {
            out.push(drift(DriftKind::Changed, name, want, found).about(ObjectKind::Table, aspect));
        }
    }
}

fn verify_columns(
    out: &mut Vec<Drift>,
    name: &str,
    columns: &Items<ColumnSpec>,
    table: &Table,
    strict: bool,
) {
    for column in columns.names() {
        let object = format!("{name}.{column}");
        let Some(actual) = table.column(column) else {
            let expected = columns
                .spec(column)
                .map_or_else(|| "column".to_string(), ColumnSpec::to_string);
            out.push(drift(DriftKind::MissingColumn, object, expected, MISSING));
            continue;
        };
        if let Some(want) = columns.spec(column) {
            verify_column(out, name, object, want, actual);
        }
    }
    if strict {
        report_extra_columns(out, name, columns, table);
    }
}

/// A listed column's type, collation, nullability and default, as far as the file gives them.
fn verify_column(
    out: &mut Vec<Drift>,
    table: &str,
    object: String,
    want: &ColumnSpec,
    actual: &Column,
) {
    let found_type = normalize_type(&actual.data_type);
    if want.data_type != found_type {
        out.push(drift(
            DriftKind::ColumnType,
            object.clone(),
            &want.data_type,
            &actual.data_type,
        ));
    }
    let unquoted = |c: Option<&str>| c.map(|c| c.trim_matches('"').to_string());
    if unquoted(want.collation.as_deref()) != unquoted(actual.collation.as_deref()) {
        out.push(drift(
            DriftKind::ColumnCollation,
            object.clone(),
            want.collation.as_deref().unwrap_or("the type's default"),
            actual.collation.as_deref().unwrap_or("the type's default"),
        ));
    }
    if want.not_null != actual.not_null {
        let word = |not_null: bool| if not_null { "not null" } else { "nullable" };
        out.push(drift(
            DriftKind::ColumnNullability,
            object.clone(),
            word(want.not_null),
            word(actual.not_null),
        ));
    }
    if let Some(default) = &want.default {
        let found = actual.default.as_deref();
        if !found.is_some_and(|f| same_sql(f, default)) {
            let render = found.map(|_| Render::ColumnDefault {
                table: table.to_string(),
                column: actual.name.clone(),
                data_type: actual.data_type.clone(),
            });
            out.push(
                drift(
                    DriftKind::ColumnDefault,
                    object,
                    default,
                    found.unwrap_or("no default"),
                )
                .rendered(render),
            );
        }
    }
}

/// Under `strict`: every column of the table that the file does not list.
fn report_extra_columns(
    out: &mut Vec<Drift>,
    name: &str,
    columns: &Items<ColumnSpec>,
    table: &Table,
) {
    let listed = columns.names();
    for column in &table.columns {
        if !listed.contains(&column.name.as_str()) {
            out.push(drift(
                DriftKind::ExtraColumn,
                format!("{name}.{}", column.name),
                UNLISTED,
                ColumnSpec::render_collated(
                    &column.data_type,
                    column.collation.as_deref(),
                    column.not_null,
                    column.default.as_deref(),
                ),
            ));
        }
    }
}

/// `actual` holds (name, definition, whether an unlisted one counts as extra).
fn definitions_check(
    out: &mut Vec<Drift>,
    table: &str,
    expected: &Items<String>,
    actual: &[(&str, &str, bool)],
    strict: bool,
    [missing, extra, changed]: [DriftKind; 3],
    render: Option<Render>,
) {
    let listed = expected.names();
    for name in &listed {
        let object = format!("{table}.{name}");
        match actual.iter().find(|(n, _, _)| n == name) {
            None => {
                let want = expected.spec(name).map_or("present", String::as_str);
                out.push(drift(missing, object, want, MISSING));
            }
            Some((_, found, _)) => {
                if let Some(want) = expected.spec(name)
                    && !same_sql(want, found)
                {
                    out.push(
                        drift(changed, object, want.as_str(), *found).rendered(render.clone()),
                    );
                }
            }
        }
    }
    if strict {
        for (name, definition, counts) in actual {
            if *counts && !listed.contains(name) {
                out.push(drift(
                    extra,
                    format!("{table}.{name}"),
                    UNLISTED,
                    *definition,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::pg::introspect::{Column, Extension, Index, Key, MigrationState};
    use crate::pg::objects::Attributes;

    fn schema() -> Schema {
        let mut tables = BTreeMap::new();
        tables.insert(
            "threat_models".to_string(),
            Table {
                columns: vec![
                    Column {
                        name: "id".into(),
                        data_type: "uuid".into(),
                        not_null: true,
                        default: Some("uuid_generate_v4()".into()),
                        collation: None,
                    },
                    Column {
                        name: "issue_uri".into(),
                        data_type: "text".into(),
                        not_null: false,
                        default: None,
                        collation: None,
                    },
                    Column {
                        name: "name".into(),
                        data_type: "character varying(256)".into(),
                        not_null: true,
                        default: None,
                        collation: None,
                    },
                ],
                primary_key: Some(Key {
                    name: "threat_models_pkey".into(),
                    columns: vec!["id".into()],
                    definition: "PRIMARY KEY (id)".into(),
                }),
                checks: [(
                    "chk_framework".to_string(),
                    "CHECK ((framework = 'CIA'::text))".to_string(),
                )]
                .into(),
                indexes: [
                    (
                        "threat_models_pkey".to_string(),
                        Index {
                            definition: "CREATE UNIQUE INDEX threat_models_pkey ON public.threat_models USING btree (id)".into(),
                            unique: true,
                            constraint: Some("threat_models_pkey".into()),
                        },
                    ),
                    (
                        "idx_owner".to_string(),
                        Index {
                            definition: "CREATE INDEX idx_owner ON public.threat_models USING btree (owner)".into(),
                            unique: false,
                            constraint: None,
                        },
                    ),
                ]
                .into(),
                ..Table::default()
            },
        );
        tables.insert("notes".to_string(), Table::default());
        Schema {
            schema: "public".into(),
            tables,
            views: BTreeMap::new(),
            sequences: BTreeMap::new(),
            extensions: [
                (
                    "uuid-ossp".to_string(),
                    Extension {
                        version: "1.1".into(),
                        schema: "public".into(),
                    },
                ),
                (
                    "plpgsql".to_string(),
                    Extension {
                        version: "1.0".into(),
                        schema: "pg_catalog".into(),
                    },
                ),
            ]
            .into(),
            migration: Some(MigrationState {
                table: "alembic_version".into(),
                column: "version_num".into(),
                values: Some(vec!["556b79de2825".into()]),
            }),
            objects: BTreeMap::new(),
        }
    }

    fn expected(text: &str) -> Expected {
        Expected::parse(text, Path::new("t.toml")).unwrap()
    }

    fn kinds(drifts: &[Drift]) -> Vec<(DriftKind, &str)> {
        drifts.iter().map(|d| (d.kind, d.object.as_str())).collect()
    }

    #[test]
    fn partial_file_that_matches_is_clean() {
        let e = expected(
            r#"
min_tables = 2
extensions = ["uuid-ossp"]
[tables.threat_models]
columns = { id = "uuid not null", issue_uri = "text", name = "varchar(256) not null" }
indexes = ["idx_owner", "threat_models_pkey"]
primary_key = ["id"]
[tables.notes]
[migration]
table = "alembic_version"
equals = "556b79de2825"
"#,
        );
        assert_eq!(verify(&e, &schema()), vec![]);
    }

    #[test]
    fn missing_tables_say_what_the_whole_comparison_says_of_them() {
        let e = expected("[tables.threat_models]\n[tables.users]\n[tables.audit_log]\n");
        let actual = schema();
        let present = actual.tables.keys().map(String::as_str);
        let from_names = missing_tables(&e, present);
        assert_eq!(
            kinds(&from_names),
            vec![
                (DriftKind::MissingTable, "audit_log"),
                (DriftKind::MissingTable, "users"),
            ]
        );
        let whole = verify(&e, &actual);
        let whole_missing: Vec<&Drift> = whole
            .iter()
            .filter(|d| d.kind == DriftKind::MissingTable)
            .collect();
        assert_eq!(whole_missing.len(), 2, "{whole:?}");
        for (quick, full) in from_names.iter().zip(whole_missing) {
            assert_eq!(quick.to_string(), full.to_string());
        }
        assert!(missing_tables(&e, ["users", "audit_log", "threat_models"]).is_empty());
    }

    #[test]
    fn each_difference_is_one_drift_naming_both_sides() {
        let e = expected(
            r#"
min_tables = 3
extensions = ["uuid-ossp", "pgcrypto"]
[tables.threat_models]
columns = { id = "uuid not null default gen_random_uuid()", issue_uri = "text not null", name = "text not null", owner = "uuid" }
indexes = { idx_owner = "CREATE INDEX idx_owner ON public.threat_models USING btree (owner, id)", idx_gone = "CREATE INDEX idx_gone ON public.threat_models USING btree (x)" }
checks = { chk_framework = "CHECK ((framework = 'STRIDE'::text))" }
primary_key = ["id", "name"]
[tables.users]
[migration]
table = "alembic_version"
equals = "4b9608290b5d"
"#,
        );
        let drifts = verify(&e, &schema());
        assert_eq!(
            kinds(&drifts),
            vec![
                (DriftKind::TooFewTables, "schema public"),
                (DriftKind::MissingExtension, "pgcrypto"),
                (DriftKind::ColumnDefault, "threat_models.id"),
                (DriftKind::ColumnNullability, "threat_models.issue_uri"),
                (DriftKind::ColumnType, "threat_models.name"),
                (DriftKind::MissingColumn, "threat_models.owner"),
                (DriftKind::PrimaryKey, "threat_models"),
                (DriftKind::MissingIndex, "threat_models.idx_gone"),
                (DriftKind::IndexDefinition, "threat_models.idx_owner"),
                (DriftKind::CheckDefinition, "threat_models.chk_framework"),
                (DriftKind::MissingTable, "users"),
                (DriftKind::MigrationVersion, "alembic_version.version_num"),
            ]
        );
        let by_kind = |k| drifts.iter().find(|d| d.kind == k).unwrap();
        let ty = by_kind(DriftKind::ColumnType);
        assert_eq!(
            (ty.expected.as_str(), ty.found.as_str()),
            ("text", "character varying(256)")
        );
        let null = by_kind(DriftKind::ColumnNullability);
        assert_eq!(
            (null.expected.as_str(), null.found.as_str()),
            ("not null", "nullable")
        );
        let pk = by_kind(DriftKind::PrimaryKey);
        assert_eq!(
            (pk.expected.as_str(), pk.found.as_str()),
            ("(id, name)", "(id)")
        );
        let mig = by_kind(DriftKind::MigrationVersion);
        assert_eq!(
            (mig.expected.as_str(), mig.found.as_str()),
            ("4b9608290b5d", "556b79de2825")
        );
        assert!(by_kind(DriftKind::CheckDefinition).found.contains("'CIA'"));
        assert_eq!(
            by_kind(DriftKind::TooFewTables).to_string(),
            "too_few_tables: schema public: expected at least 3 tables, found 2 tables"
        );
    }

    #[test]
    fn strict_reports_extras_in_what_is_listed() {
        let e = expected(
            r#"
strict = true
extensions = []
[tables.threat_models]
columns = ["id", "issue_uri"]
indexes = []
"#,
        );
        let drifts = verify(&e, &schema());
        assert_eq!(
            kinds(&drifts),
            vec![
                (DriftKind::ExtraExtension, "uuid-ossp"),
                (DriftKind::ExtraColumn, "threat_models.name"),
                (DriftKind::ExtraIndex, "threat_models.idx_owner"),
                (DriftKind::ExtraTable, "notes"),
            ]
        );
    }

    #[test]
    fn migration_table_missing_and_multi_row_tables() {
        let mut s = schema();
        s.migration = None;
        let e = expected("[migration]\ntable = \"alembic_version\"\nequals = \"x\"\n");
        assert_eq!(
            kinds(&verify(&e, &s)),
            vec![(
                DriftKind::MigrationTableMissing,
                "alembic_version.version_num"
            )]
        );

        s.migration = Some(MigrationState {
            table: "schema_migrations".into(),
            column: "version".into(),
            values: Some(vec!["20240101".into(), "20240202".into()]),
        });
        let ok = expected("[migration]\ntable = \"schema_migrations\"\ncontains = \"20240202\"\n");
        assert_eq!(verify(&ok, &s), vec![]);
        let bad = expected("[migration]\ntable = \"schema_migrations\"\nequals = \"20240202\"\n");
        let drifts = verify(&bad, &s);
        assert_eq!(drifts.len(), 1);
        assert_eq!(drifts[0].found, "2 rows: 20240101, 20240202");
    }

    fn with_objects() -> Schema {
        let mut s = schema();
        let attributes = |pairs: &[(&str, &str)]| -> Attributes {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        s.objects.insert(
            ObjectKind::Function,
            [(
                "touch()".to_string(),
                attributes(&[("volatility", "volatile"), ("language", "plpgsql")]),
            )]
            .into(),
        );
        s.objects.insert(
            ObjectKind::Enum,
            [("mood".to_string(), attributes(&[("labels", "'sad', 'ok'")]))].into(),
        );
        s.objects.insert(
            ObjectKind::View,
            [(
                "v".to_string(),
                attributes(&[("definition", " SELECT 1 AS one;")]),
            )]
            .into(),
        );
        s
    }

    #[test]
    fn objects_compare_the_attributes_given_and_under_strict_all_of_them() {
        let partial = expected(
            r#"
enums = { mood = ["sad", "ok"] }
[functions."touch()"]
volatility = "volatile"
"#,
        );
        assert_eq!(verify(&partial, &with_objects()), vec![]);

        let changed = expected(
            r#"
enums = { mood = ["sad", "ok", "happy"], gone = ["x"] }
views = { v = "SELECT 2 AS two" }
[functions."touch()"]
volatility = "stable"
"#,
        );
        let drifts = verify(&changed, &with_objects());
        let summary: Vec<(DriftKind, ObjectKind, &str, &str)> = drifts
            .iter()
            .map(|d| (d.kind, d.object_kind, d.object.as_str(), d.aspect.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (DriftKind::Changed, ObjectKind::View, "v", "definition"),
                (DriftKind::Missing, ObjectKind::Enum, "gone", "present"),
                (DriftKind::Changed, ObjectKind::Enum, "mood", "labels"),
                (
                    DriftKind::Changed,
                    ObjectKind::Function,
                    "touch()",
                    "volatility"
                ),
            ]
        );
        // A view's definition is one the server can render; a function's volatility is not.
        assert_eq!(drifts[0].render, Some(Render::View));
        assert_eq!(drifts[3].render, None);
        assert_eq!(drifts[2].found, "'sad', 'ok'");

        let strict = expected(
            "strict = true\nfunctions = { \"touch()\" = { volatility = \"volatile\" } }\nenums = {}\n",
        );
        let drifts = verify(&strict, &with_objects());
        let summary: Vec<(DriftKind, &str, &str)> = drifts
            .iter()
            .filter(|d| d.object_kind != ObjectKind::Table)
            .map(|d| (d.kind, d.object.as_str(), d.aspect.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (DriftKind::Extra, "mood", "present"),
                (DriftKind::Changed, "touch()", "language"),
            ]
        );
    }
}
