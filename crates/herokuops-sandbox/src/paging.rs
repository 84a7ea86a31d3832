//! Heroku's `Range` pagination of list answers: parsing the header, sorting and cutting the
//! list, and the `Next-Range` header of a partial answer.

use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde_json::{Value, json};

use crate::wire::{Failure, Outcome, Req, json_response};

/// A parsed `Range` header: `<field> [\]]<first>..<last>[; max=<n>[, order=desc]]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Range {
    pub field: String,
    pub first: Option<String>,
    pub exclusive: bool,
    pub last: Option<String>,
    pub max: usize,
    pub desc: bool,
}

/// Heroku's default and largest page sizes.
pub(crate) const PAGE_SIZE: usize = 200;
const MAX_PAGE_SIZE: usize = 1000;

pub(crate) fn parse_range(header: &str, default_field: &str) -> Result<Range, Failure> {
    let bad = || Failure::bad_request(format!("Invalid Range header {header:?}"));
    let header = header.trim();
    let (spec, options) = match header.split_once(';') {
        Some((s, o)) => (s.trim(), o.trim()),
        None => (header, ""),
    };
    let (field, bounds) = match spec.split_once(char::is_whitespace) {
        Some((f, b)) => (f.trim(), b.trim()),
        None if spec.contains("..") => (default_field, spec),
        None => (spec, ".."),
    };
    let (first, last) = bounds.split_once("..").ok_or_else(bad)?;
    let (exclusive, first) = match first.trim().strip_prefix(']') {
        Some(rest) => (true, rest.trim()),
        None => (false, first.trim()),
    };
    let mut range = Range {
        field: field.to_string(),
        first: (!first.is_empty()).then(|| first.to_string()),
        exclusive,
        last: (!last.trim().is_empty()).then(|| last.trim().to_string()),
        max: PAGE_SIZE,
        desc: false,
    };
    for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("max", n)) => {
                range.max = n
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| bad())?
                    .clamp(1, MAX_PAGE_SIZE)
            }
            Some(("order", "desc")) => range.desc = true,
            Some(("order", "asc")) => range.desc = false,
            _ => return Err(bad()),
        }
    }
    Ok(range)
}

fn field_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => value_text(a).cmp(&value_text(b)),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn bound_value(sample: &Value, text: &str) -> Value {
    if sample.is_number() {
        text.parse::<f64>().map(|n| json!(n)).unwrap_or(json!(text))
    } else {
        json!(text)
    }
}

/// Answers a list the way the Platform API pages it: sorted by the `Range` field, at most
/// `max` items, `206` and `Next-Range` when more remain.
pub(crate) fn paginate(req: &Req, mut items: Vec<Value>, default_field: &str) -> Outcome {
    let range = match req.header("range") {
        Some(h) => parse_range(h, default_field)?,
        None => Range {
            field: default_field.to_string(),
            first: None,
            exclusive: false,
            last: None,
            max: PAGE_SIZE,
            desc: false,
        },
    };
    if items.first().is_some_and(|i| i.get(&range.field).is_none()) {
        return Err(Failure::bad_request(format!(
            "Range by {} is not supported here",
            range.field
        )));
    }
    let key = |v: &Value| v.get(&range.field).cloned().unwrap_or(Value::Null);
    items.sort_by(|a, b| field_cmp(&key(a), &key(b)));
    if range.desc {
        items.reverse();
    }
    let sample = items.first().map(key).unwrap_or(Value::Null);
    let before = |v: &Value, bound: &Value| {
        let ord = field_cmp(v, bound);
        if range.desc { ord.is_gt() } else { ord.is_lt() }
    };
    if let Some(first) = &range.first {
        let bound = bound_value(&sample, first);
        items.retain(|i| {
            let v = key(i);
            !(before(&v, &bound) || (range.exclusive && field_cmp(&v, &bound).is_eq()))
        });
    }
    if let Some(last) = &range.last {
        let bound = bound_value(&sample, last);
        items.retain(|i| {
            let v = key(i);
            before(&v, &bound) || field_cmp(&v, &bound).is_eq()
        });
    }
    let more = items.len() > range.max;
    items.truncate(range.max);
    let order = if range.desc { ", order=desc" } else { "" };
    let mut response = json_response(
        if more {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        },
        &Value::Array(items.clone()),
    );
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        let content = format!(
            "{} {}..{}; max={}{order}",
            range.field,
            value_text(&key(first)),
            value_text(&key(last)),
            range.max
        );
        if let Ok(v) = HeaderValue::from_str(&content) {
            response.headers_mut().insert("content-range", v);
        }
        if more {
            let next = format!(
                "{} ]{}..; max={}{order}",
                range.field,
                value_text(&key(last)),
                range.max
            );
            if let Ok(v) = HeaderValue::from_str(&next) {
                response.headers_mut().insert("next-range", v);
            }
        }
    }
    Ok(response)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        let r = parse_range("version ..; max=5, order=desc", "id").unwrap();
        assert_eq!(
            (r.field.as_str(), r.max, r.desc, r.first, r.last),
            ("version", 5, true, None, None)
        );
        let r = parse_range("id ]abc..; max=200", "id").unwrap();
        assert!(r.exclusive);
        assert_eq!(r.first.as_deref(), Some("abc"));
        assert!(parse_range("id ..; max=x", "id").is_err());
        assert_eq!(parse_range("name ..; max=5000", "id").unwrap().max, 1000);
    }
}
