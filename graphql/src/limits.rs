//! Limits on one GraphQL document, checked on the parsed document before async-graphql validates
//! it, in time linear in the document's size.
//!
//! async-graphql's validation (depth, complexity, recursion depth) expands every fragment spread,
//! so a few hundred bytes of fragments that each spread the previous one twice cost time doubling
//! per fragment. Here the expanded size of each fragment is computed once and reused at every
//! spread, so a document is measured without being expanded: too many fragments, spreads nested
//! too deep, a fragment cycle, or too large an expansion is refused before validation starts.
//!
//! The same walk finds string inputs (inline or in variables) longer than the gateway accepts, and
//! names the input field they were given for. Depends on the async-graphql parser types only.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use async_graphql::parser::types::{
    Directive, ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::error::FieldViolation;

/// At most this many fragment definitions in one document.
pub const MAX_FRAGMENTS: usize = 100;
/// Fragments spread inside fragments at most this many levels deep.
pub const MAX_SPREAD_DEPTH: usize = 16;
/// At most this many selections, arguments and directives once every fragment spread is expanded
/// (async-graphql's validation visits each of them).
pub const MAX_EXPANDED_NODES: u64 = 5_000;
/// Brackets (`{`, `[`, `(`) nest at most this deep. async-graphql's parser recurses once per
/// level before its own limits apply, and thousands of levels overflow a thread's stack.
pub const MAX_NESTING: usize = 64;
/// At most this many field violations are reported for oversized strings.
const MAX_REPORTED_VIOLATIONS: usize = 10;

/// Why a document is refused before validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentRefusal {
    /// More fragment definitions than [`MAX_FRAGMENTS`].
    #[error("the document defines {count} fragments; at most {MAX_FRAGMENTS} are allowed")]
    TooManyFragments {
        /// How many it defines.
        count: usize,
    },
    /// A fragment spreads itself, directly or through others.
    #[error("fragment {name} spreads itself")]
    FragmentCycle {
        /// The fragment.
        name: String,
    },
    /// Fragments spread inside fragments deeper than [`MAX_SPREAD_DEPTH`].
    #[error("fragments are spread more than {MAX_SPREAD_DEPTH} levels deep")]
    SpreadsTooDeep,
    /// Brackets nest deeper than [`MAX_NESTING`].
    #[error("the document nests brackets more than {MAX_NESTING} levels deep")]
    NestedTooDeep,
    /// The expansion is larger than [`MAX_EXPANDED_NODES`].
    #[error(
        "the document is too large once its fragments are spread: more than {MAX_EXPANDED_NODES} \
         selections, arguments and directives"
    )]
    TooLarge,
}

/// What is known of a fragment while the document is measured.
#[derive(Clone, Copy)]
enum Measure {
    /// Being measured: reaching it again is a cycle.
    Visiting,
    /// Measured: its expanded size and how deep its spreads go below it.
    Done { size: u64, depth: usize },
}

/// Measures a document without expanding its fragments.
struct Measurer<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    measured: HashMap<&'a str, Measure>,
}

impl<'a> Measurer<'a> {
    /// The expanded size of `set`, reached `chain` spreads deep, and the deepest chain of spreads
    /// below it.
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        chain: usize,
    ) -> Result<(u64, usize), DocumentRefusal> {
        let (mut size, mut depth) = (0u64, 0usize);
        for item in &set.items {
            let (item_size, item_depth) = match &item.node {
                Selection::Field(field) => {
                    let (inner, inner_depth) = self.selection_set(&field.node.selection_set.node, chain)?;
                    (field_weight(&field.node).saturating_add(inner), inner_depth)
                }
                Selection::InlineFragment(inline) => {
                    let (inner, inner_depth) = self.selection_set(&inline.node.selection_set.node, chain)?;
                    (
                        directives_weight(&inline.node.directives).saturating_add(inner).saturating_add(1),
                        inner_depth,
                    )
                }
                Selection::FragmentSpread(spread) => {
                    let (inner, inner_depth) =
                        self.fragment(spread.node.fragment_name.node.as_str(), chain + 1)?;
                    (
                        directives_weight(&spread.node.directives).saturating_add(inner).saturating_add(1),
                        inner_depth + 1,
                    )
                }
            };
            size = size.saturating_add(item_size);
            depth = depth.max(item_depth);
            if size > MAX_EXPANDED_NODES {
                return Err(DocumentRefusal::TooLarge);
            }
        }
        Ok((size, depth))
    }

    /// The expanded size of fragment `name`, spread at depth `chain`, and the deepest chain of
    /// spreads inside it. Each fragment is measured once.
    fn fragment(&mut self, name: &'a str, chain: usize) -> Result<(u64, usize), DocumentRefusal> {
        if chain > MAX_SPREAD_DEPTH {
            return Err(DocumentRefusal::SpreadsTooDeep);
        }
        match self.measured.get(name) {
            Some(Measure::Visiting) => return Err(DocumentRefusal::FragmentCycle { name: name.to_owned() }),
            Some(&Measure::Done { size, depth }) => {
                if chain + depth > MAX_SPREAD_DEPTH {
                    return Err(DocumentRefusal::SpreadsTooDeep);
                }
                return Ok((size, depth));
            }
            None => {}
        }
        // An unknown fragment is reported by validation; it adds nothing here.
        let Some((key, definition)) = self.fragments.get_key_value(name) else {
            return Ok((0, 0));
        };
        self.measured.insert(key.as_str(), Measure::Visiting);
        let (size, depth) = self.selection_set(&definition.node.selection_set.node, chain)?;
        let size = size.saturating_add(directives_weight(&definition.node.directives));
        if size > MAX_EXPANDED_NODES {
            return Err(DocumentRefusal::TooLarge);
        }
        self.measured.insert(key.as_str(), Measure::Done { size, depth });
        Ok((size, depth))
    }
}

/// A field, its arguments and its directives.
fn field_weight(field: &Field) -> u64 {
    let arguments: u64 = field.arguments.iter().map(|(_, value)| value_weight(&value.node)).sum();
    1 + arguments + directives_weight(&field.directives)
}

fn directives_weight(directives: &[Positioned<Directive>]) -> u64 {
    directives
        .iter()
        .map(|d| 1 + d.node.arguments.iter().map(|(_, value)| value_weight(&value.node)).sum::<u64>())
        .sum()
}

fn value_weight(value: &Value) -> u64 {
    match value {
        Value::List(items) => 1 + items.iter().map(value_weight).sum::<u64>(),
        Value::Object(fields) => 1 + fields.values().map(value_weight).sum::<u64>(),
        Value::Variable(_)
        | Value::Null
        | Value::Number(_)
        | Value::String(_)
        | Value::Boolean(_)
        | Value::Binary(_)
        | Value::Enum(_) => 1,
    }
}

/// Refuses a document whose brackets nest deeper than [`MAX_NESTING`], before it is parsed. Brackets
/// inside strings, block strings and comments do not count.
pub fn check_nesting(query: &str) -> Result<(), DocumentRefusal> {
    let bytes = query.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(DocumentRefusal::NestedTooDeep);
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Refuses a document whose fragments would make validation expensive; see the module docs.
pub fn check_document(document: &ExecutableDocument) -> Result<(), DocumentRefusal> {
    if document.fragments.len() > MAX_FRAGMENTS {
        return Err(DocumentRefusal::TooManyFragments { count: document.fragments.len() });
    }
    let mut measurer = Measurer { fragments: &document.fragments, measured: HashMap::new() };
    // Validation also visits fragments that no operation spreads.
    for name in document.fragments.keys() {
        measurer.fragment(name.as_str(), 1)?;
    }
    let mut total = 0u64;
    for (_, operation) in document.operations.iter() {
        let (size, _) = measurer.selection_set(&operation.node.selection_set.node, 0)?;
        total = total.saturating_add(size).saturating_add(directives_weight(&operation.node.directives));
        if total > MAX_EXPANDED_NODES {
            return Err(DocumentRefusal::TooLarge);
        }
    }
    Ok(())
}

/// Input fields that carry a whole document (an assessment template as JSON), and so may be
/// longer than other strings: up to [`MAX_DOCUMENT_BYTES`] (the request body's own limit
/// still applies). The services parse and bound what they hold.
pub const DOCUMENT_FIELDS: [&str; 1] = ["contentJson"];

/// The longest [`DOCUMENT_FIELDS`] value, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 60 * 1024;

/// Finds the string inputs of a request longer than `max_bytes` (a
/// [`DOCUMENT_FIELDS`] value: longer than [`MAX_DOCUMENT_BYTES`]): inline in the document, as
/// variable default values, or in the variables. Each violation names the input field (or
/// argument) the string was given for; a variable's value is walked once, under the name of the
/// first field it is given for.
pub fn oversized_strings(
    document: &ExecutableDocument,
    variables: &Variables,
    max_bytes: usize,
) -> Vec<FieldViolation> {
    let mut finder = StringFinder { max_bytes, bound: HashMap::new(), violations: Vec::new() };
    for (_, operation) in document.operations.iter() {
        for definition in &operation.node.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                finder.const_value(definition.node.name.node.as_str(), &default.node);
            }
            finder.directives(&definition.node.directives);
        }
        finder.directives(&operation.node.directives);
        finder.selection_set(&operation.node.selection_set.node);
    }
    for fragment in document.fragments.values() {
        finder.directives(&fragment.node.directives);
        finder.selection_set(&fragment.node.selection_set.node);
    }
    let bound = std::mem::take(&mut finder.bound);
    for (variable, field) in bound {
        if let Some(value) = variables.get(variable) {
            finder.const_value(field, value);
        }
    }
    finder.violations
}

struct StringFinder<'a> {
    max_bytes: usize,
    /// Each variable the document uses, and the first field it is given for.
    bound: HashMap<&'a str, &'a str>,
    violations: Vec<FieldViolation>,
}

impl<'a> StringFinder<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    for (name, value) in &field.node.arguments {
                        self.value(name.node.as_str(), &value.node);
                    }
                    self.directives(&field.node.directives);
                    self.selection_set(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.node.directives);
                    self.selection_set(&inline.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => self.directives(&spread.node.directives),
            }
        }
    }

    fn directives(&mut self, directives: &'a [Positioned<Directive>]) {
        for directive in directives {
            for (name, value) in &directive.node.arguments {
                self.value(name.node.as_str(), &value.node);
            }
        }
    }

    fn value(&mut self, field: &'a str, value: &'a Value) {
        match value {
            Value::Variable(variable) => {
                if let Entry::Vacant(entry) = self.bound.entry(variable.as_str()) {
                    entry.insert(field);
                }
            }
            Value::String(s) => self.string(field, s),
            Value::List(items) => items.iter().for_each(|item| self.value(field, item)),
            Value::Object(fields) => fields.iter().for_each(|(name, item)| self.value(name.as_str(), item)),
            Value::Null | Value::Number(_) | Value::Boolean(_) | Value::Binary(_) | Value::Enum(_) => {}
        }
    }

    fn const_value(&mut self, field: &str, value: &ConstValue) {
        match value {
            ConstValue::String(s) => self.string(field, s),
            ConstValue::List(items) => items.iter().for_each(|item| self.const_value(field, item)),
            ConstValue::Object(fields) => {
                fields.iter().for_each(|(name, item)| self.const_value(name.as_str(), item));
            }
            ConstValue::Null
            | ConstValue::Number(_)
            | ConstValue::Boolean(_)
            | ConstValue::Binary(_)
            | ConstValue::Enum(_) => {}
        }
    }

    fn string(&mut self, field: &str, s: &str) {
        let max_bytes = if DOCUMENT_FIELDS.contains(&field) { MAX_DOCUMENT_BYTES } else { self.max_bytes };
        if s.len() <= max_bytes
            || self.violations.len() >= MAX_REPORTED_VIOLATIONS
            || self.violations.iter().any(|v| v.field == field)
        {
            return;
        }
        self.violations.push(FieldViolation {
            field: field.to_owned(),
            description: format!("must be at most {max_bytes} bytes; got {}", s.len()),
        });
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    /// `n` fragments, each spreading the previous one twice: 2^n fields once expanded.
    fn bomb(n: usize) -> String {
        let mut query = String::from("query { sites { ...F0 } }\nfragment F0 on Site { id name }\n");
        for i in 1..n {
            query.push_str(&format!("fragment F{i} on Site {{ ...F{p} ...F{p} }}\n", p = i - 1));
        }
        query = query.replacen("...F0", &format!("...F{}", n - 1), 1);
        query
    }

    #[test]
    fn an_ordinary_document_passes() {
        let doc = parse_query(
            "query($w: ID!) { bedBoard(wardId: $w) { ...B } } fragment B on Bed { id status patient { nhsNumber } }",
        )
        .expect("parses");
        assert_eq!(check_document(&doc), Ok(()));
    }

    #[test]
    fn a_fragment_bomb_is_refused_without_expanding_it() {
        for n in [12, 25, 60, 90] {
            let doc = parse_query(bomb(n)).expect("parses");
            // Which limit is met first depends on the fragment measured first.
            let refusal = check_document(&doc);
            assert!(
                matches!(refusal, Err(DocumentRefusal::TooLarge | DocumentRefusal::SpreadsTooDeep)),
                "{n} fragments: {refusal:?}"
            );
        }
        let doc = parse_query(bomb(120)).expect("parses");
        assert_eq!(check_document(&doc), Err(DocumentRefusal::TooManyFragments { count: 120 }));
    }

    #[test]
    fn a_long_chain_of_spreads_is_refused() {
        let mut query = String::from("{ sites { ...F20 } } fragment F0 on Site { id }\n");
        for i in 1..=20 {
            query.push_str(&format!("fragment F{i} on Site {{ ...F{} }}\n", i - 1));
        }
        let doc = parse_query(&query).expect("parses");
        assert_eq!(check_document(&doc), Err(DocumentRefusal::SpreadsTooDeep));
    }

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        let deep = format!("{{ a{}1{} }}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert_eq!(check_nesting(&deep), Err(DocumentRefusal::NestedTooDeep));
        let brackets = "[".repeat(MAX_NESTING * 2);
        let quoted = format!(
            "{{ a(s: \"{brackets}\", t: \"\\\"{brackets}\", b: \"\"\"{brackets}\\\"\"\"{brackets}\"\"\") }} # {brackets}\n{{ b }}"
        );
        assert_eq!(check_nesting(&quoted), Ok(()));
        assert_eq!(check_nesting("{ a { b { c } } }"), Ok(()));
    }

    #[test]
    fn a_wide_bomb_within_the_spread_depth_is_too_large() {
        // Each of 10 fragments spreads the previous one 4 times: 4^10 fields.
        let mut query = String::from("{ sites { ...F9 } } fragment F0 on Site { id }\n");
        for i in 1..10 {
            let p = i - 1;
            query.push_str(&format!("fragment F{i} on Site {{ ...F{p} ...F{p} ...F{p} ...F{p} }}\n"));
        }
        let doc = parse_query(&query).expect("parses");
        assert_eq!(check_document(&doc), Err(DocumentRefusal::TooLarge));
    }

    #[test]
    fn cycles_are_refused() {
        let doc =
            parse_query("{ sites { ...A } } fragment A on Site { ...B } fragment B on Site { id ...A }")
                .expect("parses");
        assert!(matches!(check_document(&doc), Err(DocumentRefusal::FragmentCycle { .. })));
    }

    #[test]
    fn long_strings_are_named_by_their_input_field() {
        let long = "x".repeat(100);
        let query = format!(
            r#"mutation($input: AddBedInput!, $n: String) {{
                a: addBed(input: $input) {{ position }}
                b: addBed(input: {{bedId: "{long}", wardId: "W", label: "ok"}}) {{ position }}
                c: blockBed(input: {{bedId: "B", reason: STAFFING, note: $n}}) {{ position }}
            }}"#
        );
        let doc = parse_query(&query).expect("parses");
        let variables = Variables::from_json(serde_json::json!({
            "input": {"bedId": "B1", "wardId": "W1", "label": long},
            "n": long,
        }));
        let mut fields: Vec<String> =
            oversized_strings(&doc, &variables, 64).into_iter().map(|v| v.field).collect();
        fields.sort();
        assert_eq!(fields, ["bedId", "label", "note"]);
        assert!(oversized_strings(&doc, &variables, 100).is_empty());
    }

    #[test]
    fn a_document_field_may_be_longer_but_not_without_bound() {
        let doc = parse_query(
            "mutation($id: ID!, $json: String!) { publishAssessmentTemplate(input: {templateId: $id, contentJson: $json}) { position } }",
        )
        .expect("parses");
        let with = |json: String| Variables::from_json(serde_json::json!({"id": "t", "json": json}));
        let template = with("x".repeat(MAX_DOCUMENT_BYTES));
        assert!(oversized_strings(&doc, &template, 4096).is_empty(), "a template of the largest size");
        let huge = with("x".repeat(MAX_DOCUMENT_BYTES + 1));
        let fields: Vec<String> = oversized_strings(&doc, &huge, 4096).into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["contentJson"]);
        let long_id = Variables::from_json(serde_json::json!({"id": "x".repeat(5000), "json": "{}"}));
        assert_eq!(oversized_strings(&doc, &long_id, 4096).len(), 1, "other fields keep their limit");
    }
}
