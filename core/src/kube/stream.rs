//! Decoding the documents that the framer cuts out of a stream, and finding
//! where each one is.

use std::io::BufRead;
use std::marker::PhantomData;

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::granit_parser::ErrorKind;
use serde_saphyr::options::DuplicateKeyPolicy;
use serde_saphyr::{Budget, ExternalMessageSource, MessageFormatter};

use super::DecodedDocument;
use super::documents::{Items, Meaning, TopLevelSeed, interpret};
use super::error::{DecodeError, DecodeErrorKind, Position};
use super::framing::{Framer, LongJson, Moved, Piece, Stop, Syntax, WalkError};
use super::limits::{LimitExceeded, Limits, Tripped, deserialize_within};
use super::objects::{KubeObject, ObjectSeed};
use crate::model::InputFields;
use serde::de::DeserializeSeed;
use serde_json::Deserializer;
use serde_json::de::SliceRead;

/// The documents of a JSON or YAML stream, decoded one at a time as they are
/// read.
pub struct Documents<R> {
    framer: Framer<R>,
    limits: Limits,
    yaml: serde_saphyr::Options,
    document: usize,
    /// The input fields events are given; the others are emptied.
    shown: InputFields,
}

impl<R: BufRead> Documents<R> {
    pub(super) fn new(input: R, limits: Limits) -> Self {
        Documents {
            framer: Framer::new(input, limits.max_document_bytes),
            yaml: yaml_options(&limits),
            limits,
            document: 0,
            shown: InputFields::all(),
        }
    }

    /// Gives events only the fields of `shown`, emptying the others (see
    /// [`withhold`](crate::withhold)) as each object is read: a 100,000-TCP
    /// List then costs what is shown of it, not what it holds.
    ///
    /// The fields not shown are skipped unread, so their types are not
    /// checked, in JSON and in YAML alike; the fields shown are checked in
    /// both (see "What each document gives" in the [module docs](super)).
    pub fn showing(mut self, shown: InputFields) -> Self {
        self.shown = shown;
        self
    }

    fn decode(&mut self, piece: Result<Piece, Stop>) -> Outcome {
        let mut meaning = match piece {
            Ok(Piece::Document {
                syntax: Syntax::Json,
                start,
                bytes,
            }) => decode_json(&bytes, start, &self.limits, self.shown),
            Ok(Piece::LongJson { start }) => self.decode_long_json(start),
            Ok(Piece::Document {
                syntax: Syntax::Yaml,
                start,
                bytes,
            }) => decode_yaml(&bytes, start, &self.limits, self.shown, self.yaml.clone()),
            Ok(Piece::TooLarge { start }) => Err((
                start,
                DecodeErrorKind::Limit(LimitExceeded::DocumentSize {
                    limit: self.limits.max_document_bytes,
                    size: None,
                }),
            )),
            Err(stop) => Err(self.stopped(stop)),
        }?;
        meaning.event.withhold(self.shown);
        Ok(meaning)
    }

    /// A JSON document too long to keep: its items are decoded one at a time
    /// as they are read, then the rest of it (see [`LongJson`]).
    fn decode_long_json(&mut self, start: Position) -> Outcome {
        let mut items = Items::new(self.shown);
        let (shown, limits) = (self.shown, self.limits);
        let walked = self
            .framer
            .walk_long_json(limits.max_items, |at, bytes, depth| {
                let seed = ObjectSeed { shown };
                let object = parse_json(
                    seed,
                    Deserializer::from_slice(bytes),
                    at,
                    &limits.nested(depth),
                )?;
                items.push(object);
                Ok(())
            });
        let (rest, moved) = match walked {
            Ok(LongJson { rest, moved }) => (rest, moved),
            Err(error) => return Err(self.walk_error(start, error)),
        };
        let seed = TopLevelSeed { shown };
        let place = |at| moved.map_or(at, |moved: Moved| moved.place(at));
        let mut top = parse_json(seed, Deserializer::from_slice(&rest), start, &limits)
            .map_err(|(at, cause)| (place(at), cause))?;
        top.put_items(items);
        interpret(top, shown).map_err(|cause| (start, cause))
    }

    fn walk_error(
        &self,
        start: Position,
        error: WalkError<(Position, DecodeErrorKind)>,
    ) -> (Position, DecodeErrorKind) {
        let limit = |limit| (start, DecodeErrorKind::Limit(limit));
        match error {
            WalkError::Item(error) => error,
            WalkError::Syntax { position, message } => {
                (position, DecodeErrorKind::Json(message.to_owned()))
            }
            WalkError::TooManyItems => limit(LimitExceeded::Items {
                limit: self.limits.max_items,
            }),
            WalkError::TooLarge => limit(LimitExceeded::DocumentSize {
                limit: self.limits.max_document_bytes,
                size: None,
            }),
            WalkError::Stopped(stop) => self.stopped(stop),
        }
    }

    /// Where and why the stream stops.
    fn stopped(&self, stop: Stop) -> (Position, DecodeErrorKind) {
        match stop {
            Stop::NotText(position) => (position, DecodeErrorKind::NotText),
            Stop::Read(error) => (self.framer.position(), DecodeErrorKind::Read(error)),
        }
    }
}

impl<R: BufRead> Iterator for Documents<R> {
    type Item = Result<DecodedDocument, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let piece = self.framer.next_piece()?;
        self.document += 1;
        Some(finish(self.document, self.decode(piece)))
    }
}

/// A document's outcome, or why it has none and where.
type Outcome = Result<Meaning, (Position, DecodeErrorKind)>;

fn finish(document: usize, outcome: Outcome) -> Result<DecodedDocument, DecodeError> {
    match outcome {
        Ok(Meaning {
            event,
            skipped_items,
        }) => Ok(DecodedDocument {
            document,
            event,
            skipped_items,
        }),
        Err((position, cause)) => Err(DecodeError {
            document,
            position,
            cause,
        }),
    }
}

/// Reads the object that is the whole of `body`, within `limits`.
pub(super) fn admission_review_body<'a>(
    body: &'a [u8],
    limits: &Limits,
) -> Result<KubeObject<'a>, (Position, DecodeErrorKind)> {
    const START: Position = Position { line: 1, column: 1 };
    limits
        .check_size(body.len())
        .map_err(|limit| (START, DecodeErrorKind::Limit(limit)))?;
    parse_json(
        PhantomData::<KubeObject>,
        Deserializer::from_slice(body),
        START,
        limits,
    )
}

/// A serde_json error with its position made absolute: serde_json counts from
/// `start`, where the document's slice begins, and says so in its message.
fn json_error(start: Position, error: &serde_json::Error) -> (Position, DecodeErrorKind) {
    let position = match error.line() {
        0 => start,
        1 => Position {
            line: start.line,
            column: start.column + error.column().saturating_sub(1),
        },
        line => Position {
            line: start.line + line - 1,
            column: error.column(),
        },
    };
    let mut message = error.to_string();
    let relative = format!(" at line {} column {}", error.line(), error.column());
    if message.ends_with(&relative) {
        message.truncate(message.len() - relative.len());
    }
    (position, DecodeErrorKind::Json(message))
}

/// Decodes one JSON document.
fn decode_json(bytes: &[u8], start: Position, limits: &Limits, shown: InputFields) -> Outcome {
    let seed = TopLevelSeed { shown };
    let top = parse_json(seed, Deserializer::from_slice(bytes), start, limits)?;
    interpret(top, shown).map_err(|cause| (start, cause))
}

/// Reads one JSON value with `seed`, by a fresh deserializer (one cannot go
/// on after an error), within `limits`.
fn parse_json<'de, S: DeserializeSeed<'de>>(
    seed: S,
    mut deserializer: Deserializer<SliceRead<'de>>,
    start: Position,
    limits: &Limits,
) -> Result<S::Value, (Position, DecodeErrorKind)> {
    let tripped = Tripped::default();
    deserialize_within(seed, &mut deserializer, limits, &tripped)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|error| {
            let (position, cause) = json_error(start, &error);
            (
                position,
                tripped.take().map_or(cause, DecodeErrorKind::Limit),
            )
        })
}

/// The YAML parser's own bounds, from ours. Its budget is checked on the
/// parser's events, before the deserializer (or our adapter) sees a value,
/// so it bounds what is skipped as well as what is read.
fn yaml_options(limits: &Limits) -> serde_saphyr::Options {
    let mut budget = Budget::default();
    // Kubernetes never writes anchors and aliases, and each alias replays a
    // whole value: refused, so a document costs what its bytes do.
    budget.max_aliases = 0;
    budget.enforce_alias_anchor_ratio = false;
    budget.max_depth = limits.max_depth;
    // Flow-style nesting is stopped by the scanner, which reads ahead of the
    // events that the depth is counted on; its error is mapped to ours.
    budget.flow_nesting_limit = limits.max_depth;
    budget.max_documents = 1;
    // The document size bounds the rest (see the module docs).
    budget.max_reader_input_bytes = None;
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_total_scalar_bytes = usize::MAX;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    // A field's value means what it means in JSON (see `objects::parts`): a
    // plain `1` or `true` is a number or a boolean, not a string, as kubectl
    // reads it, and a repeated key is handed to the reader as serde_json
    // hands it, rather than refused by the parser even where it is skipped.
    options.no_schema = true;
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options
}

/// Decodes one YAML document. `bytes` starts with the line of `start`.
fn decode_yaml(
    bytes: &[u8],
    start: Position,
    limits: &Limits,
    shown: InputFields,
    options: serde_saphyr::Options,
) -> Outcome {
    let content = Position {
        line: start.line + first_content_line(bytes),
        column: 1,
    };
    let tripped = Tripped::default();
    let seed = TopLevelSeed { shown };
    let parsed = serde_saphyr::with_deserializer_from_slice_with_options(bytes, options, |yaml| {
        deserialize_within(seed, yaml, limits, &tripped)
    });
    match parsed {
        Ok(top) => interpret(top, shown).map_err(|cause| (content, cause)),
        Err(error) => {
            let (position, cause) = yaml_error(bytes, limits, start, content, &error);
            Err((
                position,
                tripped.take().map_or(cause, DecodeErrorKind::Limit),
            ))
        }
    }
}

/// The 0-based index of the first line that is neither blank, a comment, a
/// directive nor a `---` marker: where errors that are not the parser's are put.
fn first_content_line(bytes: &[u8]) -> usize {
    bytes
        .split(|&byte| byte == b'\n')
        .position(|line| {
            let text = line.trim_ascii();
            !(text.is_empty()
                || text.starts_with(b"#")
                || line.starts_with(b"%")
                || text.starts_with(b"---"))
        })
        .unwrap_or(0)
}

/// A serde-saphyr error, with its position made absolute (the document's
/// bytes start at `start`) and its bound typed when it is one of ours.
fn yaml_error(
    bytes: &[u8],
    limits: &Limits,
    start: Position,
    content: Position,
    error: &serde_saphyr::Error,
) -> (Position, DecodeErrorKind) {
    // Keep an error at the end of a document that does not end with a line
    // break on its last line, so that a position is always inside the input.
    let lines = bytes.split(|&byte| byte == b'\n').count();
    let position = error
        .location()
        .filter(|location| location.line() > 0)
        .map_or(content, |location| Position {
            line: start.line + (location.line() as usize).clamp(1, lines) - 1,
            column: (location.column() as usize).max(1),
        });
    let cause = yaml_limit(error, limits).map_or_else(
        || {
            let message = serde_saphyr::DefaultMessageFormatter.format_message(error);
            DecodeErrorKind::Yaml(message.into_owned())
        },
        DecodeErrorKind::Limit,
    );
    (position, cause)
}

/// Our bound, when the YAML parser stopped at one that it enforces for us.
fn yaml_limit(error: &serde_saphyr::Error, limits: &Limits) -> Option<LimitExceeded> {
    let depth = LimitExceeded::Depth {
        limit: limits.max_depth,
    };
    match error {
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            BudgetBreach::Aliases { .. } => Some(LimitExceeded::YamlAlias),
            BudgetBreach::Depth { .. } => Some(depth),
            _ => None,
        },
        serde_saphyr::Error::ExternalMessage { source, .. } => match source.as_ref() {
            ExternalMessageSource::Parser(scan)
                if matches!(scan.kind(), ErrorKind::RecursionLimitExceeded) =>
            {
                Some(depth)
            }
            _ => None,
        },
        _ => None,
    }
}
