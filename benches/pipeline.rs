//! Micro-benchmarks of the pipeline's hot stages, through the library API (issue 7):
//!
//! - `hash/hash_file_64MiB`: `collect::hash_file` on a 64 MiB file (page-cached after the first
//!   iteration), reported as throughput: compare with `openssl speed -evp sha256`;
//! - `index/build_50k_files_1k_controls`: `index::build` on a synthetic inventory;
//! - `assess/assess_50k_files_1k_controls` and `report/build`: the stages after it;
//! - `render/*`: templates -> Markdown, Markdown -> Document, Document -> HTML and PDF, on the
//!   report of that same project (a large report: every control and every file is listed).
//!
//! `cargo bench` runs them all; `cargo bench -- index` runs one group. Whole-tree comparisons
//! against other tools are `bench/run.sh` (docs/performance.md).

use auditpack::collect::dates::{DateSource, Effective};
use auditpack::collect::{EvidenceFile, Inventory};
use auditpack::diag::Diagnostics;
use auditpack::render::doc::DocMeta;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;

const CONTROLS: usize = 1_000;
const FILES: usize = 50_000;
const PROVIDERS: &[(&str, &str)] = &[("aws", "iaas"), ("okta", "saas"), ("github", "saas")];
const FREQUENCIES: &[&str] = &["annual", "quarterly", "monthly", "weekly", "per-event"];
const CRITERIA: &[&str] = &["CC1.1", "CC2.1", "CC3.2", "CC5.2", "CC6.1", "CC6.3", "CC7.2", "CC8.1"];

fn hashing(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("64MiB.bin");
    let len = 64 << 20;
    {
        // xorshift bytes: incompressible and cheap to make; the content does not matter to SHA-256.
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..(len >> 20) {
            for chunk in block.chunks_exact_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block).expect("write");
        }
        f.flush().expect("flush");
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Bytes(len as u64));
    g.sample_size(20);
    g.bench_function("hash_file_64MiB", |b| {
        b.iter(|| auditpack::collect::hash_file(black_box(&path), &mut buf).expect("hash"))
    });
    g.finish();
}

/// A project of CONTROLS controls (folder-mapped, every tenth one also by glob patterns) on disk,
/// with an empty evidence folder: the inventory is made in memory.
fn write_project(root: &Path) {
    let mut toml = String::from(
        "[organisation]\nname = \"Bench, Inc.\"\n\n[system]\nname = \"Bench Platform\"\n\n\
         [audit]\ntype = \"type2\"\nperiod_start = 2024-01-01\nperiod_end = 2024-12-31\n\
         categories = [\"security\"]\n\n",
    );
    for (id, model) in PROVIDERS {
        toml.push_str(&format!("[[provider]]\nid = \"{id}\"\nname = \"{id}\"\nservice_model = \"{model}\"\n\n"));
    }
    std::fs::write(root.join("auditpack.toml"), toml).expect("write auditpack.toml");
    let mut controls = String::new();
    for i in 0..CONTROLS {
        let providers = match i % 3 {
            0 => String::new(),
            1 => "providers = [\"aws\"]\n".to_string(),
            _ => "providers = [\"okta\", \"github\"]\n".to_string(),
        };
        let evidence = if i % 10 == 0 {
            format!("evidence = [\"CTL-{:04}/**/*.csv\", \"exports/**/*-{i}.json\"]\n", i + 1)
        } else {
            String::new()
        };
        controls.push_str(&format!(
            "[[control]]\nid = \"CTL-{:04}\"\ntitle = \"Benchmark control {i}\"\n\
             description = \"Control {i} is performed and its evidence kept.\"\n\
             criteria = [\"{}\"]\nlayer = \"application\"\nfrequency = \"{}\"\n{providers}{evidence}\n",
            i + 1,
            CRITERIA[i % CRITERIA.len()],
            FREQUENCIES[i % FREQUENCIES.len()],
        ));
    }
    std::fs::write(root.join("controls.toml"), controls).expect("write controls.toml");
    std::fs::create_dir_all(root.join("evidence")).expect("create evidence/");
}

fn inventory() -> Inventory {
    let start = jiff::civil::date(2024, 1, 1);
    let files = (0..FILES)
        .map(|i| {
            let control = i % CONTROLS + 1;
            let provider = PROVIDERS[i % PROVIDERS.len()].0;
            let date = start.checked_add(jiff::Span::new().days((i % 366) as i64)).unwrap_or(start);
            let rel = format!("CTL-{control:04}/{provider}/export-{i:05}-{date}.csv");
            let sha256 = format!("{:064x}", i);
            EvidenceFile::new(
                "evidence",
                &rel,
                1024 + (i as u64 % 4096),
                sha256,
                Effective::day(date, DateSource::FileName),
            )
        })
        .collect::<Vec<_>>();
    let mut files = files;
    files.sort_by(|a, b| a.rel().cmp(b.rel()));
    Inventory { files }
}

fn pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path());
    let loaded = auditpack::project::load(dir.path());
    let project = loaded.project.expect("the benchmark project loads");
    assert!(!loaded.diags.has_errors(), "the benchmark project has errors");
    let inv = inventory();

    let mut g = c.benchmark_group("index");
    g.sample_size(10);
    g.bench_function("build_50k_files_1k_controls", |b| {
        b.iter_batched(
            || inv.clone(),
            |inv| auditpack::index::build(&project, inv, &mut Diagnostics::default()),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let index = auditpack::index::build(&project, inv, &mut Diagnostics::default());
    let scans = auditpack::scan::ScanResults::default();
    let mut g = c.benchmark_group("assess");
    g.sample_size(10);
    g.bench_function("assess_50k_files_1k_controls", |b| {
        b.iter(|| auditpack::assess::assess(&project, &index, &[], &scans, &mut Diagnostics::default()))
    });
    let assessment = auditpack::assess::assess(&project, &index, &[], &scans, &mut Diagnostics::default());
    g.bench_function("report_build", |b| b.iter(|| auditpack::report::build(&project, &index, &scans, &assessment)));
    g.finish();

    let report = auditpack::report::build(&project, &index, &scans, &assessment);
    let templates = auditpack::render::Templates::load(None).expect("built-in templates");
    let markdown = templates.render("report.md", &report).expect("render");
    let meta = DocMeta {
        title: "SOC 2 Type 2 Package".into(),
        subtitle: vec!["Bench, Inc.".into()],
        organisation: "Bench, Inc.".into(),
        confidentiality: "Confidential".into(),
        date: "2024-12-31".into(),
        date_text: String::new(),
        accent: "#1f4e79".into(),
        logo: None,
    };
    let charts = BTreeMap::new();
    let document = auditpack::render::markdown::parse(&markdown, meta.clone(), &charts);

    let mut g = c.benchmark_group("render");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(markdown.len() as u64));
    g.bench_function("templates_to_markdown", |b| b.iter(|| templates.render("report.md", &report).expect("render")));
    g.bench_function("markdown_parse", |b| {
        b.iter(|| auditpack::render::markdown::parse(black_box(&markdown), meta.clone(), &charts))
    });
    g.bench_function("html", |b| b.iter(|| auditpack::render::html::render(black_box(&document))));
    // Whatever src/render/pdf/ is at the time: the real writer or a stand-in, same API.
    g.bench_function("pdf", |b| b.iter(|| auditpack::render::pdf::render(black_box(&document)).expect("pdf")));
    g.finish();
}

criterion_group!(benches, hashing, pipeline);
criterion_main!(benches);
