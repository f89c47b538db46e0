//! Chat panels drawn for the tests: the layout of a desktop chat client (a grey header
//! line with the sender and the time above each bubble; the buyer's on the left, the
//! seller's on the right), in a CJK font from the system (Debian's fonts-wqy-zenhei, or
//! `SHOPOPS_TEST_CJK_FONT`), with an optional red unread badge.

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};

pub const HEADER_PX: f32 = 13.0;
pub const BUBBLE_PX: f32 = 16.0;
pub const BADGE_RED: [u8; 3] = [255, 59, 48];

pub struct Bubble<'a> {
    pub buyer: bool,
    pub header: &'a str,
    pub text: &'a str,
}

pub fn font() -> FontVec {
    let path = std::env::var("SHOPOPS_TEST_CJK_FONT")
        .unwrap_or_else(|_| "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc".into());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("the CJK font {path}: {e} (apt-get install fonts-wqy-zenhei, or set SHOPOPS_TEST_CJK_FONT)")
    });
    FontVec::try_from_vec_and_index(bytes, 0).expect("a TrueType font")
}

/// The width of `text` at `px`.
pub fn text_width(font: &FontVec, px: f32, text: &str) -> f32 {
    let scaled = font.as_scaled(PxScale::from(px));
    text.chars()
        .map(|c| scaled.h_advance(font.glyph_id(c)))
        .sum()
}

/// Draws `text` with its top-left at (`x`, `y`), blending `colour` over the image.
pub fn draw_text(
    image: &mut RgbImage,
    font: &FontVec,
    px: f32,
    x: f32,
    y: f32,
    text: &str,
    colour: [u8; 3],
) {
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let (mut pen, baseline) = (x, y + scaled.ascent());
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, point(pen, baseline));
        pen += scaled.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px, py) = (
                bounds.min.x as i64 + i64::from(gx),
                bounds.min.y as i64 + i64::from(gy),
            );
            if px < 0 || py < 0 || px >= i64::from(image.width()) || py >= i64::from(image.height())
            {
                return;
            }
            let pixel = image.get_pixel_mut(px as u32, py as u32);
            for (channel, ink) in pixel.0.iter_mut().zip(colour) {
                let blended = f32::from(*channel) * (1.0 - coverage) + f32::from(ink) * coverage;
                *channel = blended.round() as u8;
            }
        });
    }
}

fn fill(image: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, colour: [u8; 3]) {
    for y in y0..y1.min(image.height()) {
        for x in x0..x1.min(image.width()) {
            image.put_pixel(x, y, Rgb(colour));
        }
    }
}

/// A panel of `width × height` with the bubbles from the top and, with `badge`, a
/// red unread badge of radius 8 near the top-right corner.
pub fn render(
    font: &FontVec,
    bubbles: &[Bubble],
    width: u32,
    height: u32,
    badge: bool,
) -> RgbImage {
    let mut image = RgbImage::from_pixel(width, height, Rgb([245, 245, 245]));
    let mut y = 10.0;
    for bubble in bubbles {
        let header_w = text_width(font, HEADER_PX, bubble.header);
        let text_w = text_width(font, BUBBLE_PX, bubble.text);
        let (header_x, box_x0) = if bubble.buyer {
            (16.0, 10.0)
        } else {
            (
                width as f32 - 16.0 - header_w,
                width as f32 - 10.0 - text_w - 16.0,
            )
        };
        draw_text(
            &mut image,
            font,
            HEADER_PX,
            header_x,
            y,
            bubble.header,
            [150, 150, 150],
        );
        y += 20.0;
        let background = if bubble.buyer {
            [255, 255, 255]
        } else {
            [200, 230, 255]
        };
        let box_x1 = box_x0 + text_w + 16.0;
        fill(
            &mut image,
            box_x0 as u32,
            (y - 4.0) as u32,
            box_x1 as u32,
            (y + 22.0) as u32,
            background,
        );
        draw_text(
            &mut image,
            font,
            BUBBLE_PX,
            box_x0 + 8.0,
            y,
            bubble.text,
            [20, 20, 20],
        );
        y += 40.0;
    }
    if badge {
        let (cx, cy) = (i64::from(width) - 24, 24i64);
        for py in cy - 8..=cy + 8 {
            for px in cx - 8..=cx + 8 {
                if (px - cx).pow(2) + (py - cy).pow(2) <= 64 {
                    image.put_pixel(px as u32, py as u32, Rgb(BADGE_RED));
                }
            }
        }
    }
    image
}
