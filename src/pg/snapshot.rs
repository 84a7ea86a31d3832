//! Writes a live [`Schema`] as an expected-schema file that verifies clean against the same
//! database: strict, every object with the definition the catalog prints.

use std::fmt::Write;

use super::expected::ColumnSpec;
use super::introspect::Schema;

const BUILT_IN_EXTENSIONS: &[&str] = &["plpgsql"];

/// A TOML basic string.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        string(name)
    }
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// Renders `schema`; `source` (a redacted URL or an app name) goes into the header comment.
pub fn render(schema: &Schema, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Expected schema of {source}, written by `herokuops schema snapshot`."
    );
    let _ = writeln!(
        out,
        "# Check a database against it with `herokuops verify APP --expect FILE`. Remove `strict`"
    );
    let _ = writeln!(
        out,
        "# to allow objects not listed here; remove entries to stop requiring them."
    );
    let _ = writeln!(out, "schema = {}", string(&schema.schema));
    let _ = writeln!(out, "strict = true");
    let _ = writeln!(out, "min_tables = {}", schema.tables.len());
    let extensions: Vec<&String> = schema
        .extensions
        .keys()
        .filter(|name| !BUILT_IN_EXTENSIONS.contains(&name.as_str()))
        .collect();
    let _ = writeln!(out, "extensions = {}", list(extensions));
    let _ = writeln!(out, "views = {}", list(schema.views.keys()));
    let _ = writeln!(out, "sequences = {}", list(schema.sequences.keys()));

    if let Some(migration) = &schema.migration
        && let Some(values) = &migration.values
        && !values.is_empty()
    {
        let _ = writeln!(out, "\n[migration]");
        let _ = writeln!(out, "table = {}", string(&migration.table));
        let _ = writeln!(out, "column = {}", string(&migration.column));
        match values.as_slice() {
            [one] => {
                let _ = writeln!(out, "equals = {}", string(one));
            }
            // One row per applied migration: require the newest one.
            many => {
                let newest = many
                    .iter()
                    .max_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
                if let Some(newest) = newest {
                    let _ = writeln!(out, "contains = {}", string(newest));
                }
            }
        }
    }

    for (name, table) in &schema.tables {
        let path = format!("tables.{}", key(name));
        let _ = writeln!(out, "\n[{path}]");
        let pk = table
            .primary_key
            .as_ref()
            .map(|k| k.columns.clone())
            .unwrap_or_default();
        let _ = writeln!(out, "primary_key = {}", list(&pk));

        // Key/value pairs of a table must precede its sub-tables, so empty collections are
        // written inline first and the others as sub-tables after them.
        let columns: Vec<(String, String)> = table
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    ColumnSpec::render(&c.data_type, c.not_null, c.default.as_deref()),
                )
            })
            .collect();
        let indexes: Vec<(String, String)> = table
            .indexes
            .iter()
            .filter(|(_, i)| i.constraint.is_none())
            .map(|(n, i)| (n.clone(), i.definition.clone()))
            .collect();
        let uniques: Vec<(String, String)> = table
            .uniques
            .iter()
            .map(|(n, k)| (n.clone(), k.definition.clone()))
            .collect();
        let checks: Vec<(String, String)> = table
            .checks
            .iter()
            .map(|(n, d)| (n.clone(), d.clone()))
            .collect();
        let foreign_keys: Vec<(String, String)> = table
            .foreign_keys
            .iter()
            .map(|(n, k)| (n.clone(), k.definition.clone()))
            .collect();
        let sections = [
            ("columns", columns),
            ("indexes", indexes),
            ("uniques", uniques),
            ("checks", checks),
            ("foreign_keys", foreign_keys),
        ];
        for (section, entries) in &sections {
            if entries.is_empty() {
                let _ = writeln!(out, "{section} = {{}}");
            }
        }
        for (section, entries) in &sections {
            if entries.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n[{path}.{section}]");
            for (name, value) in entries {
                let _ = writeln!(out, "{} = {}", key(name), string(value));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::pg::expected::Expected;
    use crate::pg::introspect::{Column, Extension, ForeignKey, Index, Key, MigrationState, Table};
    use crate::pg::verify::verify;

    #[test]
    fn odd_names_and_definitions_round_trip() {
        let mut tables = BTreeMap::new();
        tables.insert(
            "Odd \"Table\".x".to_string(),
            Table {
                columns: vec![
                    Column {
                        name: "weird col".into(),
                        data_type: "character varying(10)".into(),
                        not_null: true,
                        default: Some("'a\\b \"c\"\n'::character varying".into()),
                    },
                    Column {
                        name: "n".into(),
                        data_type: "integer".into(),
                        not_null: false,
                        default: Some("generated by default as identity".into()),
                    },
                ],
                primary_key: Some(Key {
                    name: "pk".into(),
                    columns: vec!["n".into()],
                    definition: "PRIMARY KEY (n)".into(),
                }),
                foreign_keys: [(
                    "fk".to_string(),
                    ForeignKey {
                        columns: vec!["n".into()],
                        references: "other".into(),
                        referenced_columns: vec!["id".into()],
                        definition: "FOREIGN KEY (n) REFERENCES other(id)".into(),
                    },
                )]
                .into(),
                indexes: [(
                    "pk".to_string(),
                    Index {
                        definition: "CREATE UNIQUE INDEX pk ON x USING btree (n)".into(),
                        unique: true,
                        constraint: Some("pk".into()),
                    },
                )]
                .into(),
                ..Table::default()
            },
        );
        tables.insert("plain".to_string(), Table::default());
        let schema = Schema {
            schema: "public".into(),
            tables,
            views: [("v".to_string(), "view".to_string())].into(),
            sequences: BTreeMap::new(),
            extensions: [(
                "plpgsql".to_string(),
                Extension {
                    version: "1.0".into(),
                    schema: "pg_catalog".into(),
                },
            )]
            .into(),
            migration: Some(MigrationState {
                table: "schema_migrations".into(),
                column: "version".into(),
                values: Some(vec!["9".into(), "10".into()]),
            }),
        };
        let text = render(&schema, "postgres://u:********@h/d");
        let expected = Expected::parse(&text, Path::new("snap.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(expected.strict);
        assert_eq!(expected.extensions, Some(vec![]));
        assert_eq!(
            expected.migration.as_ref().unwrap().contains.as_deref(),
            Some("10")
        );
        assert_eq!(verify(&expected, &schema), vec![], "{text}");
    }
}
