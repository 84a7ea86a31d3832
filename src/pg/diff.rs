//! A short unified diff of two definitions, for reports: a 700-character view definition that
//! differs by one column is easier to read as the one line that changed.

/// Texts longer than this are shown as a diff rather than side by side.
pub const LONG: usize = 60;

/// Whether a drift's two sides are better shown as a diff.
pub fn is_long(expected: &str, found: &str) -> bool {
    expected.len() > LONG || found.len() > LONG || expected.contains('\n') || found.contains('\n')
}

/// Splits a definition into lines: its own lines, and a one-line definition at its commas and
/// before its clauses, so that a change shows as the part that changed.
pub fn lines(text: &str) -> Vec<String> {
    const BREAK_BEFORE: [&str; 7] = [
        " AND ",
        " OR ",
        " WHERE ",
        " FROM ",
        " JOIN ",
        " USING ",
        " RETURNS ",
    ];
    let mut out = Vec::new();
    for line in text.lines() {
        let mut current = String::new();
        let mut rest = line;
        while !rest.is_empty() {
            if let Some(word) = BREAK_BEFORE.iter().find(|w| rest.starts_with(**w))
                && !current.trim().is_empty()
            {
                out.push(std::mem::take(&mut current));
                current.push_str(&word[1..]);
                rest = &rest[word.len()..];
                continue;
            }
            let c = rest.chars().next().unwrap_or(' ');
            current.push(c);
            rest = &rest[c.len_utf8()..];
            if c == ',' && rest.starts_with(' ') {
                out.push(std::mem::take(&mut current));
                rest = &rest[1..];
            }
        }
        if !current.trim().is_empty() {
            out.push(current);
        }
    }
    out
}

/// `-` lines of `expected`, `+` lines of `found`, with `context` unchanged lines around each
/// change and `...` where unchanged lines were left out.
pub fn unified(expected: &str, found: &str, context: usize) -> String {
    let (a, b) = (lines(expected), lines(found));
    let ops = edit_script(&a, &b);
    let changed: Vec<bool> = ops.iter().map(|op| !matches!(op, Op::Same(_))).collect();
    let near_change = |i: usize| {
        let from = i.saturating_sub(context);
        let to = (i + context + 1).min(ops.len());
        changed[from..to].iter().any(|c| *c)
    };
    let mut out = Vec::new();
    let mut skipped = false;
    for (i, op) in ops.iter().enumerate() {
        if !near_change(i) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push("  ...".to_string());
            skipped = false;
        }
        out.push(match op {
            Op::Same(line) => format!("  {line}"),
            Op::Removed(line) => format!("- {line}"),
            Op::Added(line) => format!("+ {line}"),
        });
    }
    if skipped {
        out.push("  ...".to_string());
    }
    out.join("\n")
}

enum Op<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// The longest-common-subsequence edit script; definitions are a few hundred lines at most.
fn edit_script<'a>(a: &'a [String], b: &'a [String]) -> Vec<Op<'a>> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i].trim() == b[j].trim() {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i].trim() == b[j].trim() {
            ops.push(Op::Same(&a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Removed(&a[i]));
            i += 1;
        } else {
            ops.push(Op::Added(&b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_list_item_is_one_pair_of_lines() {
        let expected = "CHECK ((kind = ANY (ARRAY['CIA'::text, 'STRIDE'::text, 'LINDDUN'::text, 'DIE'::text, 'PLOT4ai'::text])))";
        let found = "CHECK ((kind = ANY (ARRAY['CIA'::text, 'STRIDE'::text, 'LINDDUN'::text, 'DIE'::text])))";
        let diff = unified(expected, found, 1);
        assert_eq!(
            diff,
            "  ...\n  'LINDDUN'::text,\n- 'DIE'::text,\n- 'PLOT4ai'::text])))\n+ 'DIE'::text])))"
        );
    }

    #[test]
    fn multi_line_definitions_keep_their_lines() {
        let expected = " SELECT a,\n    b\n   FROM t\n  WHERE (a > 1);";
        let found = " SELECT a,\n    c\n   FROM t\n  WHERE (a > 1);";
        let diff = unified(expected, found, 0);
        assert_eq!(diff, "  ...\n-     b\n+     c\n  ...");
        assert!(is_long(expected, found));
        assert!(!is_long("integer", "bigint"));
    }
}
