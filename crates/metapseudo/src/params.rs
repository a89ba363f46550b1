//! Named access to a module's tensors: export to host vectors, import back, and visit in order.
//!
//! Paths follow the module tree (`Mlp.layers.0.weight`); batch-norm running statistics are
//! included, so a round trip restores a network exactly.
//!
//! Burn keeps a batch norm's latest running-statistics update pending (per thread) until the
//! next forward or `valid()`; readers here go through [`synced`] so they see it.

use anyhow::{Result, bail};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Tensor, TensorData};
use std::collections::BTreeMap;

/// One tensor on the host: shape and row-major values.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

impl HostTensor {
    /// Copies a device tensor to the host.
    pub fn from_tensor<const D: usize>(t: &Tensor<D>) -> Self {
        let data = t.to_data();
        Self {
            shape: t.shape().to_vec(),
            values: data.try_into_vec::<f32>().expect("float tensors hold f32"),
        }
    }

    /// Creates a device tensor with these values on `device`.
    pub fn to_tensor<const D: usize>(&self, device: &burn::tensor::Device) -> Tensor<D> {
        Tensor::from_data(
            TensorData::new(self.values.clone(), self.shape.clone()),
            device,
        )
    }
}

/// A path stack shared by the visitors and mappers below.
#[derive(Default)]
pub struct PathStack(Vec<String>);

impl PathStack {
    /// Enters a sub-module.
    pub fn push(&mut self, name: &str) {
        self.0.push(name.to_string());
    }

    /// Leaves a sub-module.
    pub fn pop(&mut self) {
        self.0.pop();
    }

    /// The current path, dot-separated.
    pub fn path(&self) -> String {
        self.0.join(".")
    }
}

/// `module` with every pending running-statistics update applied: `valid()` folds them into the
/// shared values (of `module` too) and returns a copy without autodiff.
pub fn synced<M: Module>(module: &M) -> M {
    module.valid()
}

/// Every float tensor of `module` (parameters and running statistics), by path.
pub fn export_tensors<M: Module>(module: &M) -> BTreeMap<String, HostTensor> {
    let module = synced(module);
    struct Export {
        path: PathStack,
        out: BTreeMap<String, HostTensor>,
    }
    impl ModuleVisitor for Export {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out
                .insert(self.path.path(), HostTensor::from_tensor(&param.val()));
        }
    }
    let mut v = Export {
        path: PathStack::default(),
        out: BTreeMap::new(),
    };
    module.visit(&mut v);
    v.out
}

/// Replaces every float tensor of `module` by the one stored under its path; every path must
/// be present with the right shape.
pub fn import_tensors<M: Module>(module: M, tensors: &BTreeMap<String, HostTensor>) -> Result<M> {
    struct Import<'a> {
        path: PathStack,
        tensors: &'a BTreeMap<String, HostTensor>,
        error: Option<String>,
    }
    impl ModuleMapper for Import<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let path = self.path.path();
            match self.tensors.get(&path) {
                Some(h) if h.shape == param.shape().to_vec() => param.map(|t| {
                    let grad = t.is_require_grad();
                    let fresh: Tensor<D> = h.to_tensor(&t.device());
                    fresh.set_require_grad(grad)
                }),
                Some(h) => {
                    self.error.get_or_insert(format!(
                        "tensor '{path}' has shape {:?} in the file but {:?} in the model",
                        h.shape,
                        param.shape().to_vec()
                    ));
                    param
                }
                None => {
                    self.error
                        .get_or_insert(format!("tensor '{path}' is missing from the file"));
                    param
                }
            }
        }
    }
    let mut m = Import {
        path: PathStack::default(),
        tensors,
        error: None,
    };
    let module = module.map(&mut m);
    match m.error {
        Some(e) => bail!(e),
        None => Ok(module),
    }
}

/// The float tensors of `module` in traversal order, flattened to one dimension and without
/// autodiff.
pub fn flat_tensors<M: Module>(module: &M) -> Vec<Tensor<1>> {
    let module = synced(module);
    struct Flat(Vec<Tensor<1>>);
    impl ModuleVisitor for Flat {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let n = t.shape().num_elements();
            self.0.push(t.inner().reshape([n]));
        }
    }
    let mut f = Flat(Vec::new());
    module.visit(&mut f);
    f.0
}

/// Maps every float tensor of `module`, in traversal order, with
/// `f(index, param_id, current)` where `current` is flattened and without autodiff; returning
/// `None` keeps the tensor. A new value keeps the tensor's autodiff and gradient settings.
pub fn map_tensors<M: Module>(
    module: M,
    mut f: impl FnMut(usize, ParamId, Tensor<1>) -> Option<Tensor<1>>,
) -> M {
    struct Map<F> {
        index: usize,
        f: F,
    }
    impl<F: FnMut(usize, ParamId, Tensor<1>) -> Option<Tensor<1>>> ModuleMapper for Map<F> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let i = self.index;
            self.index += 1;
            let id = param.id;
            param.map(|t| {
                let grad = t.is_require_grad();
                let autodiff = t.is_autodiff();
                let shape = t.shape();
                let n = shape.num_elements();
                match (self.f)(i, id, t.clone().inner().reshape([n])) {
                    None => t,
                    Some(flat) => {
                        let mut out: Tensor<D> = flat.reshape(shape);
                        if autodiff {
                            out = Tensor::from_inner(out);
                        }
                        if grad {
                            out = out.require_grad();
                        }
                        out
                    }
                }
            })
        }
    }
    module.map(&mut Map {
        index: 0,
        f: &mut f,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::models::{ModelShape, build};
    use burn::tensor::Device;
    use metapseudo_data::Rng;

    #[test]
    fn export_import_round_trip_is_exact() {
        let device = Device::flex().autodiff();
        let shape = ModelShape::flat(3, 2);
        let a = build(&ModelConfig::default(), &shape, &mut Rng::new(1), &device).unwrap();
        let b = build(&ModelConfig::default(), &shape, &mut Rng::new(2), &device).unwrap();
        let ta = export_tensors(&a);
        assert!(ta.contains_key("Mlp.layers.0.weight"), "{:?}", ta.keys());
        assert_ne!(ta, export_tensors(&b));
        let b = import_tensors(b, &ta).unwrap();
        assert_eq!(export_tensors(&b), ta);
        let mut wrong = ta.clone();
        wrong.remove("Mlp.layers.1.bias");
        let e = import_tensors(a, &wrong).unwrap_err().to_string();
        assert!(e.contains("Mlp.layers.1.bias"), "{e}");
    }
}
