//! The bed board kept in Redis, for deployments where the projection and the gateways run in
//! different processes: [`RedisBedBoard`] (the writer, a [`Projection`](crate::Projection),
//! exactly one per key prefix) and [`RedisBedBoardReader`] (any number of gateways). Both are
//! the generic document store of [`crate::documents::redis`] holding
//! [`BedBoardFold`](super::BedBoardFold)'s documents under the model name `bed_board`: keys
//! `P bed_board:current`, `P bed_board@{g}:docs` and so on, generations built aside and swapped
//! in, a lost model noticed by every batch and rebuilt.
//!
//! Keys of the layouts before (`P current`, `P@{g}:bed:{id}`, `P checkpoint`, …) are neither
//! read nor deleted: after upgrading, the writer builds the model from the log, and the old keys
//! can be deleted by hand (or all of a prefix with [`RedisBedBoard::purge`]).

pub use super::board::{RedisBedBoard, RedisBedBoardReader};
pub use crate::documents::redis::{DEFAULT_PREFIX, RedisConfig};
