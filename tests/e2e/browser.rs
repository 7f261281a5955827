//! The web app in a real browser: the Playwright suite of `web/tests` (headless Chromium, Debian's
//! `chromium`) against this binary with its demo on a temp data dir, signed in through the
//! development sign-in. `.ci/browser` installs what it needs; without it the test says
//! `skipping: …` and passes, and under `CI` it fails instead. `CAREFLOW_SCREENSHOTS=<dir>` also
//! writes each screen's screenshot there (the README's come from this).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{self, Careflow};

#[test]
fn the_screens_work_in_a_real_browser() {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/tests");
    let playwright = suite.join("node_modules/.bin/playwright");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = [
        (playwright.as_path(), "run .ci/browser (npm ci in web/tests)"),
        (Path::new(&chromium), "install chromium"),
    ]
    .into_iter()
    .find(|(path, _)| !path.exists());
    if let Some((path, remedy)) = missing {
        assert!(std::env::var_os("CI").is_none(), "{} is missing: {remedy}", path.display());
        eprintln!("skipping: {} is missing ({remedy})", path.display());
        return;
    }
    let results = tempfile::tempdir().expect("temp dir");
    let run = |app: &Careflow, specs: &[&str], env: &[(&str, &str)]| {
        Command::new(&playwright)
            .arg("test")
            .args(specs)
            .current_dir(&suite)
            .env("CAREFLOW_URL", format!("http://{}", app.http()))
            .env("CAREFLOW_BROWSER_OUT", results.path())
            .env("CHROMIUM", &chromium)
            .envs(env.iter().copied())
            .status()
            .expect("run playwright")
    };

    // As a laptop runs it: the development secret, the demo people.
    let data = tempfile::tempdir().expect("temp dir");
    let app = Careflow::spawn_dev(&["--data-dir", data.path().to_str().expect("utf-8"), "--demo"]);
    let status = run(
        &app,
        &["app.spec.js", "assessment.spec.js", "virtualward.spec.js", "brokerage.spec.js", "vendor.spec.js"],
        &[],
    );
    app.kill();
    assert!(status.success(), "the browser tests failed (their report is above)");

    // With a secret of its own: sign-in by the organisation's token.
    let data = tempfile::tempdir().expect("temp dir");
    let app = Careflow::start(data.path(), &["--demo"]);
    let token = helpers::token_for("nurse.okafor", "ward_nurse", "RXA", &["RXA01-AMU-TEAM"]);
    let forged = Careflow::run(&[
        "token",
        "--user",
        "nurse.okafor",
        "--role",
        "ward_nurse",
        "--org",
        "RXA",
        "--jwt-secret",
        "not-the-secret",
    ]);
    let status = run(
        &app,
        &["token.spec.js"],
        &[("CAREFLOW_TOKEN", &token), ("CAREFLOW_FORGED_TOKEN", forged.trim())],
    );
    app.kill();
    assert!(status.success(), "the token sign-in test failed (its report is above)");
}
