//! Ticket PDFs: one A4 page per ticket with the event, its time in the event's own zone, the
//! venue, the attendee and the signed QR code (see [`crate::signing`]).
//!
//! Written with `pdf-writer` alone. Text uses the standard Helvetica and Courier fonts, which
//! every PDF reader has, so nothing is embedded; they are addressed in WinAnsiEncoding
//! (Windows-1252), so text is mapped to it first: Latin-1 and the Windows-1252 extras (€, “”,
//! –, Œ, Š …) pass through, other Latin letters lose their accent (ł → l, ř → r), and anything
//! else becomes `?`. Line breaking measures text with the fonts' Adobe metrics. The QR code is
//! drawn as vector rectangles (one per run of dark modules, filled as one path so no seams
//! show) inside a quiet zone of four modules.

use std::fmt;

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use qrcode::{Color, EcLevel, QrCode};
use serde::{Deserialize, Serialize};

/// What a ticket page shows. All text is final (already formatted and localized).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketPdf {
    pub event_name: String,
    pub venue_name: String,
    pub venue_address: String,
    pub city: String,
    /// Start time formatted in the event's zone, e.g. `Sat 12 Dec 2026, 20:00 (Europe/Berlin)`.
    pub starts_at_local: String,
    pub attendee_name: String,
    pub ticket_type: String,
    pub order_code: String,
    pub ticket_code: String,
    /// The signed QR text (`BL1.…`).
    pub qr_payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdfError {
    /// The QR payload does not fit in a QR code.
    QrCode(String),
}

impl fmt::Display for PdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PdfError::QrCode(e) => write!(f, "QR payload cannot be encoded: {e}"),
        }
    }
}

impl std::error::Error for PdfError {}

/// One ticket as a one-page PDF.
pub fn render_ticket_pdf(t: &TicketPdf) -> Result<Vec<u8>, PdfError> {
    render_tickets_pdf(std::slice::from_ref(t))
}

/// Several tickets (e.g. all of an order's) as one PDF, a page each.
pub fn render_tickets_pdf(tickets: &[TicketPdf]) -> Result<Vec<u8>, PdfError> {
    let catalog_id = Ref::new(1);
    let pages_id = Ref::new(2);
    let info_id = Ref::new(3);
    let page_ids: Vec<Ref> = (0..tickets.len()).map(|i| Ref::new(10 + 2 * i as i32)).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(pages_id);
    pdf.pages(pages_id).kids(page_ids.iter().copied()).count(tickets.len() as i32);
    for font in FONTS {
        pdf.type1_font(font.id).base_font(Name(font.base)).encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = match tickets {
        [one] => format!("Ticket – {}", one.event_name),
        _ => "Tickets".to_string(),
    };
    pdf.document_info(info_id).title(TextStr(&title)).producer(TextStr("Backline"));

    for (t, page_id) in tickets.iter().zip(&page_ids) {
        let content_id = Ref::new(page_id.get() + 1);
        let content = page_content(t)?;
        let mut page = pdf.page(*page_id);
        page.parent(pages_id).media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).contents(content_id);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        for font in FONTS {
            fonts.pair(Name(font.resource), font.id);
        }
        fonts.finish();
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    Ok(pdf.finish())
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 48.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
const HEADER_H: f32 = 64.0;
/// Side of the QR code including its quiet zone, in points (about 78 mm).
const QR_BOX: f32 = 220.0;
const QUIET_ZONE: usize = 4;
const INK: Gray = Gray(0.1);
const SOFT: Gray = Gray(0.42);

#[derive(Clone, Copy)]
struct Gray(f32);

fn page_content(t: &TicketPdf) -> Result<Content, PdfError> {
    let qr =
        QrCode::with_error_correction_level(t.qr_payload.as_bytes(), EcLevel::M).map_err(|e| PdfError::QrCode(e.to_string()))?;
    let mut c = Content::new();
    let mut w = Writer { c: &mut c };

    // Header band.
    w.c.set_fill_rgb(0.11, 0.11, 0.15).rect(0.0, PAGE_H - HEADER_H, PAGE_W, HEADER_H).fill_nonzero();
    w.text(&HELVETICA_BOLD, 15.0, Gray(1.0), MARGIN, PAGE_H - 39.0, &to_winansi("BACKLINE"));
    let label = to_winansi("ADMISSION TICKET");
    let x = PAGE_W - MARGIN - HELVETICA.width(&label, 9.0);
    w.text(&HELVETICA, 9.0, Gray(0.8), x, PAGE_H - 38.0, &label);

    // Event, time and venue.
    let mut y = PAGE_H - HEADER_H - 40.0;
    y = w.paragraph(&HELVETICA_BOLD, 26.0, INK, MARGIN, y, TEXT_W, 3, &t.event_name);
    y = w.paragraph(&HELVETICA, 15.0, Gray(0.22), MARGIN, y - 6.0, TEXT_W, 2, &t.starts_at_local);
    y -= 12.0;
    y = w.paragraph(&HELVETICA_BOLD, 12.0, INK, MARGIN, y, TEXT_W, 2, &t.venue_name);
    let place = [t.venue_address.trim(), t.city.trim()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ");
    y = w.paragraph(&HELVETICA, 11.0, SOFT, MARGIN, y, TEXT_W, 2, &place);
    y -= 16.0;
    w.rule(y);

    // Attendee details on the left, the QR code on the right.
    let top = y - 28.0;
    let qr_x = PAGE_W - MARGIN - QR_BOX;
    let qr_y = top - QR_BOX;
    draw_qr(w.c, &qr, qr_x, qr_y, QR_BOX);
    w.c.set_stroke_gray(0.82).set_line_width(0.75).rect(qr_x, qr_y, QR_BOX, QR_BOX).stroke();
    let code = to_winansi(&t.ticket_code);
    let code_x = qr_x + (QR_BOX - COURIER_BOLD.width(&code, 12.0)) / 2.0;
    w.text(&COURIER_BOLD, 12.0, INK, code_x, qr_y - 18.0, &code);

    let col_w = qr_x - MARGIN - 24.0;
    let mut y = top;
    for (label, value, font, size) in [
        ("ATTENDEE", &t.attendee_name, &HELVETICA_BOLD, 16.0),
        ("TICKET", &t.ticket_type, &HELVETICA_BOLD, 13.0),
        ("ORDER", &t.order_code, &COURIER_BOLD, 13.0),
        ("TICKET CODE", &t.ticket_code, &COURIER_BOLD, 13.0),
    ] {
        y = w.paragraph(&HELVETICA, 8.5, SOFT, MARGIN, y, col_w, 1, label);
        y = w.paragraph(font, size, INK, MARGIN, y - 1.0, col_w, 2, value) - 14.0;
    }

    // Footer.
    w.rule(112.0);
    let note = "Show this ticket at the entrance, printed or on your phone. The QR code is signed by the \
                organizer and admits one person once: keep it to yourself, copies are refused after the first scan.";
    w.paragraph(&HELVETICA, 9.0, SOFT, MARGIN, 96.0, TEXT_W, 3, note);
    Ok(c)
}

/// Draws `qr` with its quiet zone into the square at (`x`, `y`) of side `size`; returns the
/// number of rectangles drawn.
fn draw_qr(c: &mut Content, qr: &QrCode, x: f32, y: f32, size: f32) -> usize {
    let runs = dark_runs(qr);
    let module = size / (qr.width() + 2 * QUIET_ZONE) as f32;
    let origin_x = x + QUIET_ZONE as f32 * module;
    let top = y + size - QUIET_ZONE as f32 * module;
    c.set_fill_gray(0.0);
    for &(row, col, len) in &runs {
        c.rect(origin_x + col as f32 * module, top - (row + 1) as f32 * module, len as f32 * module, module);
    }
    c.fill_nonzero();
    runs.len()
}

/// Horizontal runs of dark modules as (row, first column, length), top row first.
fn dark_runs(qr: &QrCode) -> Vec<(usize, usize, usize)> {
    let width = qr.width();
    let colors = qr.to_colors();
    let mut runs = Vec::new();
    for (row, line) in colors.chunks(width).enumerate() {
        let mut col = 0;
        while col < width {
            if line[col] == Color::Dark {
                let start = col;
                while col < width && line[col] == Color::Dark {
                    col += 1;
                }
                runs.push((row, start, col - start));
            } else {
                col += 1;
            }
        }
    }
    runs
}

struct Writer<'a> {
    c: &'a mut Content,
}

impl Writer<'_> {
    fn text(&mut self, font: &Font, size: f32, gray: Gray, x: f32, baseline: f32, text: &[u8]) {
        self.c.begin_text();
        self.c.set_font(Name(font.resource), size).set_fill_gray(gray.0).next_line(x, baseline).show(Str(text));
        self.c.end_text();
    }

    /// Wraps `text` into at most `max_lines` lines of `width` points below `top`; returns the
    /// new top (unchanged for empty text).
    #[expect(clippy::too_many_arguments, reason = "a layout call reads best with every parameter in place")]
    fn paragraph(
        &mut self,
        font: &Font,
        size: f32,
        gray: Gray,
        x: f32,
        top: f32,
        width: f32,
        max_lines: usize,
        text: &str,
    ) -> f32 {
        let mut y = top;
        for line in wrap(font, size, width, max_lines, &to_winansi(text)) {
            self.text(font, size, gray, x, y - size * 0.8, &line);
            y -= size * 1.22;
        }
        y
    }

    fn rule(&mut self, y: f32) {
        self.c.set_stroke_gray(0.82).set_line_width(0.75).move_to(MARGIN, y).line_to(PAGE_W - MARGIN, y).stroke();
    }
}

/// Greedy line breaking at spaces; a word wider than a line is broken anywhere. Text beyond
/// `max_lines` is cut and the last line ends in an ellipsis.
fn wrap(font: &Font, size: f32, width: f32, max_lines: usize, text: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let candidate_width = font.width(&line, size) + font.width(b" ", size) + font.width(word, size);
        if !line.is_empty() && candidate_width <= width {
            line.push(b' ');
            line.extend_from_slice(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for &b in word {
            if !line.is_empty() && font.width(&line, size) + font.width(&[b], size) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(b);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = lines.last_mut().expect("max_lines > 0");
        while !last.is_empty() && font.width(last, size) + font.width(&[ELLIPSIS], size) > width {
            last.pop();
        }
        while last.last() == Some(&b' ') {
            last.pop();
        }
        last.push(ELLIPSIS);
    }
    lines
}

/// `…` in WinAnsiEncoding.
const ELLIPSIS: u8 = 0x85;

/// A standard font: its resource name, PostScript name and WinAnsi widths (1/1000 em).
struct Font {
    resource: &'static [u8],
    base: &'static [u8],
    id: Ref,
    /// Widths of codes 32–255; `None`: monospaced at 600.
    widths: Option<&'static [u16; 224]>,
}

impl Font {
    fn width(&self, text: &[u8], size: f32) -> f32 {
        let units: u32 = match self.widths {
            Some(w) => text.iter().map(|&b| u32::from(w[usize::from(b.max(32)) - 32])).sum(),
            None => 600 * text.len() as u32,
        };
        units as f32 * size / 1000.0
    }
}

const HELVETICA: Font = Font { resource: b"F1", base: b"Helvetica", id: Ref::new(4), widths: Some(&HELVETICA_WIDTHS) };
const HELVETICA_BOLD: Font =
    Font { resource: b"F2", base: b"Helvetica-Bold", id: Ref::new(5), widths: Some(&HELVETICA_BOLD_WIDTHS) };
const COURIER_BOLD: Font = Font { resource: b"F3", base: b"Courier-Bold", id: Ref::new(6), widths: None };
const FONTS: [&Font; 3] = [&HELVETICA, &HELVETICA_BOLD, &COURIER_BOLD];

/// Helvetica advance widths for WinAnsi codes 32–255 (Adobe Core 14 AFM).
#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 333, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 578, 537, 278, 333, 333, 365, 333, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold advance widths for WinAnsi codes 32–255 (Adobe Core 14 AFM).
#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 333, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 333, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

/// Characters of Windows-1252's 0x80–0x9F block.
const WINANSI_EXTRAS: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// Base letters of Latin Extended-A (U+0100–U+017F); `?` where there is no single one.
/// The entries WinAnsi has itself (Œ œ Š š Ÿ Ž ž) are found in [`WINANSI_EXTRAS`] first.
const LATIN_EXTENDED_A: &[u8; 128] =
    b"AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi??JjKkkLlLlLlLlLlNnNnNnnNnOoOoOo??RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYy?ZzZzZzs";

/// Maps text to WinAnsiEncoding bytes (see the module docs).
pub fn to_winansi(text: &str) -> Vec<u8> {
    text.chars()
        .filter_map(|ch| match ch {
            '\u{AD}' | '\u{200B}' | '\u{FEFF}' => None,
            ' '..='~' => Some(ch as u8),
            '\u{A0}'..='\u{FF}' => Some(ch as u32 as u8),
            c if c.is_whitespace() => Some(b' '),
            '\u{2010}' | '\u{2011}' | '\u{2212}' => Some(b'-'),
            c => Some(WINANSI_EXTRAS.iter().find(|(w, _)| *w == c).map(|(_, b)| *b).unwrap_or_else(|| match c as u32 {
                cp @ 0x100..=0x17F => LATIN_EXTENDED_A[(cp - 0x100) as usize],
                _ => b'?',
            })),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TicketPdf {
        TicketPdf {
            event_name: "Björk — Cornucopia: Live at the Lanxess Arena".into(),
            venue_name: "Lanxess Arena".into(),
            venue_address: "Willy-Brandt-Platz 3".into(),
            city: "Köln".into(),
            starts_at_local: "Sat 12 Dec 2026, 20:00 (Europe/Berlin)".into(),
            attendee_name: "Zoë Ångström-Müller".into(),
            ticket_type: "Standing – Floor".into(),
            order_code: "ORD-7KQ2M".into(),
            ticket_code: "K7QF3M9XW2PA".into(),
            qr_payload: format!("BL1.{}.{}", "A".repeat(106), "B".repeat(86)),
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack.windows(needle.len()).filter(|w| *w == needle).count()
    }

    #[test]
    fn renders_a_pdf() {
        let pdf = render_ticket_pdf(&sample()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
        assert!(contains(&pdf, b"/Helvetica-Bold"));
        assert!(contains(&pdf, b"/WinAnsiEncoding"));
        assert!(contains(&pdf, b"/MediaBox [0 0 595 842]"));
        assert!(shows(&pdf, b"Bj\xF6rk \x97 Cornucopia"), "the event name");
        assert!(shows(&pdf, b"Lanxess Arena"));
        assert!(shows(&pdf, b"Sat 12 Dec 2026, 20:00 (Europe/Berlin)"));
        assert!(pdf.len() < 64 * 1024, "{} bytes", pdf.len());
    }

    /// Whether the page shows `text` (WinAnsi bytes): pdf-writer writes ASCII strings as
    /// literals and others in hex.
    fn shows(pdf: &[u8], text: &[u8]) -> bool {
        let hex: String = text.iter().map(|b| format!("{b:02X}")).collect();
        contains(pdf, text) || contains(pdf, hex.as_bytes())
    }

    #[test]
    fn latin1_text_survives_as_winansi() {
        let pdf = render_ticket_pdf(&sample()).unwrap();
        // "Björk" and "Köln" with ö as the single WinAnsi byte 0xF6, not as UTF-8.
        assert!(shows(&pdf, b"Bj\xF6rk"));
        assert!(shows(&pdf, b"Willy-Brandt-Platz 3, K\xF6ln"));
        assert!(shows(&pdf, b"Zo\xEB \xC5ngstr\xF6m-M\xFCller"));
        assert!(shows(&pdf, b"Standing \x96 Floor"));
        assert!(!shows(&pdf, "ö".as_bytes()));
    }

    #[test]
    fn winansi_mapping() {
        assert_eq!(to_winansi("Björk, Köln"), b"Bj\xF6rk, K\xF6ln");
        assert_eq!(to_winansi("€5 “quoted” – Œuvre"), b"\x805 \x93quoted\x94 \x96 \x8Cuvre");
        assert_eq!(to_winansi("Łódź Dvořák"), b"L\xF3dz Dvor\xE1k");
        assert_eq!(to_winansi("東京 🎸"), b"?? ?");
        assert_eq!(to_winansi("a\tb\nc\u{AD}d"), b"a b cd");
        assert_eq!(LATIN_EXTENDED_A.len(), 128);
        assert_eq!(LATIN_EXTENDED_A[0x141 - 0x100], b'L');
        assert_eq!(LATIN_EXTENDED_A[0x159 - 0x100], b'r');
        assert_eq!(LATIN_EXTENDED_A[0x17E - 0x100], b'z');
    }

    #[test]
    fn the_qr_matrix_is_drawn() {
        let t = sample();
        let qr = QrCode::with_error_correction_level(t.qr_payload.as_bytes(), EcLevel::M).unwrap();
        let runs = dark_runs(&qr);
        assert!(!runs.is_empty());
        // The runs cover exactly the dark modules.
        let mut rebuilt = vec![Color::Light; qr.width() * qr.width()];
        for &(row, col, len) in &runs {
            for c in col..col + len {
                rebuilt[row * qr.width() + c] = Color::Dark;
            }
        }
        assert_eq!(rebuilt, qr.to_colors());
        // Each run is one `re` in the page; the header band and QR frame add two more.
        let pdf = render_ticket_pdf(&t).unwrap();
        assert_eq!(count(&pdf, b" re\n"), runs.len() + 2);
    }

    #[test]
    fn several_tickets_make_several_pages() {
        let mut second = sample();
        second.attendee_name = "Second Person".into();
        let pdf = render_tickets_pdf(&[sample(), second]).unwrap();
        assert!(contains(&pdf, b"/Count 2"));
        assert!(contains(&pdf, b"Second Person"));
    }

    #[test]
    fn oversized_payload_is_an_error() {
        let t = TicketPdf { qr_payload: "x".repeat(4000), ..sample() };
        assert!(matches!(render_ticket_pdf(&t), Err(PdfError::QrCode(_))));
    }

    #[test]
    fn long_text_wraps_and_is_cut() {
        let text = to_winansi(&"word ".repeat(200));
        let lines = wrap(&HELVETICA_BOLD, 26.0, TEXT_W, 3, &text);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| HELVETICA_BOLD.width(l, 26.0) <= TEXT_W));
        assert_eq!(*lines[2].last().unwrap(), ELLIPSIS);
        let long_word = to_winansi(&"W".repeat(100));
        let lines = wrap(&HELVETICA, 11.0, 100.0, 20, &long_word);
        assert!(lines.len() > 1 && lines.iter().all(|l| HELVETICA.width(l, 11.0) <= 100.0));
        assert!(wrap(&HELVETICA, 11.0, 100.0, 2, b"").is_empty());
        assert_eq!(HELVETICA.width(b"Hello", 1000.0), 722.0 + 556.0 + 222.0 + 222.0 + 556.0);
    }

    /// Writes `/tmp/ticket.pdf` with a real signed payload, for looking at:
    /// `cargo test -p ticketing --lib -- --ignored write_sample`.
    #[test]
    #[ignore = "writes a file for manual inspection"]
    fn write_sample() {
        let key = crate::signing::OrgSigningKey::generate();
        let claims = crate::signing::TicketClaims {
            ticket_id: uuid::Uuid::now_v7(),
            event_id: uuid::Uuid::now_v7(),
            org_id: uuid::Uuid::now_v7(),
            code: "K7QF3M9XW2PA".into(),
            valid_from: Some(1_797_094_800),
        };
        let t = TicketPdf { qr_payload: key.sign(&claims).unwrap(), ..sample() };
        std::fs::write("/tmp/ticket.pdf", render_ticket_pdf(&t).unwrap()).unwrap();
        std::fs::write("/tmp/ticket.qr.txt", &t.qr_payload).unwrap();
        std::fs::write("/tmp/ticket.jwk.json", serde_json::to_string(&key.public_jwk()).unwrap()).unwrap();
    }
}
