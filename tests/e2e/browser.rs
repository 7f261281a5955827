//! The web app in a real browser: the Playwright suite of `web/tests` (headless Chromium, Debian's
//! `chromium`) against this binary with its demo on a temp data dir, signed in through the
//! development sign-in. `.ci/browser` installs what it needs; without it the test says
//! `skipping: …` and passes, and under `CI` it fails instead. `CAREFLOW_SCREENSHOTS=<dir>` also
//! writes each screen's screenshot there (the README's come from this).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::Careflow;

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
    let data = tempfile::tempdir().expect("temp dir");
    let results = tempfile::tempdir().expect("temp dir");
    let app = Careflow::spawn_dev(&["--data-dir", data.path().to_str().expect("utf-8"), "--demo"]);
    let status = Command::new(&playwright)
        .arg("test")
        .current_dir(&suite)
        .env("CAREFLOW_URL", format!("http://{}", app.http()))
        .env("CAREFLOW_BROWSER_OUT", results.path())
        .env("CHROMIUM", &chromium)
        .status()
        .expect("run playwright");
    app.kill();
    assert!(status.success(), "the browser tests failed (their report is above)");
}
