//! Writes a live [`Schema`] as an expected-schema file that verifies clean against the same
//! database: strict, every object with the definition the catalog prints.

use std::fmt::Write;

use super::expected::ColumnSpec;
use super::introspect::{Schema, Table};
use super::objects::ObjectKind;

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

/// What a snapshot writes beyond the schema's own objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Grants and default privileges (`--with-grants`).
    pub with_grants: bool,
}

/// Renders `schema` without grants; `source` (a redacted URL or an app name) goes into the
/// header comment.
pub fn render(schema: &Schema, source: &str) -> String {
    render_with(schema, source, &SnapshotOptions::default())
}

/// Renders `schema`: strict, every kind of object with every attribute the catalog gives.
pub fn render_with(schema: &Schema, source: &str, options: &SnapshotOptions) -> String {
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
    let kinds: Vec<ObjectKind> = ObjectKind::CATALOG
        .into_iter()
        .filter(|k| options.with_grants || !k.is_privilege())
        .collect();
    // Key/value pairs must precede every [section]: the empty kinds come first, inline.
    for kind in &kinds {
        if schema.objects.get(kind).is_none_or(|o| o.is_empty()) {
            let _ = writeln!(out, "{} = {{}}", kind.section());
        }
    }
    write_migration(&mut out, schema);
    for (name, table) in &schema.tables {
        write_table(&mut out, name, table);
    }
    for kind in &kinds {
        for (name, attributes) in schema.objects.get(kind).into_iter().flatten() {
            let _ = writeln!(out, "\n[{}.{}]", kind.section(), key(name));
            for (attribute, value) in attributes {
                let _ = writeln!(out, "{} = {}", key(attribute), string(value));
            }
        }
    }
    out
}

fn write_migration(out: &mut String, schema: &Schema) {
    let Some(migration) = &schema.migration else {
        return;
    };
    let Some(values) = migration.values.as_ref().filter(|v| !v.is_empty()) else {
        return;
    };
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

fn write_table(out: &mut String, name: &str, table: &Table) {
    let path = format!("tables.{}", key(name));
    let _ = writeln!(out, "\n[{path}]");
    let pk = table
        .primary_key
        .as_ref()
        .map(|k| k.columns.clone())
        .unwrap_or_default();
    let _ = writeln!(out, "primary_key = {}", list(&pk));
    // A strict file without them means permanent and disabled: only the others are written.
    let persistence = Some(&table.persistence).filter(|p| p.as_str() != "permanent");
    let row_security = Some(&table.row_security).filter(|r| r.as_str() != "disabled");
    for (property, value) in [
        ("persistence", &persistence.cloned()),
        ("row_security", &row_security.cloned()),
        ("partition_key", &table.partition_key),
        ("partition_of", &table.partition_of),
        ("partition_bound", &table.partition_bound),
    ] {
        if let Some(value) = value {
            let _ = writeln!(out, "{property} = {}", string(value));
        }
    }

    // Key/value pairs of a table must precede its sub-tables, so empty collections are
    // written inline first and the others as sub-tables after them.
    let columns: Vec<(String, String)> = table
        .columns
        .iter()
        .map(|c| {
            let spec = ColumnSpec::render_collated(
                &c.data_type,
                c.collation.as_deref(),
                c.not_null,
                c.default.as_deref(),
            );
            (c.name.clone(), spec)
        })
        .collect();
    let indexes: Vec<(String, String)> = table
        .indexes
        .iter()
        .filter(|(_, i)| i.constraint.is_none())
        .map(|(n, i)| (n.clone(), i.definition.clone()))
        .collect();
    let definitions =
        |items: &mut dyn Iterator<Item = (&String, &String)>| -> Vec<(String, String)> {
            items.map(|(n, d)| (n.clone(), d.clone())).collect()
        };
    let uniques = definitions(&mut table.uniques.iter().map(|(n, k)| (n, &k.definition)));
    let checks = definitions(&mut table.checks.iter());
    let foreign_keys = definitions(&mut table.foreign_keys.iter().map(|(n, k)| (n, &k.definition)));
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
                        collation: Some("\"C\"".into()),
                    },
                    Column {
                        name: "n".into(),
                        data_type: "integer".into(),
                        not_null: false,
                        default: Some("generated by default as identity".into()),
                        collation: None,
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
            objects: [(
                ObjectKind::Function,
                [(
                    "f(integer)".to_string(),
                    [
                        ("body".to_string(), "select $1 \"x\"\n".to_string()),
                        ("volatility".to_string(), "immutable".to_string()),
                    ]
                    .into(),
                )]
                .into(),
            )]
            .into(),
        };
        let text = render(&schema, "postgres://u:********@h/d");
        let expected = Expected::parse(&text, Path::new("snap.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(expected.strict);
        assert_eq!(
            expected.extensions.as_ref().map(|e| e.names().len()),
            Some(0)
        );
        assert!(text.contains("[functions.\"f(integer)\"]"), "{text}");
        let columns = expected.tables["Odd \"Table\".x"].columns.as_ref().unwrap();
        assert_eq!(
            columns.spec("weird col").unwrap().collation.as_deref(),
            Some("\"C\"")
        );
        assert_eq!(
            expected.migration.as_ref().unwrap().contains.as_deref(),
            Some("10")
        );
        assert_eq!(verify(&expected, &schema), vec![], "{text}");
    }
}
