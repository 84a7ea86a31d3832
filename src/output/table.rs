//! Aligned tables that fit the width they are shown in: the widest columns give way first; the
//! last column wraps, the others are cut with `…`.

use super::style::{Look, Tone, cut, visible_width, wrap};

/// One cell: its text and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn new(tone: Tone, text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            tone,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::new(Tone::Plain, text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::new(Tone::Plain, text)
    }
}

/// A table with a header row.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

/// No column is squeezed below this, so that a cut cell still says something.
const MIN_COLUMN: usize = 6;
const GAP: &str = "  ";

impl Table {
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I, C>(&mut self, cells: I)
    where
        I: IntoIterator<Item = C>,
        C: Into<Cell>,
    {
        // A cell is one line, whatever a server put in it.
        self.rows.push(
            cells
                .into_iter()
                .map(|c| {
                    let cell: Cell = c.into();
                    Cell::new(
                        cell.tone,
                        super::sanitize::one_line(&cell.text).into_owned(),
                    )
                })
                .collect(),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, each line within `look.width` when there is one.
    pub fn render(&self, look: &Look) -> String {
        let widths = self.column_widths(look.width);
        let mut text = String::new();
        let header: Vec<Cell> = self
            .header
            .iter()
            .map(|h| Cell::new(Tone::Strong, h.clone()))
            .collect();
        self.push_row(&mut text, &header, &widths, look);
        let rule: Vec<Cell> = widths.iter().map(|w| Cell::from("─".repeat(*w))).collect();
        self.push_row(&mut text, &rule, &widths, look);
        for row in &self.rows {
            self.push_row(&mut text, row, &widths, look);
        }
        text
    }

    /// Each column as wide as its widest cell, then narrowed, widest first, until the table fits.
    fn column_widths(&self, limit: Option<usize>) -> Vec<usize> {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| visible_width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(visible_width(&cell.text));
            }
        }
        let Some(limit) = limit else {
            return widths;
        };
        let gaps = GAP.len() * columns.saturating_sub(1);
        while widths.iter().sum::<usize>() + gaps > limit {
            let Some((widest, width)) = widths
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, w)| *w > MIN_COLUMN)
                .max_by_key(|(_, w)| *w)
            else {
                break;
            };
            widths[widest] = width - 1;
        }
        widths
    }

    fn push_row(&self, text: &mut String, cells: &[Cell], widths: &[usize], look: &Look) {
        let last = widths.len().saturating_sub(1);
        let blank = Cell::from("");
        let cell = |i: usize| cells.get(i).unwrap_or(&blank);
        let wrapped = wrap(&cell(last).text, widths[last].max(1));
        for (line_no, last_text) in wrapped.iter().enumerate() {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate().take(last) {
                let shown = if line_no == 0 {
                    cut(&cell(i).text, *width)
                } else {
                    String::new()
                };
                let pad = width.saturating_sub(visible_width(&shown));
                line.push_str(&look.paint(cell(i).tone, &shown));
                line.push_str(&" ".repeat(pad));
                line.push_str(GAP);
            }
            line.push_str(&look.paint(cell(last).tone, last_text));
            text.push_str(line.trim_end());
            text.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned() {
        let mut t = Table::new(["name", "state"]);
        t.row(["web.1", "up"]);
        t.row(["worker.10", "starting"]);
        let text = t.render(&Look::PLAIN);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "name       state");
        assert_eq!(lines[2], "web.1      up");
        assert_eq!(lines[3], "worker.10  starting");
    }

    #[test]
    fn a_table_fits_its_width_by_cutting_and_wrapping() {
        let mut t = Table::new(["step", "status", "detail"]);
        t.row([
            "pg.drop-schema-with-a-very-long-name",
            "done",
            "dropped and recreated schema public with every one of its twenty-five tables",
        ]);
        let look = Look {
            width: Some(40),
            ..Look::PLAIN
        };
        let text = t.render(&look);
        assert!(text.lines().all(|l| visible_width(l) <= 40), "{text}");
        assert!(text.contains('…'), "the long name is cut: {text}");
        assert!(
            text.contains("twenty-five"),
            "the last column wraps, keeping its words: {text}"
        );
    }

    #[test]
    fn colour_does_not_count_against_the_width() {
        let mut t = Table::new(["app", "status"]);
        t.row([
            Cell::new(Tone::Name, "tmi-server"),
            Cell::new(Tone::Good, "ok"),
        ]);
        let look = Look {
            color: true,
            width: Some(20),
            verbose: false,
        };
        let text = t.render(&look);
        assert!(text.contains("\u{1b}["), "{text:?}");
        assert!(text.lines().all(|l| visible_width(l) <= 20), "{text}");
    }
}
