//! Compares an expected schema with a live one: a pure function, one [`Drift`] per difference.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::expected::{ColumnSpec, Expected, Items, normalize_type};
use super::introspect::{Schema, Table};

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
    MissingView,
    ExtraView,
    MissingSequence,
    ExtraSequence,
    MigrationTableMissing,
    MigrationVersion,
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
            DriftKind::MissingView => "missing_view",
            DriftKind::ExtraView => "extra_view",
            DriftKind::MissingSequence => "missing_sequence",
            DriftKind::ExtraSequence => "extra_sequence",
            DriftKind::MigrationTableMissing => "migration_table_missing",
            DriftKind::MigrationVersion => "migration_version",
        }
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One difference: which object, what the file expects and what the database has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub kind: DriftKind,
    /// `table`, `table.column`, `table.index_name`, an extension or view name.
    pub object: String,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: expected {}, found {}",
            self.kind, self.object, self.expected, self.found
        )
    }
}

const MISSING: &str = "nothing (missing)";
const UNLISTED: &str = "not listed";

/// Extensions every database has; never worth reporting as extras.
const BUILT_IN_EXTENSIONS: &[&str] = &["plpgsql"];

fn drift(
    kind: DriftKind,
    object: impl Into<String>,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Drift {
    Drift {
        kind,
        object: object.into(),
        expected: expected.into(),
        found: found.into(),
    }
}

/// Whitespace-insensitive comparison of SQL text such as definitions and defaults.
fn same_sql(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// Every difference between `expected` and `actual`, in a stable order.
pub fn verify(expected: &Expected, actual: &Schema) -> Vec<Drift> {
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
        for name in extensions {
            if !actual.extensions.contains_key(name) {
                out.push(drift(
                    DriftKind::MissingExtension,
                    name,
                    "installed",
                    MISSING,
                ));
            }
        }
        if expected.strict {
            for (name, ext) in &actual.extensions {
                if !extensions.contains(name) && !BUILT_IN_EXTENSIONS.contains(&name.as_str()) {
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

    names_check(
        &mut out,
        expected.views.as_deref(),
        actual.views.keys(),
        expected.strict,
        DriftKind::MissingView,
        DriftKind::ExtraView,
    );
    names_check(
        &mut out,
        expected.sequences.as_deref(),
        actual.sequences.keys(),
        expected.strict,
        DriftKind::MissingSequence,
        DriftKind::ExtraSequence,
    );

    for (name, spec) in &expected.tables {
        let Some(table) = actual.tables.get(name) else {
            out.push(drift(DriftKind::MissingTable, name, "table", MISSING));
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
        let column = spec.column();
        let object = format!("{}.{}", spec.table, column);
        let values = actual
            .migration
            .as_ref()
            .filter(|m| m.table == spec.table && m.column == column)
            .and_then(|m| m.values.as_ref());
        match values {
            None => out.push(drift(
                DriftKind::MigrationTableMissing,
                object,
                "a version table",
                MISSING,
            )),
            Some(values) => {
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
        }
    }
    out
}

fn names_check<'a>(
    out: &mut Vec<Drift>,
    expected: Option<&[String]>,
    actual: impl Iterator<Item = &'a String> + Clone,
    strict: bool,
    missing: DriftKind,
    extra: DriftKind,
) {
    let Some(expected) = expected else { return };
    let present: BTreeSet<&String> = actual.clone().collect();
    for name in expected {
        if !present.contains(name) {
            out.push(drift(missing, name, "present", MISSING));
        }
    }
    if strict {
        for name in actual {
            if !expected.contains(name) {
                out.push(drift(extra, name, UNLISTED, "present"));
            }
        }
    }
}

fn verify_table(
    out: &mut Vec<Drift>,
    name: &str,
    spec: &super::expected::TableSpec,
    table: &Table,
    strict: bool,
) {
    if let Some(columns) = &spec.columns {
        for column in columns.names() {
            let object = format!("{name}.{column}");
            let Some(actual) = table.column(column) else {
                let expected = columns
                    .spec(column)
                    .map_or_else(|| "column".to_string(), ColumnSpec::to_string);
                out.push(drift(DriftKind::MissingColumn, object, expected, MISSING));
                continue;
            };
            let Some(want) = columns.spec(column) else {
                continue;
            };
            let found_type = normalize_type(&actual.data_type);
            if want.data_type != found_type {
                out.push(drift(
                    DriftKind::ColumnType,
                    object.clone(),
                    &want.data_type,
                    &actual.data_type,
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
                    out.push(drift(
                        DriftKind::ColumnDefault,
                        object,
                        default,
                        found.unwrap_or("no default"),
                    ));
                }
            }
        }
        if strict {
            let listed = columns.names();
            for column in &table.columns {
                if !listed.contains(&column.name.as_str()) {
                    out.push(drift(
                        DriftKind::ExtraColumn,
                        format!("{name}.{}", column.name),
                        UNLISTED,
                        ColumnSpec::render(
                            &column.data_type,
                            column.not_null,
                            column.default.as_deref(),
                        ),
                    ));
                }
            }
        }
    }

    if let Some(want) = &spec.primary_key {
        let found = table
            .primary_key
            .as_ref()
            .map(|k| k.columns.clone())
            .unwrap_or_default();
        if &found != want {
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

    if let Some(indexes) = &spec.indexes {
        let actual = table
            .indexes
            .iter()
            .map(|(n, i)| (n.as_str(), i.definition.as_str(), i.constraint.is_none()));
        definitions_check(
            out,
            name,
            indexes,
            actual,
            strict,
            [
                DriftKind::MissingIndex,
                DriftKind::ExtraIndex,
                DriftKind::IndexDefinition,
            ],
        );
    }
    if let Some(uniques) = &spec.uniques {
        let actual = table
            .uniques
            .iter()
            .map(|(n, k)| (n.as_str(), k.definition.as_str(), true));
        definitions_check(
            out,
            name,
            uniques,
            actual,
            strict,
            [
                DriftKind::MissingUnique,
                DriftKind::ExtraUnique,
                DriftKind::UniqueDefinition,
            ],
        );
    }
    if let Some(checks) = &spec.checks {
        let actual = table
            .checks
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_str(), true));
        definitions_check(
            out,
            name,
            checks,
            actual,
            strict,
            [
                DriftKind::MissingCheck,
                DriftKind::ExtraCheck,
                DriftKind::CheckDefinition,
            ],
        );
    }
    if let Some(fks) = &spec.foreign_keys {
        let actual = table
            .foreign_keys
            .iter()
            .map(|(n, k)| (n.as_str(), k.definition.as_str(), true));
        definitions_check(
            out,
            name,
            fks,
            actual,
            strict,
            [
                DriftKind::MissingForeignKey,
                DriftKind::ExtraForeignKey,
                DriftKind::ForeignKeyDefinition,
            ],
        );
    }
}

/// `actual` yields (name, definition, whether an unlisted one counts as extra).
fn definitions_check<'a>(
    out: &mut Vec<Drift>,
    table: &str,
    expected: &Items<String>,
    actual: impl Iterator<Item = (&'a str, &'a str, bool)>,
    strict: bool,
    [missing, extra, changed]: [DriftKind; 3],
) {
    let actual: Vec<(&str, &str, bool)> = actual.collect();
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
                    out.push(drift(changed, object, want.as_str(), *found));
                }
            }
        }
    }
    if strict {
        for (name, definition, counts) in &actual {
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
                    },
                    Column {
                        name: "issue_uri".into(),
                        data_type: "text".into(),
                        not_null: false,
                        default: None,
                    },
                    Column {
                        name: "name".into(),
                        data_type: "character varying(256)".into(),
                        not_null: true,
                        default: None,
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
}
