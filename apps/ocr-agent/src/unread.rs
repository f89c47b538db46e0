//! The unread check: the share of badge-red pixels in the shop's region of the screen
//! (docs/desktop-agent.md, "Unread"). Chat clients mark a conversation with unread
//! messages by a small red badge; when at least `unread_threshold` (the shop's setting,
//! 0.02 by default) of the region's pixels are badge-red, the agent reads the region.

use std::fmt;
use std::str::FromStr;

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// A rectangle of the screen (or of an image) in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    /// The shop's `ocr_region` as the server keeps it: `[x, y, w, h]`, each ≥ 0, the
    /// width and height > 0.
    pub fn from_setting(values: &[i64]) -> Result<Self, String> {
        let [x, y, w, h] = values else {
            return Err(format!("ocr_region must be [x, y, w, h], not {values:?}"));
        };
        let fits = |v: i64| u32::try_from(v).map_err(|_| format!("{v} is not a pixel position"));
        let region = Self {
            x: fits(*x)?,
            y: fits(*y)?,
            width: fits(*w)?,
            height: fits(*h)?,
        };
        if region.width == 0 || region.height == 0 {
            return Err(format!("ocr_region {values:?} is empty"));
        }
        Ok(region)
    }

    /// The part of the region inside an image of `width × height`, if any.
    pub fn clip(self, width: u32, height: u32) -> Option<Self> {
        let right = self.x.saturating_add(self.width).min(width);
        let bottom = self.y.saturating_add(self.height).min(height);
        (self.x < right && self.y < bottom).then(|| Self {
            x: self.x,
            y: self.y,
            width: right - self.x,
            height: bottom - self.y,
        })
    }
}

/// `x,y,w,h`, as the command line takes it.
impl FromStr for Region {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let values = s
            .split(',')
            .map(|v| v.trim().parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .filter(|v| v.len() == 4)
            .ok_or_else(|| format!("`{s}` is not x,y,w,h in whole pixels"))?;
        Self::from_setting(&values)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{},{}", self.x, self.y, self.width, self.height)
    }
}

/// What counts as badge red: a pixel whose red channel is at least `min_red` while
/// green and blue are at most `max_green` and `max_blue`. The defaults take the red and
/// orange-red badges of the common chat clients (#FF3B30, #F5222D, #FF4400) and leave
/// out skin tones, pink and brown text (agent config `[badge]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BadgeRed {
    pub min_red: u8,
    pub max_green: u8,
    pub max_blue: u8,
}

impl Default for BadgeRed {
    fn default() -> Self {
        Self {
            min_red: 200,
            max_green: 90,
            max_blue: 90,
        }
    }
}

impl BadgeRed {
    fn matches(&self, [r, g, b]: [u8; 3]) -> bool {
        r >= self.min_red && g <= self.max_green && b <= self.max_blue
    }
}

/// The share (0..1) of badge-red pixels in `region` of `screen`; `None` when the region
/// lies outside the image.
pub fn red_share(screen: &RgbImage, region: Region, rule: &BadgeRed) -> Option<f64> {
    let region = region.clip(screen.width(), screen.height())?;
    let mut red = 0u64;
    for y in region.y..region.y + region.height {
        for x in region.x..region.x + region.width {
            red += u64::from(rule.matches(screen.get_pixel(x, y).0));
        }
    }
    Some(red as f64 / (u64::from(region.width) * u64::from(region.height)) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A white 200 × 100 window with a red badge of `radius` at (150, 30).
    fn window(radius: i64, colour: [u8; 3]) -> RgbImage {
        RgbImage::from_fn(200, 100, |x, y| {
            let (dx, dy) = (i64::from(x) - 150, i64::from(y) - 30);
            if dx * dx + dy * dy <= radius * radius {
                Rgb(colour)
            } else {
                Rgb([255, 255, 255])
            }
        })
    }

    #[test]
    fn a_badge_makes_the_region_unread_and_its_absence_does_not() {
        let rule = BadgeRed::default();
        let region = Region::from_setting(&[100, 0, 100, 60]).expect("region");
        let badge = red_share(&window(8, [255, 59, 48]), region, &rule).expect("inside");
        // π·8² ≈ 201 of 6000 pixels.
        assert!((0.03..0.04).contains(&badge), "{badge}");
        assert!(badge >= 0.02);
        let none = red_share(&window(0, [255, 255, 255]), region, &rule).expect("inside");
        assert_eq!(none, 0.0);
        // Pink and brown are not badge red.
        for colour in [[255, 160, 170], [150, 75, 0]] {
            let share = red_share(&window(8, colour), region, &rule).expect("inside");
            assert_eq!(share, 0.0, "{colour:?}");
        }
        // The badge outside the region does not count.
        let left = Region::from_setting(&[0, 0, 100, 100]).expect("region");
        assert_eq!(red_share(&window(8, [255, 0, 0]), left, &rule), Some(0.0));
    }

    #[test]
    fn the_rule_is_configurable() {
        let strict = BadgeRed {
            min_red: 250,
            max_green: 10,
            max_blue: 10,
        };
        let region = Region::from_setting(&[100, 0, 100, 60]).expect("region");
        assert_eq!(
            red_share(&window(8, [255, 59, 48]), region, &strict),
            Some(0.0)
        );
        assert!(red_share(&window(8, [255, 0, 0]), region, &strict).expect("inside") > 0.02);
    }

    #[test]
    fn regions_are_parsed_and_clipped() {
        assert_eq!(
            "10, 20,30,40".parse::<Region>(),
            Ok(Region {
                x: 10,
                y: 20,
                width: 30,
                height: 40
            })
        );
        for bad in ["1,2,3", "1,2,3,0", "-1,2,3,4", "a,b,c,d", "1,2,3,4,5"] {
            assert!(bad.parse::<Region>().is_err(), "{bad}");
        }
        let region: Region = "150,80,100,100".parse().expect("region");
        assert_eq!(
            region.clip(200, 100).map(|r| (r.width, r.height)),
            Some((50, 20))
        );
        assert_eq!(
            "300,0,10,10".parse::<Region>().expect("r").clip(200, 100),
            None
        );
        let screen = RgbImage::new(200, 100);
        assert_eq!(
            red_share(
                &screen,
                "300,0,10,10".parse().expect("r"),
                &BadgeRed::default()
            ),
            None
        );
    }
}
