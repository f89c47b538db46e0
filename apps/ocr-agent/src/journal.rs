//! A small durable key–value journal: one JSON line per change, appended and flushed to
//! disk before `put` returns, the last line of a key winning. The agent keeps what must
//! survive a restart in two of them (docs/desktop-agent.md, "What the agent keeps"): the
//! buyer messages it has read (queued until the server has them, then remembered for
//! 24 h so a message on screen is posted once) and the replies it has typed.
//!
//! A journal is rewritten with only its live entries when it is opened, so it stays the
//! size of a day's work. A torn last line (power cut mid-write) is skipped.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Record<V> {
    key: String,
    at: DateTime<Utc>,
    value: V,
}

pub struct Journal<V> {
    path: PathBuf,
    file: File,
    /// Key → (when written, value), with the order keys were first written.
    entries: HashMap<String, (u64, DateTime<Utc>, V)>,
    next_order: u64,
}

impl<V: Serialize + DeserializeOwned + Clone> Journal<V> {
    /// Opens (or creates) the journal at `path`, dropping the entries `expired` says
    /// are no longer needed (given the entry and its age).
    pub fn open(path: &Path, expired: impl Fn(&V, Duration) -> bool) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut entries = HashMap::new();
        let mut next_order = 0;
        if path.exists() {
            let reader = BufReader::new(
                File::open(path).with_context(|| format!("opening {}", path.display()))?,
            );
            for line in reader.lines() {
                let line = line.with_context(|| format!("reading {}", path.display()))?;
                // A line cut short by a crash is the only one that may not parse.
                let Ok(record) = serde_json::from_str::<Record<V>>(&line) else {
                    continue;
                };
                let order = match entries.get(&record.key) {
                    Some((order, _, _)) => *order,
                    None => {
                        next_order += 1;
                        next_order
                    }
                };
                entries.insert(record.key, (order, record.at, record.value));
            }
        }
        let now = Utc::now();
        entries.retain(|_, (_, at, value)| !expired(value, now - *at));
        // Rewrite the live entries beside the journal, then swap it in.
        let fresh = path.with_extension("compacting");
        {
            let mut out =
                File::create(&fresh).with_context(|| format!("creating {}", fresh.display()))?;
            let mut live: Vec<_> = entries.iter().collect();
            live.sort_by_key(|(_, (order, _, _))| *order);
            for (key, (_, at, value)) in live {
                let record = Record {
                    key: key.clone(),
                    at: *at,
                    value: value.clone(),
                };
                writeln!(out, "{}", serde_json::to_string(&record)?)?;
            }
            out.sync_all()?;
        }
        fs::rename(&fresh, path).with_context(|| format!("replacing {}", path.display()))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            entries,
            next_order,
        })
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|(_, _, v)| v)
    }

    /// Records `value` for `key` on disk (flushed) before it returns.
    pub fn put(&mut self, key: &str, value: V) -> anyhow::Result<()> {
        let at = Utc::now();
        let record = Record {
            key: key.to_owned(),
            at,
            value,
        };
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("writing {}", self.path.display()))?;
        let order = match self.entries.get(key) {
            Some((order, _, _)) => *order,
            None => {
                self.next_order += 1;
                self.next_order
            }
        };
        self.entries
            .insert(key.to_owned(), (order, at, record.value));
        Ok(())
    }

    /// The entries `wanted` selects, in the order their keys were first written.
    pub fn select(&self, wanted: impl Fn(&V) -> bool) -> Vec<(String, V)> {
        let mut found: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, (_, _, v))| wanted(v))
            .map(|(k, (order, _, v))| (*order, k.clone(), v.clone()))
            .collect();
        found.sort_by_key(|(order, _, _)| *order);
        found.into_iter().map(|(_, k, v)| (k, v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_reopen_the_last_write_wins_expired_ones_go() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("j.jsonl");
        let keep = |_: &u32, _: Duration| false;
        {
            let mut j = Journal::<u32>::open(&path, keep).expect("open");
            j.put("a", 1).expect("put");
            j.put("b", 2).expect("put");
            j.put("a", 3).expect("put");
        }
        // A torn line at the end, as a power cut leaves it.
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(b"{\"key\":\"c\",\"at\":\"2026-")
            .expect("write");
        drop(file);
        let j = Journal::<u32>::open(&path, keep).expect("reopen");
        assert_eq!(
            (j.get("a"), j.get("b"), j.get("c")),
            (Some(&3), Some(&2), None)
        );
        assert_eq!(
            j.select(|_| true),
            vec![("a".to_string(), 3), ("b".to_string(), 2)]
        );
        drop(j);
        // Opening drops what `expired` says, and the file is rewritten without it.
        let j = Journal::<u32>::open(&path, |v, _| *v == 2).expect("reopen");
        assert_eq!((j.get("a"), j.get("b")), (Some(&3), None));
        let lines = fs::read_to_string(&path).expect("read");
        assert_eq!(lines.lines().count(), 1, "{lines}");
    }
}
