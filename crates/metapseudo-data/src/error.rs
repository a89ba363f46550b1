//! Errors of the data layer: each names the file, record or option at fault.

use std::path::PathBuf;

/// Anything that can go wrong while reading, splitting or sampling data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read.
    #[error("cannot read {path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said (in the message once, not again as a cause).
        cause: std::io::Error,
    },
    /// A CSV cell or row is malformed.
    #[error("{path}: line {line}, column {column}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number (0 when the whole row is at fault).
        column: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A data specification or option is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// Shorthand for results of the data layer.
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    /// Turns an I/O error on `path` into a [`DataError::Io`] naming it (for `map_err`).
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |cause| Self::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// Reads a whole file; the error names it.
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(DataError::io(path))
}
