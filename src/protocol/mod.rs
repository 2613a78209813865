//! RESP2/RESP3 wire protocol: request parsing (multibulk and inline) and
//! reply encoding. Nothing here knows about commands or the keyspace.

mod parser;
mod reply;

pub use parser::{recycle, ParseError, Parser, Request};
pub use reply::Reply;
