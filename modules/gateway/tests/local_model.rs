//! The local captcha model against the Python ddddocr 1.6.1 package it ports: the same
//! text on at least 48 of the 50 captchas tests/models/reference_captchas.py draws.
//! Needs the model (`make models`) and that script's output: run by `make test-models`,
//! which sets SHOPOPS_TEST_CAPTCHA_MODEL_DIR and SHOPOPS_TEST_CAPTCHA_REFERENCE.

use std::path::PathBuf;
use std::time::Instant;

use shopops_gateway::solvers::local_model::{LocalModel, LocalSolver};
use shopops_kernel::captcha::{CaptchaError, CaptchaImage, CaptchaSolver};

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run make test-models")),
    )
}

fn captcha(image: &[u8]) -> CaptchaImage<'_> {
    CaptchaImage {
        tenant_id: 1,
        image,
        code_type: 1004,
        charset: None,
        label: "test",
    }
}

#[tokio::test]
#[ignore = "needs the ddddocr model and reference answers: make test-models"]
async fn reads_captchas_as_ddddocr_does() {
    let model = LocalModel::load(&env_path("SHOPOPS_TEST_CAPTCHA_MODEL_DIR")).unwrap();
    let reference: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(env_path("SHOPOPS_TEST_CAPTCHA_REFERENCE")).unwrap())
            .unwrap();
    assert_eq!(reference.len(), 50);

    let (mut same, mut right, mut right_any_case) = (0, 0, 0);
    let (mut elapsed, mut images) = (std::time::Duration::ZERO, Vec::new());
    for row in &reference {
        let (file, truth, ddddocr) = (
            row["file"].as_str().unwrap(),
            row["truth"].as_str().unwrap(),
            row["ddddocr"].as_str().unwrap(),
        );
        let image = std::fs::read(file).unwrap();
        let started = Instant::now();
        let (text, confidence) = model.read(&image, None).unwrap();
        elapsed += started.elapsed();
        assert!(
            (0.0..=1.0).contains(&confidence),
            "{file}: confidence {confidence}"
        );
        same += usize::from(text == ddddocr);
        right += usize::from(text == truth);
        right_any_case += usize::from(text.eq_ignore_ascii_case(truth));
        if text != ddddocr {
            println!("{file}: ours {text:?}, ddddocr {ddddocr:?}, truth {truth:?}");
        }
        images.push((image, truth.to_owned()));
    }
    let n = reference.len();
    println!(
        "local model: same as ddddocr {same}/{n}; right {right}/{n} ({right_any_case}/{n} ignoring case); {:.1} ms/image",
        elapsed.as_secs_f64() * 1000.0 / n as f64
    );
    assert!(
        same >= 48,
        "same text as ddddocr on only {same} of {n} captchas"
    );

    // Restricted to the truth's own characters the answer can only use those.
    let (image, truth) = &images[0];
    let (text, _) = model.read(image, Some(truth)).unwrap();
    assert!(
        text.chars().all(|c| truth.contains(c)),
        "{text:?} outside {truth:?}"
    );

    // The port adapter: an answer, or Unreadable for what is no image.
    let solver = LocalSolver::new(model);
    let solution = solver.solve(captcha(&images[0].0)).await.unwrap();
    assert_eq!(
        (solution.solver, solution.report_id.as_deref()),
        ("local", None)
    );
    assert!(!solution.text.is_empty());
    assert!(matches!(
        solver.solve(captcha(b"not an image")).await,
        Err(CaptchaError::Unreadable(_))
    ));
    assert_eq!(solver.wrong_reports(), 0);
    solver.report_wrong(1, &solution).await;
    assert_eq!(solver.wrong_reports(), 1);
}
