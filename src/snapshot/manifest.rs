//! Manifests and folder trees. A manifest (schema 2) names one tree object per folder, as git
//! does: a folder whose files did not change has the same tree, stored once, so a snapshot of
//! unchanged evidence adds its manifest and nothing else. Schema 1 manifests (a line per file)
//! still load, so stores written before trees keep working unchanged.

use super::store::{Retain, Store};
use crate::error::Error;
use crate::project::Retention;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub const SCHEMA_V1: &str = "auditpack-snapshot/1";
pub const SCHEMA: &str = "auditpack-snapshot/2";
const TREE_SCHEMA: &str = "auditpack-tree/1";

/// One snapshot's manifest, stored as `snapshots/<id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub id: u64,
    /// SHA-256 of the previous manifest's bytes; `None` for the first.
    pub previous: Option<String>,
    /// When the snapshot was taken (RFC 3339, UTC). Metadata only.
    pub created: String,
    pub auditpack: String,
    /// The evidence folder, relative to the project.
    pub evidence_root: String,
    /// Schema 1: every file a build reads, relative to the project.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, FileRecord>,
    /// Schema 2: the tree object of the project's root folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// Number of files and their total size (schema 2; schema 1 counts `files`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    /// SHA-256 of the evidence index (index.json) as of the snapshot, stored as a blob.
    pub index: String,
    /// Each control's test result as of the snapshot.
    pub controls: BTreeMap<String, String>,
    /// The Object Lock retention every object this snapshot refers to was written or extended with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Totals {
    pub files: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub sha256: String,
    pub size: u64,
    /// Modification time in seconds since the epoch: a build infers some effective dates from it.
    pub mtime: Option<i64>,
}

/// One folder: its files and the tree objects of its sub-folders.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tree {
    schema: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    dirs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    files: BTreeMap<String, FileRecord>,
}

/// Parses a manifest's bytes.
pub fn parse(bytes: &[u8], what: &str) -> Result<Manifest, Error> {
    let m: Manifest =
        serde_json::from_slice(bytes).map_err(|e| Error::Usage(format!("{what}: not a snapshot manifest ({e})")))?;
    if m.schema != SCHEMA && m.schema != SCHEMA_V1 {
        return Err(Error::Usage(format!(
            "{what}: schema `{}` is not one this auditpack reads ({SCHEMA_V1}, {SCHEMA}); use a newer auditpack",
            m.schema
        )));
    }
    if m.schema == SCHEMA && m.tree.is_none() {
        return Err(Error::Usage(format!("{what}: a {SCHEMA} manifest without a tree")));
    }
    Ok(m)
}

/// Writes the tree objects for `files` (paths relative to the project, `/`-separated); returns
/// the root tree's SHA-256. Trees the store holds already cost nothing.
pub fn write_tree(
    store: &Store,
    files: &BTreeMap<String, FileRecord>,
    retain: Option<&Retain>,
) -> Result<String, Error> {
    let entries: Vec<(&str, &FileRecord)> = files.iter().map(|(p, r)| (p.as_str(), r)).collect();
    write_dir(store, &entries, retain)
}

fn write_dir(store: &Store, entries: &[(&str, &FileRecord)], retain: Option<&Retain>) -> Result<String, Error> {
    let mut tree = Tree { schema: TREE_SCHEMA.into(), ..Tree::default() };
    let mut i = 0;
    while i < entries.len() {
        let (path, record) = entries[i];
        match path.split_once('/') {
            None => {
                tree.files.insert(path.to_string(), record.clone());
                i += 1;
            }
            Some((dir, _)) => {
                // Sorted paths keep a folder's entries together (`a/` sorts before `a0`, and
                // nothing between `a/...` entries starts otherwise).
                let start = i;
                let prefix = format!("{dir}/");
                while i < entries.len() && entries[i].0.starts_with(&prefix) {
                    i += 1;
                }
                let sub: Vec<(&str, &FileRecord)> =
                    entries[start..i].iter().map(|(p, r)| (&p[prefix.len()..], *r)).collect();
                let sha = write_dir(store, &sub, retain)?;
                tree.dirs.insert(dir.to_string(), sha);
            }
        }
    }
    let bytes = serde_json::to_vec(&tree).map_err(|e| Error::Usage(format!("cannot serialise a tree: {e}")))?;
    store.put_bytes(&bytes, retain)
}

/// Reads manifests' files through their trees, each tree object once.
#[derive(Default)]
pub struct Trees {
    cache: HashMap<String, Tree>,
}

/// A tree object that cannot be used: missing, damaged, or naming a path outside the project.
#[derive(Debug)]
pub struct BadTree {
    pub sha256: String,
    pub folder: String,
    pub why: String,
}

impl Trees {
    /// Every file of a manifest, relative to the project. Errors name the tree object.
    pub fn files(&mut self, store: &Store, m: &Manifest) -> Result<BTreeMap<String, FileRecord>, Error> {
        let mut bad = Vec::new();
        let mut trees = Vec::new();
        let files = self.files_lenient(store, m, &mut trees, &mut bad);
        match bad.into_iter().next() {
            Some(b) => Err(Error::Package {
                path: store.locate(super::store::Key::Object(&b.sha256)),
                message: format!(
                    "snapshot {}: the folder tree of `{}` {}: the store is damaged (`auditpack snapshot verify`)",
                    m.id,
                    if b.folder.is_empty() { "." } else { &b.folder },
                    b.why
                ),
            }),
            None => Ok(files),
        }
    }

    /// Every file it can read; the tree objects it read go to `trees`, the ones it could not to
    /// `bad` (for `snapshot verify`, which reports them all).
    pub fn files_lenient(
        &mut self,
        store: &Store,
        m: &Manifest,
        trees: &mut Vec<String>,
        bad: &mut Vec<BadTree>,
    ) -> BTreeMap<String, FileRecord> {
        let mut out = m.files.clone();
        if let Some(root) = &m.tree {
            self.walk(store, root, "", &mut out, trees, bad);
        }
        out
    }

    fn walk(
        &mut self,
        store: &Store,
        sha: &str,
        folder: &str,
        out: &mut BTreeMap<String, FileRecord>,
        trees: &mut Vec<String>,
        bad: &mut Vec<BadTree>,
    ) {
        trees.push(sha.to_string());
        if !self.cache.contains_key(sha) {
            let parsed = store
                .read_blob(sha)
                .map_err(|_| {
                    if store.has(sha).unwrap_or(false) {
                        "does not match its checksum".to_string()
                    } else {
                        "is missing".to_string()
                    }
                })
                .and_then(|b| {
                    let t: Tree = serde_json::from_slice(&b).map_err(|e| format!("is not a tree ({e})"))?;
                    if t.schema != TREE_SCHEMA {
                        return Err(format!("has schema `{}`", t.schema));
                    }
                    Ok(t)
                });
            match parsed {
                Ok(t) => {
                    self.cache.insert(sha.to_string(), t);
                }
                Err(why) => {
                    bad.push(BadTree { sha256: sha.to_string(), folder: folder.to_string(), why });
                    return;
                }
            }
        }
        let Some(tree) = self.cache.get(sha).cloned() else { return };
        let join = |name: &str| if folder.is_empty() { name.to_string() } else { format!("{folder}/{name}") };
        for name in tree.dirs.keys().chain(tree.files.keys()) {
            if !is_plain_name(name) {
                bad.push(BadTree {
                    sha256: sha.to_string(),
                    folder: folder.to_string(),
                    why: format!("names `{name}`, which is not a file name in the project"),
                });
                return;
            }
        }
        for (name, r) in &tree.files {
            out.insert(join(name), r.clone());
        }
        for (name, sub) in &tree.dirs {
            self.walk(store, sub, &join(name), out, trees, bad);
        }
    }
}

/// A single path component that stays in its folder.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_round_trip_and_share_unchanged_folders() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let rec = |s: &str| FileRecord { sha256: s.repeat(64 / s.len()), size: 1, mtime: Some(7) };
        let mut files = BTreeMap::new();
        for p in ["auditpack.toml", "evidence/a/x.csv", "evidence/a/y.csv", "evidence/a0.csv", "evidence/b/c/d.txt"] {
            files.insert(p.to_string(), rec("ab"));
        }
        let root = write_tree(&store, &files, None).unwrap();
        let m = Manifest {
            schema: SCHEMA.into(),
            id: 1,
            previous: None,
            created: String::new(),
            auditpack: String::new(),
            evidence_root: "evidence".into(),
            files: BTreeMap::new(),
            tree: Some(root.clone()),
            totals: None,
            index: String::new(),
            controls: BTreeMap::new(),
            retention: None,
        };
        assert_eq!(Trees::default().files(&store, &m).unwrap(), files);
        let before = store.object_names().unwrap().len();
        files.insert("evidence/b/c/e.txt".into(), rec("cd"));
        let root2 = write_tree(&store, &files, None).unwrap();
        assert_ne!(root, root2);
        // Only the changed folder and its parents are new: b/c, b, evidence, root.
        assert_eq!(store.object_names().unwrap().len(), before + 4);
    }
}
