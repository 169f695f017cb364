//! Shared by the benchmarks: which recordings they run on.

use glimpse_corpus::Corpus;

/// The corpus (`../shared/corpus` when present, else the bundled one) and the width of its largest
/// recordings, the ones the benchmarks use.
pub fn widest_corpus() -> (Corpus, u32) {
    let corpus = Corpus::shared_or_bundled().expect("a corpus");
    let width = corpus
        .scenarios
        .iter()
        .map(|s| s.width)
        .max()
        .expect("scenarios");
    (corpus, width)
}
