//! metapseudo: semi-supervised learning with Meta Pseudo Labels and its family, on Burn.
#![warn(missing_docs)]

pub mod config;
pub mod datatools;
pub mod device;
pub mod eval;
pub mod export;
pub mod io;
pub mod kernels;
pub mod losses;
pub mod methods;
pub mod models;
pub mod optim;
pub mod params;
pub mod parity;
pub mod predict;
pub mod report;
pub mod run;
pub mod sysmem;
pub mod train;
pub mod tune;
pub mod utc;

pub use metapseudo_data as data;
