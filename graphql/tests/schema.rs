//! A snapshot of the GraphQL schema: a change to the SDL must be deliberate. Regenerate with
//! `UPDATE_SCHEMA=1 cargo test -p careflow-gateway --test schema` and review the diff.

use std::path::Path;

#[test]
fn the_schema_matches_its_snapshot() {
    let sdl = careflow_gateway::Gateway::sdl();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).expect("write the snapshot");
    }
    let snapshot = std::fs::read_to_string(&path).expect("graphql/schema.graphql exists");
    assert!(
        snapshot == sdl,
        "the GraphQL schema changed; if that is intended, run UPDATE_SCHEMA=1 cargo test -p careflow-gateway --test schema"
    );
}
