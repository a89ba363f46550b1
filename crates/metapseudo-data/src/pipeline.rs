//! Endless training batches, made in worker threads: labeled `(x, y)` plus unlabeled
//! (weak, strong) pairs, normalised, with bounded prefetch.
//!
//! Determinism: the sample order is drawn on the caller's thread, and every example's
//! augmentation draws from its own generator derived from (seed, batch number, slot), so the
//! batches are the same whatever the number of workers and however the threads are scheduled.
//! The saved position is the one before the next batch the caller will take, so a checkpoint
//! resumes exactly even while later batches are already being prepared.

use crate::augment::NoiseView;
use crate::dataset::Examples;
use crate::imageops::Image;
use crate::mixup::{Mix, mixup};
use crate::normalize::Normalizer;
use crate::policy::ImagePolicy;
use crate::rng::Rng;
use crate::sampler::{EpochSampler, SamplerState};
use crossbeam_channel::{Receiver, Sender, unbounded};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::JoinHandle;

/// One training batch; features are row-major, `dim` values per example, normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Features per example.
    pub dim: usize,
    /// Labeled inputs (labeled view), `labels.len()` rows.
    pub labeled: Vec<f32>,
    /// Class of each labeled row.
    pub labels: Vec<usize>,
    /// How the labeled rows were mixed, when mixup is on.
    pub mix: Option<Mix>,
    /// Unlabeled inputs, weak view.
    pub unlabeled_weak: Vec<f32>,
    /// The same unlabeled inputs, strong view.
    pub unlabeled_strong: Vec<f32>,
    /// Training-pool index of each labeled row.
    pub labeled_index: Vec<usize>,
    /// Training-pool index of each unlabeled row.
    pub unlabeled_index: Vec<usize>,
}

impl Batch {
    /// Number of labeled rows.
    pub fn num_labeled(&self) -> usize {
        self.labels.len()
    }

    /// Number of unlabeled rows.
    pub fn num_unlabeled(&self) -> usize {
        self.unlabeled_weak.len() / self.dim.max(1)
    }
}

/// The augmentations of each role.
#[derive(Clone, Debug, PartialEq)]
pub enum Views {
    /// Tabular noise views: the weak one also serves labeled rows.
    Noise {
        /// Labeled rows and the unlabeled weak view.
        weak: NoiseView,
        /// The unlabeled strong view.
        strong: NoiseView,
    },
    /// Image policies.
    Images {
        /// Labeled images.
        labeled: ImagePolicy,
        /// The unlabeled weak view.
        weak: ImagePolicy,
        /// The unlabeled strong view.
        strong: ImagePolicy,
    },
}

/// Which view of an example to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A labeled example.
    Labeled,
    /// The weak view of an unlabeled example.
    Weak,
    /// The strong view of an unlabeled example.
    Strong,
}

/// Turns an example index into normalised, augmented features.
#[derive(Clone, Debug)]
pub struct ViewMaker {
    /// The training pool.
    pub examples: Arc<Examples>,
    /// Normalisation applied after augmentation.
    pub normalizer: Normalizer,
    /// The augmentation of each role.
    pub views: Views,
}

impl ViewMaker {
    /// Features per example.
    pub fn dim(&self) -> usize {
        self.examples.feature_len()
    }

    /// Writes view `role` of example `i` into `out` (`dim()` values).
    pub fn write(&self, i: usize, role: Role, rng: &mut Rng, out: &mut [f32]) {
        match (&self.views, self.examples.as_ref()) {
            (
                Views::Images {
                    labeled,
                    weak,
                    strong,
                },
                Examples::Images(set),
            ) => {
                let policy = match role {
                    Role::Labeled => labeled,
                    Role::Weak => weak,
                    Role::Strong => strong,
                };
                let img = policy.apply(Image::from_set(set, i), rng);
                set.write_chw(&img.pixels, out);
                self.normalizer.apply_row(out);
            }
            (views, examples) => {
                examples.write_features(i, out);
                self.normalizer.apply_row(out);
                if let Views::Noise { weak, strong } = views {
                    let view = if role == Role::Strong { strong } else { weak };
                    view.apply(out, rng);
                }
            }
        }
    }

    /// Features of the examples `idx` in `role`, slot `k` drawing from `rng.child(first + k)`.
    fn gather(&self, idx: &[usize], role: Role, rng: &Rng, first: u64) -> Vec<f32> {
        let d = self.dim();
        let mut out = vec![0.0; idx.len() * d];
        for (k, (&i, row)) in idx.iter().zip(out.chunks_exact_mut(d)).enumerate() {
            self.write(i, role, &mut rng.child(first + k as u64), row);
        }
        out
    }
}

/// Batch sizes, threads and mixup.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamOptions {
    /// Labeled examples per batch.
    pub labeled_batch: usize,
    /// Unlabeled examples per batch (`mu * labeled_batch`; 0: none).
    pub unlabeled_batch: usize,
    /// Worker threads (0: make batches on the caller's thread).
    pub workers: usize,
    /// Batches prepared ahead of the caller (at least 1 with workers).
    pub prefetch: usize,
    /// Mixup's Beta parameter for the labeled rows (0: no mixup).
    pub mixup_alpha: f64,
}

/// The saved position of a [`BatchStream`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineState {
    /// Labeled stream position.
    pub labeled: SamplerState,
    /// Unlabeled stream position.
    pub unlabeled: SamplerState,
    /// Number of the next batch.
    pub batch: u64,
}

/// What a worker needs to make one batch.
struct Job {
    number: u64,
    labeled: Vec<usize>,
    unlabeled: Vec<usize>,
}

/// Slot offsets of a batch's generators: labeled, weak, strong, mixup.
const WEAK_SLOTS: u64 = 1 << 40;
const STRONG_SLOTS: u64 = 2 << 40;
const MIX_SLOT: u64 = 3 << 40;

fn make_batch(maker: &ViewMaker, base: &Rng, alpha: f64, job: &Job) -> Batch {
    let rng = base.child(job.number);
    let mut labeled = maker.gather(&job.labeled, Role::Labeled, &rng, 0);
    let labels = job
        .labeled
        .iter()
        .map(|&i| maker.examples.labels()[i].expect("labeled pool holds labeled examples"))
        .collect();
    let mix = (alpha > 0.0 && !job.labeled.is_empty())
        .then(|| mixup(&mut labeled, maker.dim(), alpha, &mut rng.child(MIX_SLOT)));
    Batch {
        dim: maker.dim(),
        labeled,
        labels,
        mix,
        unlabeled_weak: maker.gather(&job.unlabeled, Role::Weak, &rng, WEAK_SLOTS),
        unlabeled_strong: maker.gather(&job.unlabeled, Role::Strong, &rng, STRONG_SLOTS),
        labeled_index: job.labeled.clone(),
        unlabeled_index: job.unlabeled.clone(),
    }
}

/// A finished batch, or the message of a worker that panicked while making it.
type Made = (u64, std::result::Result<Batch, String>);

/// Worker threads fed with jobs; results come back tagged with their batch number.
struct Workers {
    jobs: Option<Sender<Job>>,
    results: Receiver<Made>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    fn start(n: usize, maker: &Arc<ViewMaker>, base: &Rng, alpha: f64) -> Self {
        let (job_tx, job_rx) = unbounded::<Job>();
        let (res_tx, res_rx) = unbounded();
        let handles = (0..n)
            .map(|k| {
                let (jobs, results) = (job_rx.clone(), res_tx.clone());
                let (maker, base) = (Arc::clone(maker), base.clone());
                std::thread::Builder::new()
                    .name(format!("metapseudo-data-{k}"))
                    .spawn(move || {
                        for job in jobs {
                            let made = std::panic::catch_unwind(AssertUnwindSafe(|| {
                                make_batch(&maker, &base, alpha, &job)
                            }))
                            .map_err(|p| {
                                p.downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_else(|| "unknown panic".into())
                            });
                            if results.send((job.number, made)).is_err() {
                                break;
                            }
                        }
                    })
                    .expect("cannot start a data worker thread")
            })
            .collect();
        Self {
            jobs: Some(job_tx),
            results: res_rx,
            handles,
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.jobs = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Endless batches over a labeled and an unlabeled pool.
pub struct BatchStream {
    maker: Arc<ViewMaker>,
    opts: StreamOptions,
    base: Rng,
    labeled: EpochSampler,
    unlabeled: EpochSampler,
    next_issue: u64,
    next_take: u64,
    /// Position before each issued batch not yet taken, oldest first.
    pending: VecDeque<PipelineState>,
    ready: BTreeMap<u64, Batch>,
    workers: Option<Workers>,
}

impl BatchStream {
    /// A stream drawing labeled batches from `labeled_idx` and unlabeled ones from
    /// `unlabeled_idx` (the labeled pool when that is empty); `seed` fixes order and
    /// augmentation.
    pub fn new(
        maker: ViewMaker,
        labeled_idx: Vec<usize>,
        unlabeled_idx: Vec<usize>,
        opts: StreamOptions,
        seed: u64,
    ) -> Self {
        let unlabeled_pool = if unlabeled_idx.is_empty() {
            labeled_idx.clone()
        } else {
            unlabeled_idx
        };
        let maker = Arc::new(maker);
        let base = Rng::stream(seed, "augment");
        let workers = (opts.workers > 0)
            .then(|| Workers::start(opts.workers, &maker, &base, opts.mixup_alpha));
        Self {
            labeled: EpochSampler::new(labeled_idx, Rng::stream(seed, "batches/labeled")),
            unlabeled: EpochSampler::new(unlabeled_pool, Rng::stream(seed, "batches/unlabeled")),
            maker,
            opts,
            base,
            next_issue: 0,
            next_take: 0,
            pending: VecDeque::new(),
            ready: BTreeMap::new(),
            workers,
        }
    }

    fn position(&self) -> PipelineState {
        PipelineState {
            labeled: self.labeled.state(),
            unlabeled: self.unlabeled.state(),
            batch: self.next_issue,
        }
    }

    fn issue(&mut self) -> Job {
        self.pending.push_back(self.position());
        let job = Job {
            number: self.next_issue,
            labeled: self.labeled.next_batch(self.opts.labeled_batch),
            unlabeled: self.unlabeled.next_batch(self.opts.unlabeled_batch),
        };
        self.next_issue += 1;
        job
    }

    /// The next batch.
    pub fn next_batch(&mut self) -> Batch {
        let batch = if self.workers.is_none() {
            let job = self.issue();
            make_batch(&self.maker, &self.base, self.opts.mixup_alpha, &job)
        } else {
            let ahead = self.opts.prefetch.max(1) as u64;
            while self.next_issue < self.next_take + ahead {
                let job = self.issue();
                let workers = self.workers.as_ref().expect("checked above");
                let jobs = workers.jobs.as_ref().expect("open until drop");
                jobs.send(job).expect("data workers stopped unexpectedly");
            }
            loop {
                if let Some(b) = self.ready.remove(&self.next_take) {
                    break b;
                }
                let workers = self.workers.as_ref().expect("checked above");
                let (n, made) = workers
                    .results
                    .recv()
                    .expect("data worker threads stopped unexpectedly");
                match made {
                    Ok(b) => self.ready.insert(n, b),
                    Err(msg) => panic!("a data worker failed on batch {n}: {msg}"),
                };
            }
        };
        self.pending.pop_front();
        self.next_take += 1;
        batch
    }

    /// The position to save in a checkpoint: just before the next batch [`Self::next_batch`]
    /// returns.
    pub fn state(&self) -> PipelineState {
        self.pending
            .front()
            .cloned()
            .unwrap_or_else(|| self.position())
    }

    /// Continues from a saved position (batches prepared ahead are dropped).
    pub fn restore(&mut self, state: &PipelineState) {
        if self.workers.is_some() {
            self.workers = Some(Workers::start(
                self.opts.workers,
                &self.maker,
                &self.base,
                self.opts.mixup_alpha,
            ));
        }
        self.labeled.restore(&state.labeled);
        self.unlabeled.restore(&state.unlabeled);
        self.next_issue = state.batch;
        self.next_take = state.batch;
        self.pending.clear();
        self.ready.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Samples;
    use crate::image::ImageSet;
    use crate::policy::{PolicyName, PolicySettings};

    fn tabular(seed: u64, workers: usize) -> BatchStream {
        let mut s = Samples::new(2);
        for i in 0..20 {
            s.push(&[i as f32, -(i as f32)], Some(i % 2));
        }
        let maker = ViewMaker {
            examples: Arc::new(s.into()),
            normalizer: Normalizer::identity(2),
            views: Views::Noise {
                weak: NoiseView::NONE,
                strong: NoiseView {
                    noise_std: 0.1,
                    feature_dropout: 0.0,
                },
            },
        };
        let opts = StreamOptions {
            labeled_batch: 4,
            unlabeled_batch: 12,
            workers,
            prefetch: 3,
            mixup_alpha: 0.0,
        };
        BatchStream::new(maker, vec![0, 1, 2, 3, 4, 5], (0..20).collect(), opts, seed)
    }

    #[test]
    fn batch_composition() {
        let mut p = tabular(1, 0);
        let b = p.next_batch();
        assert_eq!(b.num_labeled(), 4);
        assert_eq!(b.num_unlabeled(), 12);
        assert_eq!(b.labeled.len(), 8);
        for (k, &y) in b.labels.iter().enumerate() {
            let x = b.labeled[2 * k] as usize;
            assert!(x < 6 && x % 2 == y);
        }
        for k in 0..12 {
            let w = &b.unlabeled_weak[2 * k..2 * k + 2];
            let s = &b.unlabeled_strong[2 * k..2 * k + 2];
            assert_eq!(w[0], -w[1]);
            assert!((w[0] - s[0]).abs() < 0.6 && w != s);
        }
    }

    #[test]
    fn workers_give_the_same_batches_and_resume_exactly() {
        let mut sync = tabular(3, 0);
        let mut threaded = tabular(3, 2);
        for _ in 0..5 {
            assert_eq!(sync.next_batch(), threaded.next_batch());
        }
        // The threaded stream has prepared batches ahead; its state is still "before batch 5".
        let state = threaded.state();
        assert_eq!(state, sync.state());
        assert_eq!(state.batch, 5);
        let expected: Vec<Batch> = (0..4).map(|_| threaded.next_batch()).collect();
        let mut resumed = tabular(3, 2);
        resumed.restore(&state);
        let got: Vec<Batch> = (0..4).map(|_| resumed.next_batch()).collect();
        assert_eq!(got, expected);
        assert_ne!(tabular(4, 0).next_batch(), tabular(3, 0).next_batch());
    }

    #[test]
    fn image_views_are_normalised_and_mixup_blends_labeled_rows() {
        // 10 grey 8x8 images; image i has every pixel 20 * i.
        let set = ImageSet {
            pixels: (0..10).flat_map(|i| vec![20 * i as u8; 64]).collect(),
            height: 8,
            width: 8,
            channels: 1,
            labels: (0..10).map(|i| Some(i % 2)).collect(),
        };
        let examples: Examples = set.into();
        let normalizer = Normalizer::fit(&examples);
        let policy = |name| ImagePolicy::new(name, PolicySettings::default());
        let maker = ViewMaker {
            examples: Arc::new(examples),
            normalizer: normalizer.clone(),
            views: Views::Images {
                labeled: policy(PolicyName::None),
                weak: policy(PolicyName::Weak),
                strong: policy(PolicyName::Strong),
            },
        };
        let opts = StreamOptions {
            labeled_batch: 4,
            unlabeled_batch: 8,
            workers: 1,
            prefetch: 2,
            mixup_alpha: 0.0,
        };
        let mut s = BatchStream::new(maker.clone(), (0..10).collect(), vec![], opts.clone(), 5);
        let b = s.next_batch();
        assert_eq!(b.dim, 64);
        for (k, row) in b.labeled.chunks(64).enumerate() {
            assert!(row.iter().all(|&v| v == row[0]), "flat image stays flat");
            let pixel = (row[0] * normalizer.std[0] + normalizer.mean[0]) * 255.0;
            assert_eq!((pixel.round() as usize / 20) % 2, b.labels[k]);
        }
        // Weak views of flat images stay flat (flip and reflect-crop); strong ones get a hole.
        assert!(
            b.unlabeled_weak
                .chunks(64)
                .all(|r| r.iter().all(|&v| v == r[0]))
        );
        assert!(
            b.unlabeled_strong
                .chunks(64)
                .any(|r| r.iter().any(|&v| v != r[0]))
        );
        let mut mixed = BatchStream::new(
            maker,
            (0..10).collect(),
            vec![],
            StreamOptions {
                mixup_alpha: 1.0,
                ..opts
            },
            5,
        );
        let m = mixed.next_batch();
        let mix = m.mix.as_ref().expect("mixup is on");
        for k in 0..4 {
            let l = mix.lambda[k];
            let expect = l * b.labeled[64 * k] + (1.0 - l) * b.labeled[64 * mix.partner[k]];
            assert!((m.labeled[64 * k] - expect).abs() < 1e-5);
        }
    }
}
