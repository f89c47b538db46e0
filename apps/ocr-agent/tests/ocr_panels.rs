//! OCR of chat panels drawn here (Chinese and English, 13 and 16 px), with the models
//! `make models` fetches. Run by `make test-agent` (`SHOPOPS_TEST_OCR_MODELS` names the
//! models folder; the font is Debian's fonts-wqy-zenhei).

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::sync::OnceLock;

use shopops_agent::extract::{buyer_messages, BuyerMessage};
use shopops_agent::ocr::Ocr;
use support::panel::{font, render, Bubble};

fn ocr() -> &'static Ocr {
    static OCR: OnceLock<Ocr> = OnceLock::new();
    OCR.get_or_init(|| {
        let dir = std::env::var("SHOPOPS_TEST_OCR_MODELS")
            .map(PathBuf::from)
            .expect("SHOPOPS_TEST_OCR_MODELS: run `make test-agent`");
        Ocr::load(&dir).unwrap()
    })
}

const PANELS: [&[Bubble]; 3] = [
    &[
        Bubble {
            buyer: true,
            header: "tb_buyer88 10:21:33",
            text: "你好，这件衣服有货吗？",
        },
        Bubble {
            buyer: false,
            header: "店小二 10:22:01",
            text: "有的亲，L码和XL码都有货",
        },
        Bubble {
            buyer: true,
            header: "tb_buyer88 10:23:40",
            text: "什么时候发货？能用花呗吗",
        },
        Bubble {
            buyer: false,
            header: "店小二 10:24:12",
            text: "今天下午4点前付款当天发货",
        },
        Bubble {
            buyer: true,
            header: "tb_buyer88 10:25:02",
            text: "好的，我现在就拍",
        },
    ],
    &[
        Bubble {
            buyer: true,
            header: "Alice 2026-12-02 09:00:15",
            text: "Is this jacket waterproof?",
        },
        Bubble {
            buyer: false,
            header: "Shop 09:01:02",
            text: "Yes, rated to 10000 mm.",
        },
        Bubble {
            buyer: true,
            header: "Alice 2026-12-02 09:02:44",
            text: "Can you ship to Shanghai by Friday?",
        },
        Bubble {
            buyer: false,
            header: "Shop 09:03:30",
            text: "Sure, order before 4 pm today.",
        },
    ],
    &[
        Bubble {
            buyer: true,
            header: "小王同学 14:05:11",
            text: "订单号20261202153是我的，帮我改个地址",
        },
        Bubble {
            buyer: false,
            header: "客服小美 14:06:00",
            text: "好的，请发新地址给我",
        },
        Bubble {
            buyer: true,
            header: "小王同学 14:06:37",
            text: "浙江省杭州市西湖区文三路100号",
        },
        Bubble {
            buyer: true,
            header: "小王同学 14:07:02",
            text: "支持七天无理由退货吗？",
        },
    ],
];

/// A tall region (600 × 800: the detector runs it in two strips) with lines long enough
/// to be read in two and three windows.
const TALL_PANEL: &[Bubble] = &[
    Bubble {
        buyer: true,
        header: "tb_buyer88 10:21:33",
        text: "你好，我昨天下午拍的那件羊毛大衣什么时候能发货呀，着急穿",
    },
    Bubble {
        buyer: false,
        header: "店小二 10:22:01",
        text: "亲，羊毛大衣今天下午四点前会从杭州仓库发出，顺丰包邮",
    },
    Bubble {
        buyer: true,
        header: "tb_buyer88 10:23:10",
        text: "Could you also send the receipt to alice@example.com please?",
    },
    Bubble {
        buyer: false,
        header: "店小二 10:23:40",
        text: "可以的，电子发票开好后会发到您的邮箱",
    },
    Bubble {
        buyer: true,
        header: "tb_buyer88 10:25:02",
        text: "订单号20261202153，收货地址改成浙江省杭州市西湖区文三路100号",
    },
    Bubble {
        buyer: false,
        header: "店小二 10:25:30",
        text: "好的，已经帮您修改",
    },
];

fn without_spaces(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
#[ignore = "needs the OCR models: make test-agent"]
fn chat_panels_are_read_at_98_percent_of_characters() {
    let font = font();
    let (mut expected_chars, mut errors) = (0, 0);
    let regions = PANELS.map(|bubbles| (bubbles, 480, 420));
    for (bubbles, width, height) in regions.into_iter().chain([(TALL_PANEL, 600, 800)]) {
        let panel = render(&font, bubbles, width, height, true);
        let lines = ocr().read(&panel).unwrap();
        // Spaces are not counted: PP-OCR reads the gaps between Latin words loosely.
        let expected: String = bubbles
            .iter()
            .map(|b| without_spaces(b.header) + &without_spaces(b.text))
            .collect();
        let read: String = lines.iter().map(|l| without_spaces(&l.text)).collect();
        let distance = strsim::levenshtein(&expected, &read);
        println!(
            "read {} of {} characters wrong: {read}",
            distance,
            expected.chars().count()
        );
        expected_chars += expected.chars().count();
        errors += distance;
        // Every line is where it is drawn: inside the panel, in reading order.
        for pair in lines.windows(2) {
            assert!(pair[0].y() <= pair[1].y() + 5, "{lines:?}");
        }
    }
    let accuracy = 1.0 - errors as f64 / expected_chars as f64;
    println!("character accuracy {accuracy:.4} over {expected_chars} characters");
    assert!(accuracy >= 0.98, "character accuracy {accuracy:.4}");
}

#[test]
#[ignore = "needs the OCR models: make test-agent"]
fn the_buyers_messages_are_picked_out_of_a_read_panel() {
    let font = font();
    let panel = render(&font, PANELS[0], 480, 420, true);
    let lines = ocr().read(&panel).unwrap();
    let found = buyer_messages(&lines, panel.width());
    let buyer = |text: &str| BuyerMessage {
        customer_id: "tb_buyer88".into(),
        text: text.into(),
    };
    assert_eq!(
        found.messages,
        vec![
            buyer("你好，这件衣服有货吗？"),
            buyer("什么时候发货？能用花呗吗"),
            buyer("好的，我现在就拍")
        ]
    );
    assert_eq!(found.unattributed, 0);
}

#[test]
#[ignore = "needs the OCR models: make test-agent"]
fn the_ocr_command_prints_lines_with_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("panel.png");
    render(&font(), PANELS[1], 480, 420, false)
        .save(&image)
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shopops-agent"))
        .arg("ocr")
        .arg(&image)
        .arg("--models")
        .arg(std::env::var("SHOPOPS_TEST_OCR_MODELS").unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = json["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 8, "{json}");
    let first = &lines[1];
    assert_eq!(first["text"], "Is this jacket waterproof?");
    let bounds: Vec<u64> = first["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // Drawn at (18, 30), 16 px high.
    assert!(
        bounds[0].abs_diff(18) <= 4 && bounds[1].abs_diff(32) <= 4,
        "{bounds:?}"
    );
    assert!((12..=24).contains(&bounds[3]), "{bounds:?}");
    assert!(first["confidence"].as_f64().unwrap() > 0.8);
}

#[test]
#[ignore = "needs the OCR models: make test-agent"]
fn loading_fails_at_start_on_a_missing_or_wrong_network() {
    let models = PathBuf::from(std::env::var("SHOPOPS_TEST_OCR_MODELS").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let error = Ocr::load(dir.path()).err().unwrap().to_string();
    assert!(error.contains("make models"), "{error}");

    // The recognition network where the detection one belongs: refused at load, not at
    // the first frame.
    let recognition = models.join(shopops_agent::ocr::RECOGNITION_MODEL);
    std::fs::copy(
        &recognition,
        dir.path().join(shopops_agent::ocr::RECOGNITION_MODEL),
    )
    .unwrap();
    std::fs::copy(
        &recognition,
        dir.path().join(shopops_agent::ocr::DETECTION_MODEL),
    )
    .unwrap();
    let error = format!("{:#}", Ocr::load(dir.path()).err().unwrap());
    assert!(
        error.contains(shopops_agent::ocr::DETECTION_MODEL),
        "{error}"
    );
}
