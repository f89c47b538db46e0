//! The diagnostics that need no models: `shopops-agent unread` on image files, and the
//! errors a user sees.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use image::{Rgb, RgbImage};

fn agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shopops-agent"))
        .args(args)
        .output()
        .unwrap()
}

/// A 200 × 100 white screen with a red badge of radius 8 at (150, 30).
fn screen(path: &std::path::Path) {
    RgbImage::from_fn(200, 100, |x, y| {
        let (dx, dy) = (i64::from(x) - 150, i64::from(y) - 30);
        if dx * dx + dy * dy <= 64 {
            Rgb([255, 59, 48])
        } else {
            Rgb([255, 255, 255])
        }
    })
    .save(path)
    .unwrap();
}

#[test]
fn unread_reports_the_red_share_of_a_region() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("screen.png");
    screen(&image);
    let image = image.to_str().unwrap();
    let out = agent(&["unread", image, "--region", "100,0,100,60"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let share = json["red_share"].as_f64().unwrap();
    assert!((0.03..0.04).contains(&share), "{json}");
    assert_eq!(json["unread"], true);
    // A higher threshold, and a region without the badge.
    let out = agent(&[
        "unread",
        image,
        "--region",
        "100,0,100,60",
        "--threshold",
        "0.05",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["unread"], false);
    let out = agent(&["unread", image, "--region", "0,0,100,100"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["red_share"].as_f64(), &json["unread"]),
        (Some(0.0), &serde_json::json!(false))
    );
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("screen.png");
    screen(&image);
    let image = image.to_str().unwrap();
    for (args, says) in [
        (
            vec!["unread", image, "--region", "300,0,10,10"],
            "outside the 200×100 image",
        ),
        (vec!["unread", image, "--region", "1,2,3"], "x,y,w,h"),
        (
            vec!["unread", image, "--region", "0,0,10,10", "--threshold", "2"],
            "--threshold",
        ),
        (
            vec!["unread", "/nonexistent.png", "--region", "0,0,10,10"],
            "reading the image",
        ),
        (
            vec!["ocr", image, "--models", "/nonexistent"],
            "make models",
        ),
        (
            vec!["check", "--config", "/nonexistent.toml"],
            "no configuration file",
        ),
    ] {
        let out = agent(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(2)), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
