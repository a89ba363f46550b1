//! The project's own CPU kernels, as Burn backend operations on the `flex` backend: stride-1
//! and stride-2 convolutions (`conv`, chosen at run time for the CPU's vector extensions) and
//! batch norm fused with the activation after it (`norm_act`). Other devices use Burn's
//! operations; the architectures in `models` call these where they apply.

pub mod conv;
pub mod norm_act;
