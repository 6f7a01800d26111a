//! QR codes as inline SVG: one path of unit squares, scaled by the browser, so a ticket's
//! code is crisp at any size, printable, and needs no image request.

use qrcode::{Color, EcLevel, QrCode};

/// Quiet zone around the code, in modules (the standard asks for four).
const QUIET: usize = 4;

/// The SVG element for `data`, labelled for screen readers with `label`.
pub fn svg(data: &str, label: &str) -> String {
    let Ok(code) = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M) else {
        return String::new();
    };
    let width = code.width();
    let size = width + 2 * QUIET;
    let mut path = String::with_capacity(width * width * 6);
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (x, y) = (i % width + QUIET, i / width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let label = label.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" role=\"img\" aria-label=\"{label}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_code_is_an_svg_with_dark_modules_and_an_escaped_label() {
        let svg = super::svg("BL1.abc.def", "Ticket <1>");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains("aria-label=\"Ticket &lt;1>\""), "{svg}");
        assert!(svg.matches('M').count() > 100, "a version-2 code has well over 100 dark modules");
    }
}
