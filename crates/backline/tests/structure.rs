//! Rules about the code itself that a reviewer would otherwise have to remember (issue 17):
//! tenant queries take the organization's scope, and files stay small enough to live in.
//! They read the sources, so a new store function or an overgrown file fails here, in the
//! suite, rather than in review.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file of every crate (sources and tests).
fn all_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root().join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        for sub in ["src", "tests"] {
            if krate.join(sub).is_dir() {
                rust_files(&krate.join(sub), &mut files);
            }
        }
    }
    files.sort();
    files
}

/// Tables with an `org_id` column (from the SQLite migrations, which mirror PostgreSQL's),
/// and `organizations` itself, whose `id` is the scope.
fn tenant_tables() -> Vec<String> {
    let mut tables = vec!["organizations".to_string()];
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root().join("migrations/sqlite")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let sql = std::fs::read_to_string(&file).unwrap();
        let mut rest = sql.as_str();
        while let Some(at) = rest.find("CREATE TABLE ") {
            rest = &rest[at + "CREATE TABLE ".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let body = &rest[..rest.find("\n);").unwrap_or(rest.len())];
            if body.contains("org_id") {
                tables.push(name);
            }
        }
        for line in sql.lines() {
            if let Some(t) = line.strip_prefix("ALTER TABLE ")
                && line.contains("ADD COLUMN org_id")
            {
                tables.push(t.split_whitespace().next().unwrap().to_string());
            }
        }
    }
    tables.sort();
    tables.dedup();
    tables
}

/// A store module: `store.rs`, a file under a `store/` folder, or a feature's `store.rs`.
fn is_store(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "src")
        && (path.file_stem().is_some_and(|s| s == "store") || path.components().any(|c| c.as_os_str() == "store"))
}

/// One top-level function of a file: its doc comment and attributes, its signature, its body.
struct Function {
    name: String,
    docs: String,
    signature: String,
    body: String,
}

fn functions(source: &str) -> Vec<Function> {
    let lines: Vec<&str> = source.lines().collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start_matches("pub(crate) ").trim_start_matches("pub(super) ").trim_start_matches("pub ");
            l.starts_with("async fn ") || l.starts_with("fn ")
        })
        .map(|(i, _)| i)
        .collect();
    let mut out = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        let mut first_doc = start;
        while first_doc > 0 && {
            let prev = lines[first_doc - 1].trim_start();
            prev.starts_with("///") || prev.starts_with("#[")
        } {
            first_doc -= 1;
        }
        let open = (start..end).find(|&i| lines[i].contains('{')).unwrap_or(start);
        let name = lines[start].split("fn ").nth(1).unwrap_or("").split(['(', '<']).next().unwrap_or("").to_string();
        out.push(Function {
            name,
            docs: lines[first_doc..start].join("\n"),
            signature: lines[start..=open].join("\n"),
            body: lines[open..end].join("\n"),
        });
    }
    out
}

/// Whether `sql` (any text) reads or writes `table`.
fn touches(text: &str, table: &str) -> bool {
    let upper = text.to_uppercase();
    let table = table.to_uppercase();
    ["FROM ", "JOIN ", "UPDATE ", "INTO ", "DELETE FROM "].iter().any(|kw| {
        upper.match_indices(&format!("{kw}{table}")).any(|(at, m)| {
            let next = upper[at + m.len()..].chars().next();
            !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

#[test]
fn tenant_queries_take_the_org_scope_or_say_why_not() {
    let tables = tenant_tables();
    assert!(tables.len() > 20 && tables.contains(&"bookings".to_string()), "{tables:?}");
    let mut offenders = Vec::new();
    let mut checked = 0;
    for path in all_sources().into_iter().filter(|p| is_store(p)) {
        let source = std::fs::read_to_string(&path).unwrap();
        for f in functions(&source) {
            let Some(table) = tables.iter().find(|t| touches(&f.body, t)) else { continue };
            checked += 1;
            if !f.signature.contains("OrgScope") && !f.docs.contains("Unscoped:") {
                let file = path.strip_prefix(root()).unwrap().display().to_string();
                offenders.push(format!("{file}: `{}` touches `{table}`", f.name));
            }
        }
    }
    assert!(checked > 50, "the scan found only {checked} tenant queries; is it still reading the stores?");
    assert!(
        offenders.is_empty(),
        "store functions over tenant rows must take `&OrgScope` (and filter by it) or document \
         `/// Unscoped: <why>`:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scan_recognizes_what_it_polices() {
    let source = "/// Unscoped: a public read.\npub(crate) async fn a(db: &Db) {\n    sqlx::query(\"SELECT * FROM events WHERE id = $1\")\n}\n\
                  pub(crate) async fn b(db: &Db, scope: &OrgScope) {\n    sqlx::query(\"UPDATE bookings SET x = 1\")\n}\n\
                  fn c() {\n    \"SELECT 1 FROM events_fts\"\n}\n";
    let fs = functions(source);
    assert_eq!(fs.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert!(fs[0].docs.contains("Unscoped:") && touches(&fs[0].body, "events"));
    assert!(fs[1].signature.contains("OrgScope") && touches(&fs[1].body, "bookings"));
    assert!(!touches(&fs[2].body, "events"), "a table whose name starts like another's is not it");
    assert!(is_store(Path::new("/r/crates/x/src/store.rs")) && is_store(Path::new("/r/crates/x/src/bookings/store.rs")));
    assert!(is_store(Path::new("/r/crates/x/src/store/checkin.rs")) && !is_store(Path::new("/r/crates/x/src/service.rs")));
}

/// Longest a source or test file may grow before it is split along its seams.
const MAX_LINES: usize = 850;

#[test]
fn no_file_outgrows_a_reader() {
    let long: Vec<String> = all_sources()
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", p.strip_prefix(root()).unwrap().display()))
        })
        .collect();
    assert!(long.is_empty(), "split these along their seams (at most {MAX_LINES} lines):\n{}", long.join("\n"));
}

#[test]
fn the_event_catalogue_lists_every_topic_with_its_version() {
    let doc = std::fs::read_to_string(root().join("docs/events.md")).unwrap();
    let mut topics = identity::events::topics();
    topics.extend(events::topics::topics());
    topics.extend(payments::events::topics());
    topics.extend(ticketing::events::topics());
    assert!(topics.len() >= 30, "{topics:?}");
    let missing: Vec<String> = topics
        .iter()
        .filter(|t| !doc.contains(&format!("| `{}` | {} |", t.name, t.version)))
        .map(|t| format!("{} (v{}, {})", t.name, t.version, t.payload))
        .collect();
    assert!(missing.is_empty(), "docs/events.md lacks a row `| `topic` | version |` for: {}", missing.join(", "));
}
