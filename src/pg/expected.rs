//! The expected-schema file (TOML, DESIGN.md section 5).
//!
//! Partial by default: only what the file lists is required. Every per-table collection is
//! either a list of names (each must exist) or a table of `name = "definition"` (each must exist
//! and match). `strict = true` also reports tables, and items of the collections the file
//! gives, that it does not list.
//!
//! ```toml
//! schema = "public"
//! min_tables = 25
//! extensions = ["uuid-ossp"]
//! [tables.threat_models]
//! columns = { id = "uuid not null", issue_uri = "text" }
//! indexes = ["idx_threat_models_owner_internal_uuid"]
//! [tables.notes]
//! [migration]
//! table = "alembic_version"
//! equals = "556b79de2825"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::introspect::{MigrationProbe, known_version_column};
use super::objects::{Attributes, ObjectKind};

fn default_schema() -> String {
    "public".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default = "default_schema")]
    pub schema: String,
    #[serde(default)]
    pub strict: bool,
    pub min_tables: Option<usize>,
    /// Names, or `name = "version"` to require a version too.
    pub extensions: Option<Items<String>>,
    /// Names (a materialized view counts as a view when the file has no
    /// `materialized_views`), or each view's attributes.
    pub views: Option<Items<ObjectSpec>>,
    pub materialized_views: Option<Items<ObjectSpec>>,
    pub sequences: Option<Items<ObjectSpec>>,
    pub enums: Option<Items<ObjectSpec>>,
    pub domains: Option<Items<ObjectSpec>>,
    pub composite_types: Option<Items<ObjectSpec>>,
    /// Functions, procedures and aggregates by signature, e.g. `"touch(integer)"`.
    pub functions: Option<Items<ObjectSpec>>,
    /// By `table.trigger`.
    pub triggers: Option<Items<ObjectSpec>>,
    /// By `table.policy`.
    pub policies: Option<Items<ObjectSpec>>,
    pub collations: Option<Items<ObjectSpec>>,
    /// By object, as `pg_identify_object` names it: `"table users"`, `"table column users.email"`.
    pub comments: Option<Items<ObjectSpec>>,
    /// Compared only with `--with-grants`: role names differ between databases.
    pub grants: Option<Items<ObjectSpec>>,
    pub default_privileges: Option<Items<ObjectSpec>>,
    #[serde(default)]
    pub tables: BTreeMap<String, TableSpec>,
    pub migration: Option<MigrationSpec>,
}

/// An expected-schema file that cannot be read or does not parse: bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read the expected-schema file: {0}")]
    Unreadable(#[from] crate::files::InputError),
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Expected {
    /// The file's section for one of [`ObjectKind::CATALOG`].
    pub fn objects(&self, kind: ObjectKind) -> Option<&Items<ObjectSpec>> {
        match kind {
            ObjectKind::View => self.views.as_ref(),
            ObjectKind::MaterializedView => self.materialized_views.as_ref(),
            ObjectKind::Sequence => self.sequences.as_ref(),
            ObjectKind::Enum => self.enums.as_ref(),
            ObjectKind::Domain => self.domains.as_ref(),
            ObjectKind::CompositeType => self.composite_types.as_ref(),
            ObjectKind::Function => self.functions.as_ref(),
            ObjectKind::Trigger => self.triggers.as_ref(),
            ObjectKind::Policy => self.policies.as_ref(),
            ObjectKind::Collation => self.collations.as_ref(),
            ObjectKind::Comment => self.comments.as_ref(),
            ObjectKind::Grant => self.grants.as_ref(),
            ObjectKind::DefaultPrivilege => self.default_privileges.as_ref(),
            _ => None,
        }
    }
}

/// An object's attributes as the file gives them: a string is its `definition` (or, for a
/// comment, its `text`), a list is an enum's `labels`, a table names each attribute. Only the
/// attributes given are compared, unless the file is strict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ObjectSpec(pub Attributes);

impl ObjectSpec {
    /// A list of strings as one attribute value: SQL literals joined with `, `, as the
    /// catalog query renders enum labels.
    pub fn join(items: &[String]) -> String {
        items
            .iter()
            .map(|i| format!("'{}'", i.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One attribute value: a string, or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum AttributeValue {
    One(String),
    Many(Vec<String>),
}

impl AttributeValue {
    fn text(self) -> String {
        match self {
            AttributeValue::One(text) => text,
            AttributeValue::Many(items) => ObjectSpec::join(&items),
        }
    }
}

impl<'de> Deserialize<'de> for ObjectSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpecVisitor;

        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = ObjectSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a definition, a list of labels, or a table of attribute = value")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(ObjectSpec(
                    [("definition".to_string(), text.to_string())].into(),
                ))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(ObjectSpec(
                    [("labels".to_string(), ObjectSpec::join(&items))].into(),
                ))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut attributes = Attributes::new();
                while let Some((name, value)) = map.next_entry::<String, AttributeValue>()? {
                    attributes.insert(name, value.text());
                }
                Ok(ObjectSpec(attributes))
            }
        }

        deserializer.deserialize_any(SpecVisitor)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub columns: Option<Items<ColumnSpec>>,
    /// Columns of the primary key in order; an empty list means "no primary key".
    pub primary_key: Option<Vec<String>>,
    pub indexes: Option<Items<String>>,
    pub uniques: Option<Items<String>>,
    pub checks: Option<Items<String>>,
    pub foreign_keys: Option<Items<String>>,
    /// `permanent` or `unlogged`.
    pub persistence: Option<String>,
    /// A partitioned table's key as `pg_get_partkeydef` prints it, e.g. `RANGE (created_at)`.
    pub partition_key: Option<String>,
    /// For a partition: its parent table and its bound (`FOR VALUES ...`).
    pub partition_of: Option<String>,
    pub partition_bound: Option<String>,
    /// `disabled`, `enabled` or `forced`.
    pub row_security: Option<String>,
}

/// A list of names that must exist, or names with the definition each must have.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Items<T> {
    Names(Vec<String>),
    Specs(BTreeMap<String, T>),
}

impl<T> Items<T> {
    pub fn names(&self) -> Vec<&str> {
        match self {
            Items::Names(names) => names.iter().map(String::as_str).collect(),
            Items::Specs(specs) => specs.keys().map(String::as_str).collect(),
        }
    }

    pub fn spec(&self, name: &str) -> Option<&T> {
        match self {
            Items::Names(_) => None,
            Items::Specs(specs) => specs.get(name),
        }
    }
}

// Hand-written rather than `#[serde(untagged)]`: untagged buffers the value, which loses the
// position of errors inside it and turns them into "did not match any variant".
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Items<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemsVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ItemsVisitor<T> {
            type Value = Items<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of names, or a table of name = definition")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(Items::Names(names))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut specs = BTreeMap::new();
                while let Some((name, spec)) = map.next_entry::<String, T>()? {
                    specs.insert(name, spec);
                }
                Ok(Items::Specs(specs))
            }
        }

        deserializer.deserialize_any(ItemsVisitor(PhantomData))
    }
}

/// `"TYPE [collate NAME] [not null | null] [default EXPR]"`, as in a column definition:
/// without `not null` the column must be nullable, without `collate` it has its type's
/// collation; the default is only checked when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Normalized with [`normalize_type`].
    pub data_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// As the catalog prints it (`"C"`, `"en-x-icu"`), when not the type's default.
    pub collation: Option<String>,
}

impl ColumnSpec {
    pub fn render(data_type: &str, not_null: bool, default: Option<&str>) -> String {
        Self::render_collated(data_type, None, not_null, default)
    }

    pub fn render_collated(
        data_type: &str,
        collation: Option<&str>,
        not_null: bool,
        default: Option<&str>,
    ) -> String {
        let mut text = data_type.to_string();
        if let Some(c) = collation {
            text.push_str(" collate ");
            text.push_str(c);
        }
        if not_null {
            text.push_str(" not null");
        }
        if let Some(d) = default {
            text.push_str(" default ");
            text.push_str(d);
        }
        text
    }
}

impl fmt::Display for ColumnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&ColumnSpec::render_collated(
            &self.data_type,
            self.collation.as_deref(),
            self.not_null,
            self.default.as_deref(),
        ))
    }
}

impl FromStr for ColumnSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        let (head, default) = match find_word(&lower, "default") {
            Some(at) => {
                let expr = text[at + "default".len()..].trim();
                if expr.is_empty() {
                    return Err(format!("column `{text}`: `default` needs an expression"));
                }
                (text[..at].trim(), Some(expr.to_string()))
            }
            None => (text, None),
        };
        let head_lower = head.to_ascii_lowercase();
        let (data_type, not_null) = if let Some(t) = strip_suffix_word(&head_lower, "not null") {
            (&head[..t], true)
        } else if let Some(t) = strip_suffix_word(&head_lower, "null") {
            (&head[..t], false)
        } else {
            (head, false)
        };
        let data_type = data_type.trim();
        let (data_type, collation) = match find_word(&data_type.to_ascii_lowercase(), "collate") {
            Some(at) => (
                data_type[..at].trim(),
                Some(data_type[at + "collate".len()..].trim().to_string()),
            ),
            None => (data_type, None),
        };
        if data_type.is_empty() {
            return Err(format!(
                "column `{text}` has no type; write it as \"TYPE [not null] [default EXPR]\", e.g. \"uuid not null\""
            ));
        }
        Ok(ColumnSpec {
            data_type: normalize_type(data_type),
            not_null,
            default,
            collation,
        })
    }
}

impl Serialize for ColumnSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ColumnSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// Byte offset of `word` standing alone (space-delimited) in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(pos) = text[from..].find(word) {
        let at = from + pos;
        let before_ok = at == 0 || text.as_bytes()[at - 1].is_ascii_whitespace();
        let end = at + word.len();
        let after_ok = end == text.len() || text.as_bytes()[end].is_ascii_whitespace();
        if before_ok && after_ok {
            return Some(at);
        }
        from = end;
    }
    None
}

/// Where `suffix` starts when `text` ends with it as separate words.
fn strip_suffix_word(text: &str, suffix: &str) -> Option<usize> {
    let collapsed: Vec<&str> = text.split_whitespace().collect();
    let words: Vec<&str> = suffix.split_whitespace().collect();
    if collapsed.len() < words.len() || collapsed[collapsed.len() - words.len()..] != words[..] {
        return None;
    }
    // Find the byte offset of the first suffix word counted from the end.
    let mut idx = text.len();
    for _ in 0..words.len() {
        let trimmed = text[..idx].trim_end();
        idx = trimmed.rfind(char::is_whitespace).map_or(0, |p| p + 1);
    }
    Some(idx)
}

/// Spells a type the way `format_type` does, so `varchar(255)`, `int` or `timestamptz` in a
/// hand-written file compare equal to what the catalog reports.
pub fn normalize_type(raw: &str) -> String {
    // A schema of 10,000 tables spells a few dozen types 70,000 times: each is worked out once.
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<String, String>> =
            std::cell::RefCell::default();
    }
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        if let Some(known) = seen.get(raw) {
            return known.clone();
        }
        let normalized = spell_type(raw);
        if seen.len() < 4096 {
            seen.insert(raw.to_string(), normalized.clone());
        }
        normalized
    })
}

fn spell_type(raw: &str) -> String {
    let mut t = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    t = t
        .replace(" (", "(")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(", ", ",");
    let mut arrays = String::new();
    while let Some(stripped) = t.strip_suffix("[]") {
        arrays.push_str("[]");
        t = stripped.trim_end().to_string();
    }
    let (base, args) = match t.find('(') {
        Some(open) if t.ends_with(')') && !t.contains(" with") && !t.contains(" without") => {
            (t[..open].trim().to_string(), Some(t[open..].to_string()))
        }
        _ => (t.clone(), None),
    };
    let args_text = args.clone().unwrap_or_default();
    let normalized = match base.as_str() {
        "int" | "int4" | "integer" | "serial" | "serial4" => "integer".to_string(),
        "int2" | "smallint" | "smallserial" | "serial2" => "smallint".to_string(),
        "int8" | "bigint" | "bigserial" | "serial8" => "bigint".to_string(),
        "bool" | "boolean" => "boolean".to_string(),
        "float8" | "double" | "double precision" | "float" => "double precision".to_string(),
        "float4" | "real" => "real".to_string(),
        "decimal" | "numeric" => format!("numeric{args_text}"),
        "varchar" | "character varying" => format!("character varying{args_text}"),
        "char" | "character" | "bpchar" => {
            format!("character{}", args.unwrap_or_else(|| "(1)".into()))
        }
        "varbit" | "bit varying" => format!("bit varying{args_text}"),
        "timestamptz" => format!("timestamp{args_text} with time zone"),
        "timestamp" => format!("timestamp{args_text} without time zone"),
        "timetz" => format!("time{args_text} with time zone"),
        "time" => format!("time{args_text} without time zone"),
        _ => t.clone(),
    };
    format!("{normalized}{arrays}")
}

/// The `[migration]` section: the version table a migration tool keeps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSpec {
    pub table: String,
    /// Optional for well-known tables (`alembic_version` has `version_num`, ...).
    pub column: Option<String>,
    /// The table has exactly one row, with this value (Alembic, golang-migrate).
    pub equals: Option<String>,
    /// Some row has this value (tools that keep one row per applied migration).
    pub contains: Option<String>,
}

impl MigrationSpec {
    pub fn column(&self) -> String {
        self.column
            .clone()
            .or_else(|| known_version_column(&self.table).map(str::to_string))
            .unwrap_or_default()
    }
}

impl Expected {
    /// What [`super::introspect::introspect`] must read for this file to be checked.
    pub fn probe(&self) -> MigrationProbe {
        match &self.migration {
            None => MigrationProbe::None,
            Some(m) => MigrationProbe::Table {
                table: m.table.clone(),
                column: m.column(),
            },
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Expected, FileError> {
        let mut expected: Expected = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .unwrap_or((1, 1));
            FileError::Malformed {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        // A comment given as a string is its text.
        if let Some(Items::Specs(comments)) = &mut expected.comments {
            for spec in comments.values_mut() {
                if let Some(text) = spec.0.remove("definition") {
                    spec.0.insert("text".into(), text);
                }
            }
        }
        if let Some(m) = &expected.migration {
            let problem = if m.column.is_none() && known_version_column(&m.table).is_none() {
                Some(format!(
                    "[migration] table `{}` is not a known version table: add column = \"...\"",
                    m.table
                ))
            } else if m.equals.is_some() && m.contains.is_some() {
                Some("[migration] takes `equals` or `contains`, not both".to_string())
            } else {
                None
            };
            if let Some(message) = problem {
                let at = text.find("[migration]").unwrap_or(0);
                let (line, column) = line_column(text, at);
                return Err(FileError::Malformed {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message,
                });
            }
        }
        Ok(expected)
    }

    /// Reads and parses a file; an unreadable file is bad input (exit 2) like a malformed one.
    pub fn load(path: &Path) -> Result<Expected, FileError> {
        Expected::parse(&Expected::read(path)?, path)
    }

    /// The text of a file, up to [`crate::files::INPUT_LIMIT`]; an unreadable file is bad input.
    pub fn read(path: &Path) -> Result<String, FileError> {
        Ok(crate::files::read_text_capped(
            path,
            crate::files::INPUT_LIMIT,
        )?)
    }

    /// The schema a file is about, from its top-level keys alone (those before the first
    /// `[section]`), without parsing the rest: a large file's parse can then go on while
    /// the schema is read. `None` when that part does not parse on its own.
    pub fn declared_schema(text: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct Head {
            #[serde(default = "default_schema")]
            schema: String,
        }
        let end = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .find(|at| text[*at..].starts_with('['))
            .unwrap_or(text.len());
        toml::from_str::<Head>(&text[..end]).ok().map(|h| h.schema)
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Expected, FileError> {
        Expected::parse(text, Path::new("expected.toml"))
    }

    #[test]
    fn design_example_parses() {
        let e = parse(
            r#"
schema = "public"
min_tables = 25
extensions = ["uuid-ossp"]
[tables.threat_models]
columns = { id = "uuid not null", issue_uri = "text" }
indexes = ["idx_threat_models_owner_internal_uuid"]
[tables.notes]
[migration]
table = "alembic_version"
column = "version_num"
equals = "556b79de2825"
"#,
        )
        .unwrap();
        assert_eq!(e.min_tables, Some(25));
        assert!(!e.strict);
        let tm = &e.tables["threat_models"];
        let cols = tm.columns.as_ref().unwrap();
        assert_eq!(
            cols.spec("id"),
            Some(&ColumnSpec {
                data_type: "uuid".into(),
                not_null: true,
                default: None,
                collation: None,
            })
        );
        assert!(!cols.spec("issue_uri").unwrap().not_null);
        assert_eq!(
            tm.indexes.as_ref().unwrap().names(),
            ["idx_threat_models_owner_internal_uuid"]
        );
        assert_eq!(e.tables["notes"], TableSpec::default());
        assert_eq!(
            e.migration.as_ref().unwrap().equals.as_deref(),
            Some("556b79de2825")
        );
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let err = parse("schema = \"public\"\n[tables.users]\ncolums = [\"id\"]\n").unwrap_err();
        match &err {
            FileError::Malformed {
                line,
                column,
                message,
                ..
            } => {
                assert_eq!((*line, *column), (3, 1), "{message}");
                assert!(message.contains("colums"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().starts_with("expected.toml:3:1: "), "{err}");
    }

    #[test]
    fn malformed_toml_reports_position() {
        let err = parse("min_tables = 25\nextensions = [\"uuid-ossp\"\n").unwrap_err();
        let FileError::Malformed { line, .. } = err else {
            panic!("{err:?}")
        };
        assert!(line >= 2);
        let err = parse("min_tables = \"many\"\n").unwrap_err();
        let FileError::Malformed { line, column, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((line, column), (1, 14));
    }

    #[test]
    fn bad_column_spec_points_at_the_value() {
        let err = parse("[tables.t]\ncolumns = { a = \"text\", b = \"not null\" }\n").unwrap_err();
        let FileError::Malformed {
            line,
            column,
            message,
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((line, column), (2, 29), "{message}");
        assert!(message.contains("has no type"), "{message}");
    }

    #[test]
    fn migration_needs_a_column_for_unknown_tables() {
        let err = parse("\n[migration]\ntable = \"versions\"\nequals = \"1\"\n").unwrap_err();
        let FileError::Malformed { line, message, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(line, 2);
        assert!(message.contains("column"), "{message}");
        let ok = parse("[migration]\ntable = \"alembic_version\"\nequals = \"1\"\n").unwrap();
        assert_eq!(ok.migration.unwrap().column(), "version_num");
    }

    #[test]
    fn column_specs() {
        let s: ColumnSpec = "character varying(255) NOT NULL default 'x'::character varying"
            .parse()
            .unwrap();
        assert_eq!(s.data_type, "character varying(255)");
        assert!(s.not_null);
        assert_eq!(s.default.as_deref(), Some("'x'::character varying"));
        let s: ColumnSpec = "timestamptz null".parse().unwrap();
        assert_eq!(s.data_type, "timestamp with time zone");
        assert!(!s.not_null);
        let s: ColumnSpec = "bigint not null default nextval('t_id_seq'::regclass)"
            .parse()
            .unwrap();
        assert_eq!(
            s.to_string(),
            "bigint not null default nextval('t_id_seq'::regclass)"
        );
        let s: ColumnSpec = "default_type".parse().unwrap();
        assert_eq!(s.data_type, "default_type");
    }

    #[test]
    fn type_aliases_match_format_type() {
        for (alias, canonical) in [
            ("int", "integer"),
            ("INT8", "bigint"),
            ("varchar(255)", "character varying(255)"),
            ("varchar", "character varying"),
            ("timestamptz", "timestamp with time zone"),
            ("timestamp(3)", "timestamp(3) without time zone"),
            ("timestamp with time zone", "timestamp with time zone"),
            ("bool", "boolean"),
            ("text[]", "text[]"),
            ("int[]", "integer[]"),
            ("decimal(10, 2)", "numeric(10,2)"),
            ("numeric(10,2)", "numeric(10,2)"),
            ("char", "character(1)"),
            ("double precision", "double precision"),
            ("jsonb", "jsonb"),
        ] {
            assert_eq!(normalize_type(alias), canonical, "{alias}");
        }
    }

    #[test]
    fn object_sections_take_a_definition_labels_or_attributes() {
        let e = parse(
            r#"
extensions = { "uuid-ossp" = "1.1" }
views = ["v"]
enums = { mood = ["sad", "it's ok"] }
comments = { "table users" = "Who logs in" }
[functions."touch()"]
volatility = "stable"
config = "search_path=public"
[materialized_views.mv]
definition = " SELECT 1;"
"#,
        )
        .unwrap();
        assert_eq!(
            e.extensions
                .as_ref()
                .unwrap()
                .spec("uuid-ossp")
                .map(String::as_str),
            Some("1.1")
        );
        assert_eq!(e.views.as_ref().unwrap().names(), ["v"]);
        let mood = e.enums.as_ref().unwrap().spec("mood").unwrap();
        assert_eq!(mood.0["labels"], "'sad', 'it''s ok'");
        let comment = e.comments.as_ref().unwrap().spec("table users").unwrap();
        assert_eq!(comment.0["text"], "Who logs in");
        let touch = e
            .objects(ObjectKind::Function)
            .unwrap()
            .spec("touch()")
            .unwrap();
        assert_eq!(touch.0.len(), 2);
        assert_eq!(
            e.objects(ObjectKind::MaterializedView)
                .unwrap()
                .spec("mv")
                .unwrap()
                .0["definition"],
            " SELECT 1;"
        );
        let err = parse("enums = { mood = 3 }\n").unwrap_err();
        assert!(matches!(err, FileError::Malformed { .. }), "{err:?}");
        let s: ColumnSpec = "text collate \"C\" not null default 'x'::text"
            .parse()
            .unwrap();
        assert_eq!(
            (s.data_type.as_str(), s.collation.as_deref(), s.not_null),
            ("text", Some("\"C\""), true)
        );
    }

    #[test]
    fn the_declared_schema_comes_from_the_top_level_keys_alone() {
        let text = "# snapshot\nschema = \"app\"\nstrict = true\n\n[tables.t]\ncolumns = { a = \"text\" }\n";
        assert_eq!(Expected::declared_schema(text).as_deref(), Some("app"));
        assert_eq!(
            Expected::declared_schema("[tables.t]\nschema = \"x\"\n").as_deref(),
            Some("public")
        );
        assert_eq!(
            Expected::declared_schema("min_tables = 3\n").as_deref(),
            Some("public")
        );
        assert_eq!(Expected::declared_schema("schema = = 1\n"), None);
    }
}
