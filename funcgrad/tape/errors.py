"""The tape's error and warning texts, in one place, as named constants.

Each message starts with PyTorch's own words (torch 2.13), so users can search for them,
then adds a short funcgrad hint. Tests compare the PyTorch part against real torch, so the
texts are moved here verbatim, never reworded. `{name}` fields are filled with
`str.format` where the error is raised. Short one-line messages stay at their `raise`;
docs/errors.md documents every message (a test checks it).

This module also holds the helpers that name dtypes, shapes and nodes the way PyTorch's
messages do. It raises nothing itself.
"""

from __future__ import annotations

import numpy as np

from ..functional import BACKWARD_TWICE as BACKWARD_TWICE

__all__ = [
    "DATA_NOT_FLOAT",
    "NO_ACCELERATOR",
    "SET_DEVICE_INDEX",
    "META_DEVICE",
    "COMPLEX_UNSUPPORTED",
    "REAL_NOT_COMPLEX",
    "complex_unsupported",
    "OUT_REQUIRES_GRAD",
    "OUT_RESIZED",
    "DETACHED_SAVED",
    "POST_ACCUMULATE_HOOK_RETURN",
    "HOOK_RETURN_NOT_TUPLE",
    "HOOK_RETURN_COUNT",
    "HOOK_REPLACED_NONE",
    "HOOK_RETURN_NOT_TENSOR",
    "HOOK_CHANGED_TYPE",
    "HOOK_CHANGED_SIZE",
    "FUNCTION_GRAD_FOR_NON_TENSOR",
    "CREATE_GRAPH_CYCLE",
    "CLASS_DECORATION",
    "DIRTY_VIEW",
    "DIRTY_LEAF",
    "DIRTY_NOT_RETURNED",
    "GRADCHECK_UNSUPPORTED",
    "GRADCHECK_NOT_REENTRANT",
    "GRADCHECK_NO_INPUT",
    "GRADCHECK_NOT_DOUBLE",
    "ONCE_DIFFERENTIABLE",
    "BACKWARD_TWICE",
    "BACKWARD_TWICE_HINT",
    "CHECKPOINT_USE_REENTRANT",
    "CHECKPOINT_SEQUENTIAL_USE_REENTRANT",
    "CHECKPOINT_NO_INPUT_GRAD",
    "CHECKPOINT_REENTRANT_GRAD",
    "CHECKPOINT_MORE_SAVED",
    "CHECKPOINT_COUNT_MISMATCH",
    "CHECKPOINT_OPTION",
    "BCE_INPUT_RANGE",
    "BCE_TARGET_SIZE",
    "BOOLEAN_MASK_INDEX",
    "BROADCAST_HINT",
    "broadcast_mismatch",
    "BROADCAST_MISMATCH",
    "CHAIN_MATMUL_WARNING",
    "CLIP_GRAD_NONFINITE",
    "COLLATE_TYPE",
    "COMBINED_OTHER_OPTIMIZER",
    "COMBINED_PLATEAU",
    "CONCAT_ITERABLE",
    "CONV_GROUPS",
    "CROSS_DIM_WARNING",
    "DATA_DEPENDENT_SHAPE",
    "DEEPCOPY_NON_LEAF",
    "DETACH_VIEW_INPLACE",
    "DEVICE_HINT",
    "DEVICE_MISMATCH",
    "DEVICE_ORDINAL",
    "DEVICE_TYPE",
    "NO_CUDA",
    "NO_DEVICE",
    "NO_DEVICE_HINT",
    "TYPE_NAMES",
    "DIFFERENTIABLE_OPTIMIZER",
    "DUPLICATE_PARAMS",
    "EMBEDDING_SPARSE",
    "EMPTY_CONCAT",
    "EPOCH_DEPRECATION_WARNING",
    "EXPAND_SIZE",
    "EXPAND_TOO_FEW_SIZES",
    "EXPLICIT_PICKLE_MODULE",
    "FROZEN_ATTRIBUTE",
    "FULL_BACKWARD_HOOK_NO_INPUTS",
    "FUNCTION_GRAD_SHAPE",
    "GENERATOR_DEVICE",
    "GET_LR_OUTSIDE_STEP",
    "GRAD_DTYPE",
    "GRAD_SIZE",
    "GRAPH_ARGUMENT",
    "GRAPH_IN_STATE",
    "IMPLICIT_GRAD_HINT",
    "IMPLICIT_GRAD_NON_SCALAR",
    "INDEX_TOO_NEGATIVE",
    "INFERENCE_INPLACE",
    "INFERENCE_SAVED",
    "UNPACK_NOT_TENSOR",
    "INPLACE_DTYPE",
    "INPLACE_HINT",
    "INPLACE_SHAPE",
    "INTEGER_HINT",
    "INTEGER_REQUIRES_GRAD",
    "INTEGER_REQUIRES_GRAD_CTOR",
    "INTEGER_REQUIRES_GRAD_SETTER",
    "KL_DIV_MEAN_WARNING",
    "LBFGS_NOT_COMPILABLE",
    "LEAF_INPLACE",
    "LEAF_INPLACE_HINT",
    "LEAF_VIEW_INPLACE",
    "MULTI_OUTPUT_VIEW_INPLACE",
    "MULTI_OUTPUT_VIEW_TAIL",
    "NO_GRAD_VIEW_TAIL",
    "VIEW_OF_VIEW",
    "VIEW_REBASE_INDIRECT",
    "INTERNAL_OVERLAP",
    "INTERNAL_OVERLAP_HINT",
    "LEAKED_TENSOR",
    "MESHGRID_WARNING",
    "MSE_TARGET_SIZE",
    "MUTUALLY_EXCLUSIVE",
    "NON_LEAF_GRAD_WARNING",
    "NON_LEAF_REQUIRES_GRAD",
    "NOT_IMPLEMENTED_GETITEM",
    "NO_GRAD_FN",
    "NO_GRAD_FN_HINT",
    "NO_GRAD_VIEW_INPLACE",
    "NO_INITIAL_LR",
    "PAD_SIZE",
    "RESHAPE_BASE_INPLACE",
    "node_word",
    "view_rebase",
    "PARAMS_IN_A_SET",
    "PERMUTE_DIMS",
    "PLATEAU_GROUPS",
    "RANDINT_ARGS",
    "RANDOM_FROM_TO",
    "RETRACE",
    "RNG_STATE_INVALID",
    "RNG_STATE_NOT_BYTES",
    "RNG_STATE_SIZE",
    "SCHEDULER_BEFORE_OPTIMIZER",
    "SCHEDULER_IN_JIT",
    "SEED_OVERFLOW",
    "SEED_TYPE",
    "SEQUENTIAL_MILESTONES",
    "SHAPE_MISMATCH",
    "short_shape",
    "SIZE_MISMATCH",
    "SPLIT_SUM",
    "STEP_OVERRIDDEN",
    "STRUCTURAL_OPTION_CHANGED",
    "torch_scalar_type",
    "torch_size",
    "torch_typemeta_name",
    "torch_type_name",
    "TRACED_VALUE",
    "traced_value_error",
    "TRUNC_NORMAL_MEAN",
    "UNDECLARED_STATE",
    "UNEQUAL_SIZES",
    "UNSUPPORTED",
    "UNUSED_GROUP_OPTION",
    "UNUSED_INPUT",
    "VERSION_HINT",
    "version_mismatch",
    "VERSION_MISMATCH",
]

# ---------------------------------------------------------------- backward and autograd.grad
BACKWARD_TWICE_HINT = (
    "\n[funcgrad] Node {node} dropped its pullback after the first backward. In the "
    "functional API the same fix is to keep the pullback returned by jax.vjp and call it "
    "again (funcgrad.functional.vjp returns one you can keep)."
)

IMPLICIT_GRAD_NON_SCALAR = "grad can be implicitly created only for scalar outputs"
IMPLICIT_GRAD_HINT = (
    "\n[funcgrad] The output has shape {shape}; pass gradient= a tensor of that shape "
    "(the cotangent you would give jax.vjp's pullback)."
)

NO_GRAD_FN = "element {index} of tensors does not require grad and does not have a grad_fn"
NO_GRAD_FN_HINT = (
    "\n[funcgrad] Nothing that requires grad was used to compute it: create the inputs with "
    "requires_grad=True, and do not compute it under no_grad()."
)

UNUSED_INPUT = (
    "The differentiated Tensor at index {index} appears to not have been used in the graph. "
    "Set allow_unused=True if this is the desired behavior."
)

SHAPE_MISMATCH = (
    "Mismatch in shape: grad_output[{index}] has a shape of {given} and output[{index}] "
    "has a shape of {expected}."
)

# ---------------------------------------------------------------- requires_grad, .grad, in place
INTEGER_REQUIRES_GRAD = "only Tensors of floating point dtype can require gradients"
INTEGER_REQUIRES_GRAD_SETTER = (
    "only Tensors of floating point and complex dtype can require gradients"
)
INTEGER_REQUIRES_GRAD_CTOR = (
    "Only Tensors of floating point and complex dtype can require gradients"
)
INTEGER_HINT = "\n[funcgrad] Got dtype {dtype}; convert first, e.g. x.float()."

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
LEAF_VIEW_INPLACE = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)
LEAF_INPLACE_HINT = (
    "\n[funcgrad] Modify it under `with no_grad():` (as optimizers do), or work on a copy "
    "(x.clone())."
)

VERSION_MISMATCH = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: [{tensor_type} {shape}]{origin} is at version {now}; expected version "
    "{saved} instead. {hint}"
)
VERSION_MISMATCH_HINT = (
    "Hint: enable anomaly detection to find the operation that failed to compute its "
    "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False)."
)
# PyTorch's hint while anomaly detection is on: the forward stack was just shown.
VERSION_MISMATCH_ANOMALY_HINT = (
    "Hint: the backtrace further above shows the operation that failed to compute its "
    "gradient. The variable in question was changed in there or anywhere later. Good luck!"
)

# Anomaly detection (anomaly_mode.py), in PyTorch's words.
ANOMALY_ENABLED = (
    "Anomaly Detection has been enabled. This mode will increase the runtime and should only "
    "be enabled for debugging."
)
ANOMALY_NAN = "Function '{node}' returned nan values in its {index}th output."
ANOMALY_FORWARD = "Error detected in {node}. Traceback of forward call that caused the error:\n"
ANOMALY_NO_FORWARD = (
    "Error detected in {node}. No forward pass information available. Enable detect anomaly "
    "during forward pass for more information."
)
VERSION_HINT = (
    "\n[funcgrad] {node} saved this tensor for its backward; use an out-of-place op "
    "(e.g. y = y + 1 instead of y.add_(1)) so the saved value stays valid."
)

INFERENCE_INPLACE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details."
)
INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`."
)
# A saved-tensor unpack hook (autograd.graph.saved_tensors_hooks) returned a non-tensor.
UNPACK_NOT_TENSOR = (
    "Output of saved tensor unpack_hook expected to be a Tensor but got result of type {type}"
)

NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information."
)
GRAD_DTYPE = (
    "attempting to assign a gradient with dtype '{grad}' to a tensor with grad_dtype "
    "'{dtype}'. The gradient must match the tensor's grad_dtype (defaults to the tensor's "
    "dtype). You can set the tensor's grad_dtype attribute with a specific dtype, or None to "
    "allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its "
    "gradient may break downstream systems that assume they match."
)

INTERNAL_OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a "
    "single memory location. Please clone() the tensor before performing the operation."
)
INTERNAL_OVERLAP_HINT = (
    "\n[funcgrad] The tensor is an expanded view: several of its elements are one element of "
    "its base. Write to the base, or to x.expand(...).clone()."
)

NO_GRAD_VIEW_INPLACE = (
    "A view was created in no_grad mode and is being modified inplace with grad mode "
    "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You "
    "can clarify your code by moving both the view and the inplace either both inside the "
    "no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
    "want the inplace to be tracked)."
)
# The parts of PyTorch's handle_view_on_rebase text (view_rebase() puts them together).
NO_GRAD_VIEW_TAIL = NO_GRAD_VIEW_INPLACE[NO_GRAD_VIEW_INPLACE.index(" Given") :]
MULTI_OUTPUT_VIEW_TAIL = (
    " This view is the output of a function that returns multiple views. Such functions do "
    "not allow the output views to be modified inplace. You should replace the inplace "
    "operation by an out-of-place one."
)
VIEW_OF_VIEW = "Output {nr} of {op} is a view of a view which was created in"
MULTI_OUTPUT_VIEW_INPLACE = "Output {nr} of {op} is a view and {modified} modified inplace."
VIEW_REBASE_INDIRECT = "its base or another view of its base has been"


# ---------------------------------------------------------------- bad input to ops
BROADCAST_MISMATCH = (
    "The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton "
    "dimension {dim}"
)
BROADCAST_HINT = (
    "\n[funcgrad] {op} got inputs of shapes {shapes}. Shapes broadcast when, counting from "
    "the last dim, each pair of sizes is equal or one of them is 1: reshape or unsqueeze an "
    "input (e.g. x[:, None]) so that they line up."
)
LERP_END_DTYPE = "expected dtype {expected} for `end` but got dtype {got}"
INPLACE_SHAPE = "output with shape {shape} doesn't match the broadcast shape {broadcast}"
OUT_REQUIRES_GRAD = (
    "{name}(): functions with out=... arguments don't support automatic differentiation, "
    "but one of the arguments requires grad.\n[funcgrad] call it under torch.no_grad(), or "
    "drop out= and use the returned tensor"
)
OUT_RESIZED = (
    "An output with one or more elements was resized since it had shape {old}, which does "
    "not match the required output shape {new}. This behavior is deprecated, and in a "
    "future PyTorch release outputs will not be resized unless they have zero elements. You "
    "can explicitly reuse an out tensor t by resizing it, inplace, to zero elements with "
    "t.resize_(0)."
)
INPLACE_DTYPE = "result type {result} can't be cast to the desired output type {dtype}"
INPLACE_HINT = (
    "\n[funcgrad] An in-place op keeps its tensor's shape and dtype; use the out-of-place op "
    "(y = x + v) to get the broadcast or promoted result."
)
DEVICE_TYPE = (
    "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, "
    "xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type at start of device "
    "string: {type}"
)
NO_CUDA = "Torch not compiled with CUDA enabled"
NO_DEVICE = "device '{device}' is not available"
NO_DEVICE_HINT = (
    "\n[funcgrad] JAX sees no {kind}: 'cuda' is JAX's GPU, available when the JAX build for it "
    "is installed (jax[cuda12]); pick the device with torch.cuda.is_available()."
)
META_DEVICE = (
    "meta tensors (device='meta': a shape and dtype without data) are not supported by "
    "funcgrad.tape"
    "\n[funcgrad] JAX arrays always hold data: make the tensor or module on 'cpu', or ask for "
    "shapes only with jax.eval_shape on the functional side"
)
COMPLEX_UNSUPPORTED = (
    "Trying to convert {scalar_type} to the funcgrad backend but it does not have support for "
    "that dtype."
    "\n[funcgrad] funcgrad.tape refuses complex dtypes (torch.complex64 / cfloat, "
    "torch.complex128 / cdouble) and complex Python numbers, rather than compute them with "
    "other dtypes or gradients than PyTorch's: keep the real and imaginary parts as two real "
    "tensors, or use JAX's complex numbers on the functional side"
)


REAL_NOT_COMPLEX = "must be real number, not complex"


def complex_unsupported(dtype) -> TypeError:
    """The error for complex data or a complex dtype entering the tape (PyTorch's wording
    for a backend without the dtype, as on MPS)."""
    return TypeError(COMPLEX_UNSUPPORTED.format(scalar_type=torch_scalar_type(dtype)))


NO_ACCELERATOR = "Cannot access accelerator device when none is available."
SET_DEVICE_INDEX = (
    "accelerator.set_device_index(n) for n > 0 is not supported by funcgrad.tape"
    "\n[funcgrad] tensors go to JAX's first device of the accelerator; place them on another "
    "with .to('cuda:n')"
)
DEVICE_ORDINAL = "CUDA error: invalid device ordinal"
DEVICE_MISMATCH = (
    "Expected all tensors to be on the same device, but found at least two devices, {a} and {b}!"
)
DEVICE_HINT = (
    "\n[funcgrad] Move one input first, e.g. x.to(y.device), or jax.device_put the arrays "
    "onto one device."
)


# ---------------------------------------------------------------- tensors
NON_LEAF_REQUIRES_GRAD = (
    "you can only change requires_grad flags of leaf variables. If you want to use "
    "a computed variable in a subgraph that doesn't require differentiation use "
    "var_no_grad = var.detach()."
)
GRAD_SIZE = (
    "attempting to assign a gradient of size '{grad}' to a tensor of size '{size}'. Please "
    "ensure that the gradient and the tensor are the same size"
)
RESHAPE_BASE_INPLACE = (
    "funcgrad.tape does not support unsqueeze_, squeeze_, t_ or transpose_ on a tensor that "
    "has views or detach() aliases: they are recomputed from its storage in its old shape. "
    "Use the out-of-place op (x = x.unsqueeze(0)), or change the shape before making views."
)
DETACH_VIEW_INPLACE = (
    "Can't detach views in-place. Use detach() instead. If you are using "
    "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
    "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
    "called on these gradients. To fix this error, please refer to the "
    "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution."
)
DEEPCOPY_NON_LEAF = (
    "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
    "protocol at the moment.  If you were attempting to deepcopy a module, this may "
    "be because of a torch.nn.utils.weight_norm usage, see "
    "https://github.com/pytorch/pytorch/pull/103001"
)
EXPAND_TOO_FEW_SIZES = (
    "expand({type_name}{{{shape}}}, size={sizes}): the number of sizes provided ({n}) must be "
    "greater or equal to the number of dimensions in the tensor ({ndim})"
)
EXPAND_SIZE = (
    "The expanded size of the tensor ({size}) must match the existing size ({existing}) at "
    "non-singleton dimension {dim}.  Target sizes: {sizes}.  Tensor sizes: {shape}"
)
PERMUTE_DIMS = (
    "permute(sparse_coo): number of dimensions in the tensor input does not match the "
    "length of the desired ordering of dimensions i.e. input.dim() = {ndim} is not equal to "
    "len(dims) = {n}"
)

# ---------------------------------------------------------------- custom Function
FUNCTION_GRAD_SHAPE = (
    "Function {name}Backward returned an invalid gradient at index {index} - got {got} but "
    "expected shape compatible with {expected}"
)

DIRTY_NOT_RETURNED = (
    "Some elements marked as dirty during the forward method were not returned as output. "
    "The inputs that are modified inplace must all be outputs of the Function."
)
DIRTY_LEAF = "a leaf Variable that requires grad has been used in an in-place operation."
DIRTY_VIEW = (
    "ctx.mark_dirty on a view is not supported by funcgrad.tape (PyTorch rewrites the "
    "base's history as CopySlices around the custom node); mark_dirty the base itself, or "
    "write the view with tape in-place ops outside the Function"
)
CLASS_DECORATION = (
    "Decorating classes is deprecated and will be disabled in future versions. You should "
    "only decorate functions or methods. To preserve the current behavior of class "
    "decoration, you can directly decorate the `__init__` method and nothing else."
)
CREATE_GRAPH_CYCLE = (
    "Using backward() with create_graph=True will create a reference cycle between the "
    "parameter and its gradient which can cause a memory leak. We recommend using "
    "autograd.grad when creating the graph to avoid this. If you have to use this function, "
    "make sure to reset the .grad fields of your parameters to None after use to break the "
    "cycle and avoid the leak."
)
POST_ACCUMULATE_HOOK_RETURN = "Tensor post accumulate grad hooks should return None."
# What a backward hook returns, checked as torch/csrc/autograd/python_hook.cpp does.
HOOK_RETURN_NOT_TUPLE = "expected tuple, but hook returned '{type}'"
HOOK_RETURN_COUNT = (
    "hook '{name}' has returned an incorrect number of values (got {got}, but expected {expected})"
)
HOOK_REPLACED_NONE = "can't replace a None gradient with a non-None value"
HOOK_RETURN_NOT_TENSOR = "expected Variable, but hook returned '{type}'"
HOOK_CHANGED_TYPE = "hook '{name}' has changed the type of value (was {was} got {got})"
HOOK_CHANGED_SIZE = "hook '{name}' has changed the size of value"
FUNCTION_GRAD_FOR_NON_TENSOR = (
    "function {name}Backward returned a gradient different than None at position "
    "{position}, but the corresponding forward input was not a Variable"
)
DETACHED_SAVED = (
    "Trying to use a saved tensor that has been detached in-place, i.e. with .detach_()."
    "This is not supported, please use out-of-place `.detach()` instead"
)
DATA_NOT_FLOAT = (
    "data set to a tensor that requires gradients must be floating point or complex dtype"
)
ONCE_DIFFERENTIABLE = (
    "trying to differentiate twice a function that was marked with @once_differentiable"
)

# ---------------------------------------------------------------- gradcheck
GRADCHECK_NOT_DOUBLE = (
    "Input #{index} requires gradient and is not a double precision floating point or "
    "complex. This check will likely fail if all the inputs are not of double precision "
    "floating point or complex. "
)
GRADCHECK_NO_INPUT = (
    "gradcheck expects at least one input tensor to require gradient, but none of them "
    "have requires_grad=True."
)
GRADCHECK_NOT_REENTRANT = (
    "Backward is not reentrant, i.e., running backward with same input and grad_output "
    "multiple times gives different values, although analytical gradient matches numerical "
    "gradient.The tolerance for nondeterminism was {tol}."
)
GRADCHECK_UNSUPPORTED = (
    "gradcheck({option}=True) is not supported by funcgrad.tape: it checks reverse-mode "
    "gradients element by element only; check forward mode and batching with "
    "torch.func.jvp / torch.func.vmap against the same function instead"
)

# ---------------------------------------------------------------- nn
CONV_GROUPS = (
    "Given groups={groups}, weight of size {weight}, expected input{input} to have "
    "{expected} channels, but got {channels} channels instead"
)
MSE_TARGET_SIZE = (
    "Using a target size ({target!r}) that is different to the input size ({input!r}). This "
    "will likely lead to incorrect results due to broadcasting. Please ensure they have the "
    "same size."
)
FULL_BACKWARD_HOOK_NO_INPUTS = (
    "Full backward hook is firing when gradients are computed with respect to module "
    "outputs since no inputs require gradients. See "
    "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
    "#torch.nn.Module.register_full_backward_hook for more details."
)

# ---------------------------------------------------------------- nn.functional_call (stateless.py)
FUNCTIONAL_CALL_MULTIPLE_DICTS = (
    "{keys} appeared in multiple dictionaries; behavior of functional call is ambiguous"
)
FUNCTIONAL_CALL_NOT_DICTS = (
    "Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got {type}"
)
FUNCTIONAL_CALL_NOT_ALL_DICTS = (
    "Expected all elements of parameter_and_buffer_dicts to be dictionaries"
)
FUNCTIONAL_CALL_TIED_VALUES = (
    "functional_call got multiple values for keys {keys}, which are tied. Consider using "
    "tie_weights=False"
)
FUNCTIONAL_CALL_NOT_A_TENSOR = "{value} is not an instance of torch.Tensor"
FUNCTIONAL_CALL_STRICT_KEYS = "Error(s) in reparametrizing for {module}:\n\t{errors}"

# ---------------------------------------------------------------- autograd.functional
# PyTorch's texts (torch/autograd/functional.py, 2.13); {api} is the function's name.
FUNCTIONAL_NOT_TENSORS = (
    "The {what} given to {api} must be either a Tensor or a tuple of Tensors but the {where} "
    "has type {type}."
)
FUNCTIONAL_V_LENGTH = "v is a tuple of invalid length: should be {expected} but got {got}."
FUNCTIONAL_V_SINGLE = "The given v should contain a single Tensor."
FUNCTIONAL_V_SIZE = "{prefix}v has invalid size: should be {expected} but got {got}."
FUNCTIONAL_V_NONE_OUTPUT = (
    "The vector v can only be None if the user-provided function returns a single Tensor "
    "with a single element."
)
FUNCTIONAL_V_NONE_INPUT = (
    "The vector v can only be None if the input to the user-provided function is a single "
    "Tensor with a single element."
)
FUNCTIONAL_SINGLE_TENSOR = "The function given to {api} should return a single Tensor"
FUNCTIONAL_SINGLE_ELEMENT = (
    "The Tensor returned by the function given to {api} should contain a single element"
)
FUNCTIONAL_STRATEGY = (
    'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
    'function has more outputs than inputs, "forward-mode" tends to be more performant. '
    'Otherwise, prefer to use "reverse-mode".'
)
FUNCTIONAL_HESSIAN_STRATEGY = 'Expected strategy to be either "forward-mode" or "reverse-mode".'
FUNCTIONAL_FORWARD_CREATE_GRAPH = (
    "torch.autograd.functional.jacobian: `create_graph=True` and "
    '`strategy="forward-mode"` are not supported together (yet). Please either set '
    '`create_graph=False` or `strategy="reverse-mode"`.'
)
FUNCTIONAL_FORWARD_STRICT = (
    'torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are '
    "not supported together (yet). Please either set `strict=False` or "
    '`strategy="reverse-mode"`.'
)
FUNCTIONAL_FORWARD_VECTORIZE = (  # sic: PyTorch's text has no space before "only"
    "Computing Jacobian using forward-AD or forward-over-reverse Hessian isonly implemented "
    "for `vectorize=True`."
)
FUNCTIONAL_STRICT_VECTORIZE = (
    "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
    "supported together. Please either set `strict=False` or `vectorize=False`."
)
STRICT_OUTPUT_NO_GRAD = (
    "Output {i} of the user-provided function does not require gradients. The outputs must "
    "be computed in a differentiable manner from the input when running in strict mode."
)
STRICT_INDEPENDENT_INPUT = (
    "The output of the user-provided function is independent of input {i}. This is not "
    "allowed in strict mode."
)
STRICT_OUTPUT_INDEPENDENT_INPUT = (
    "Output {i} of the user-provided function is independent of input {j}. This is not "
    "allowed in strict mode."
)
STRICT_GRAD_INPUT_INDEPENDENT = (
    "The gradient with respect to input {i} is independent of the inputs of the "
    "user-provided function. This is not allowed in strict mode."
)
STRICT_JACOBIAN_CONSTANT = (
    "While computing the hessian, found that the jacobian of the user-provided function "
    "with respect to input {i} is independent of the input. This is not allowed in strict "
    "mode. You should ensure that your function is twice differentiable and that the "
    "jacobian depends on the inputs (this would be violated by a linear function for "
    "example)."
)
STRICT_BACK_TRICK = (
    "The gradient with respect to the input is independent of entry {i} in the "
    "grad_outputs when using the double backward trick to compute forward mode gradients. "
    "This is not allowed in strict mode."
)
STRICT_JACOBIAN_INDEPENDENT = (
    "The jacobian of the user-provided function is independent of input {i}. This is not "
    "allowed in strict mode."
)
STRICT_HESSIAN_BACK_TRICK = (
    "The hessian of the user-provided function is independent of entry {i} in the "
    "grad_jacobian. This is not allowed in strict mode as it prevents from using the double "
    "backward trick to replace forward mode AD."
)
STRICT_JACOBIAN_CREATE_GRAPH = (
    "The jacobian of the user-provided function is independent of input {i}. This is not "
    "allowed in strict mode when create_graph=True."
)
STRICT_HESSIAN_CREATE_GRAPH = (
    "The hessian of the user-provided function is independent of input {i}. This is not "
    "allowed in strict mode when create_graph=True."
)

# ---------------------------------------------------------------- optimizers
UNUSED_GROUP_OPTION = (
    "param group option {key!r} has no effect: the optax transformation has no injected "
    "hyperparameter {name!r}.\n[funcgrad] Build the transformation with "
    "optax.inject_hyperparams, e.g. optax.inject_hyperparams(optax.sgd)(learning_rate=0.1), "
    "so that the group's value can be fed to it at every step."
)
STRUCTURAL_OPTION_CHANGED = (
    "param_groups[{group}]: {option} changed from {old!r} to {new!r} after the optimizer was "
    "built.\n[funcgrad] This option selects which optax transformations are chained, so the "
    "optimizer state has another structure; create a new optimizer (and load_state_dict "
    "from the old one where that makes sense)."
)
PARAMS_IN_A_SET = (
    "optimizer parameters need to be organized in ordered collections, but the ordering of "
    "tensors in sets will change between runs. Please use a list instead."
)
DUPLICATE_PARAMS = (
    "optimizer contains a parameter group with duplicate parameters; in future, this will "
    "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information"
)
DIFFERENTIABLE_OPTIMIZER = (
    "{name}(differentiable=True) is not supported: funcgrad's optimizer steps are not "
    "recorded on the tape. Differentiate through updates with optax in jax.grad."
)
LBFGS_NOT_COMPILABLE = (
    "LBFGS cannot run under funcgrad.tape.jit: its step is a Python loop that calls the "
    "closure and branches on loss values (tolerances, line search).\n[funcgrad] Run the LBFGS "
    "step eagerly, and compile the closure's forward/backward instead if it is costly."
)

# ---------------------------------------------------------------- lr_scheduler
EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated "
    "where possible. Please use `scheduler.step()` to step the scheduler. During the "
    "deprecation, if epoch is different from None, the closed form is used instead of the "
    "new chainable form, where available. Please open an issue if you are unable to "
    "replicate your use case: https://github.com/pytorch/pytorch/issues/new/choose."
)
STEP_OVERRIDDEN = (
    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
    "initialization. Please, make sure to call `optimizer.step()` before "
    "`lr_scheduler.step()`. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)
SCHEDULER_BEFORE_OPTIMIZER = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and "
    "later, you should call them in the opposite order: `optimizer.step()` before "
    "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first "
    "value of the learning rate schedule. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)
GET_LR_OUTSIDE_STEP = (
    "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."
)
NO_INITIAL_LR = (
    "param 'initial_lr' is not specified in param_groups[{i}] when resuming scheduler with "
    "last_epoch >= 0.\nThis typically happens when:\n1. You're trying to resume training "
    "from a checkpoint but haven't properly loaded the optimizer state\n2. You're using "
    "last_epoch >= 0 for a fresh training run (not recommended)"
)
COMBINED_PLATEAU = (
    "{cls} does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs to "
    "be specified when calling `step`, but got one at index {i} in the given schedulers "
    "sequence."
)
COMBINED_OTHER_OPTIMIZER = (
    "{cls} expects all schedulers to belong to the same optimizer, but got scheduler {name} "
    "at index {i} has {optimizer}, which is different from {expected}."
)
SEQUENTIAL_MILESTONES = (
    "Sequential Schedulers expects number of schedulers provided to be one more than the "
    "number of milestone points, but got number of schedulers {n} and the number of "
    "milestones to be equal to {m}"
)
PLATEAU_GROUPS = (
    "The number of param groups in the `optimizer` ({groups}) differs from when "
    "`ReduceLROnPlateau` was initialized ({min_lrs}), usually due to a new param group being "
    "added to the optimizer. Please modify the `min_lrs` field to match the length of the "
    "`optimizer` param groups."
)
SCHEDULER_IN_JIT = (
    "lr_scheduler.step() was called inside a funcgrad.tape.jit step.\n[funcgrad] The "
    "scheduler's state is Python numbers that would change only while the step is traced. "
    "Call scheduler.step() after the compiled step returns: the optimizer reads the new "
    "learning rate at its next step without recompiling."
)


# ---------------------------------------------------------------- funcgrad.tape.jit
TRACED_VALUE = (
    "funcgrad.tape.jit: {what} needs a concrete value, but inside a compiled step tensors "
    "are traced: the step runs once on abstract values (shape and dtype only) to build one "
    "XLA program, so no number exists yet.\n[funcgrad] Return the tensor from the step and "
    "call {what} on the result outside it; for a branch, keep it in tensors "
    "(torch.where(cond, a, b) instead of a Python `if`). The same holds inside jax.jit, "
    "jax.grad or jax.vmap."
)
BOOLEAN_MASK_INDEX = (
    "funcgrad.tape.jit: indexing with a boolean mask selects a data-dependent number of "
    "elements, but inside a compiled step every shape must be known while tracing.\n"
    "[funcgrad] Use torch.where(mask, x, 0) (or x * mask) to keep the shape fixed, or index "
    "outside the compiled step."
)
LEAKED_TENSOR = (
    "funcgrad.tape.jit: a tensor created inside the compiled step {step} ({desc}) is still "
    "referenced after it, by {where}, but it was neither returned nor stored in the step's "
    "state. Inside the step tensors hold traced values that do not exist outside it.\n"
    "[funcgrad] Return it from the step (it comes back as a concrete tensor), or keep it in "
    "an attribute of a module (state is written back after every call)."
)
UNDECLARED_STATE = (
    "funcgrad.tape.jit: the compiled step {step} {action} a tensor that is not part of its "
    "state ({desc}). The change would happen once, while tracing, and be lost on later "
    "calls.\n[funcgrad] The state is found in modules=, optimizers= and tensors=, in the "
    "step's closure, in the globals its code names and in its arguments. Pass this tensor "
    "with funcgrad.tape.jit(step, tensors=[...]), or its module with modules=[...]."
)
GRAPH_IN_STATE = (
    "funcgrad.tape.jit: after the compiled step {step}, {where} holds a tensor with a graph "
    "(grad_fn=<{node}>); that graph is made of traced values and cannot leave the step.\n"
    "[funcgrad] Store a detached value (x.detach(), or assign it under torch.no_grad()); "
    "for truncated backpropagation through time carry h.detach() between steps, as in "
    "PyTorch."
)
GRAPH_ARGUMENT = (
    "funcgrad.tape.jit: {where} of the compiled step {step} is a tensor with a grad_fn "
    "(<{node}>): its eager graph cannot enter the compiled program, so no gradient could "
    "flow back through it.\n[funcgrad] Pass it detached (x.detach()), or compute it inside "
    "the step."
)
RETRACE = (
    "funcgrad.tape.jit: retracing {step} (compilation {n}): {reason}. Each new structure, "
    "shape or dtype of the state and arguments compiles a new program; keep them fixed "
    "between calls to reuse one (e.g. pad the last batch to the full batch size)."
)


# ---------------------------------------------------------------- random generators
SEED_TYPE = "manual_seed expected a long, but got {type}"
SEED_OVERFLOW = "Overflow when unpacking long long"
RNG_STATE_NOT_BYTES = "RNG state must be a torch.ByteTensor"
RNG_STATE_SIZE = (
    "Expected a CPUGeneratorImplState of size 5056 but found the input RNG state size to be {n}"
)
RNG_STATE_INVALID = "Invalid mt19937 state"
GENERATOR_DEVICE = (
    "torch.Generator(device={device!r}): funcgrad.tape has CPU generators only; their stream "
    "(PyTorch's CPU mt19937) serves every JAX device. Use torch.Generator() (or device='cpu')."
)
RANDOM_FROM_TO = "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
RANDINT_ARGS = (
    "randint() received an invalid combination of arguments - got ({got}), but expected one "
    "of:\n * (int high, tuple of ints size, ...)\n * (int low, int high, tuple of ints size, ...)"
)
TRUNC_NORMAL_MEAN = (
    "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
    "The distribution of values may be incorrect."
)


# ---------------------------------------------------------------- torch.utils.data
NOT_IMPLEMENTED_GETITEM = "Subclasses of Dataset should implement __getitem__."
SIZE_MISMATCH = "Size mismatch between tensors"
EMPTY_CONCAT = "datasets should not be an empty iterable"
CONCAT_ITERABLE = "ConcatDataset does not support IterableDataset"
INDEX_TOO_NEGATIVE = "absolute value of index should not exceed dataset length"
SPLIT_SUM = "Sum of input lengths does not equal the length of the input dataset!"
COLLATE_TYPE = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)
UNEQUAL_SIZES = "each element in list of batch should be of equal size"
FROZEN_ATTRIBUTE = "{attr} attribute should not be set after {cls} is initialized"
MUTUALLY_EXCLUSIVE = (
    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
)


# ---------------------------------------------------------------- torch.save / torch.load
EXPLICIT_PICKLE_MODULE = "Can not safely load weights when explicit pickle_module is specified"

# Lazy segments (funcgrad.tape.lazy): funcgrad's own texts, PyTorch has no lazy mode.
LAZY_ENV = (
    "[funcgrad] FUNCGRAD_LAZY must be 0 or 1, got {value!r}: it turns the tape's lazy "
    "segments off (0) or on (1, the default)."
)
LAZY_RECOMPILES = (
    "[funcgrad] lazy segments: {n} segment programs compiled in a row without a cache hit; "
    "the graph's structure (ops, shapes, dtypes) seems to change every step, so each "
    "backward pays a compile. Keep shapes fixed (pad batches), or turn lazy segments off "
    "with funcgrad.tape.set_lazy(False)."
)
LAZY_NOT_RUN = (
    "[funcgrad] lazy segments: a pending node was not run with its segment; this is a bug "
    "in funcgrad.tape.lazy, please report it (set_lazy(False) works around it)."
)
LAZY_CACHE_SIZE = "[funcgrad] the lazy segment cache size must be at least 1, got {size}"


# ---------------------------------------------------------------- filling in the texts
def traced_value_error(what: str) -> RuntimeError:
    """The error for `.item()`, `float()`, `bool()`, ... on a tensor traced by jit."""
    return RuntimeError(TRACED_VALUE.format(what=what))


def version_mismatch(info, now, saved, anomaly=False) -> str:
    """PyTorch's "modified by an inplace operation" text for a saved tensor (its hint
    differs while anomaly detection is on)."""
    dtype, shape, grad_fn, output_nr, ref = info
    tensor = ref() if ref is not None else None
    if tensor is not None:  # a saved input: PyTorch names its grad_fn as it is now
        node = tensor.grad_fn  # a stale view's, as PyTorch rebuilds it: AsStridedBackward0
        grad_fn = node._name if node is not None else None
        output_nr = tensor._output_nr
    origin = f", which is output {output_nr} of {node_word(grad_fn)}," if grad_fn else ""
    return VERSION_MISMATCH.format(
        tensor_type=torch_type_name(dtype),
        shape=short_shape(shape),
        origin=origin,
        now=now,
        saved=saved,
        hint=VERSION_MISMATCH_ANOMALY_HINT if anomaly else VERSION_MISMATCH_HINT,
    )


def view_rebase(no_grad: bool, nr: int, node, indirect: bool) -> str:
    """PyTorch's text for writing a restricted view in place (or, `indirect`, reading one
    whose base was written): a view made under no_grad (`no_grad`) or by a multi-output
    op; `node` is the view's grad_fn name (None under no_grad)."""
    modified = VIEW_REBASE_INDIRECT if indirect else "is being"
    op = node_word(node).split("::")[-1] if node else None
    if no_grad or node is None:
        prefix = VIEW_OF_VIEW.format(nr=nr, op=op) if node else "A view was created in"
        message = f"{prefix} no_grad mode and {modified} modified inplace with grad mode enabled."
        return message + NO_GRAD_VIEW_TAIL
    return MULTI_OUTPUT_VIEW_INPLACE.format(nr=nr, op=op, modified=modified) + (
        MULTI_OUTPUT_VIEW_TAIL
    )


def broadcast_mismatch(shapes) -> str | None:
    """PyTorch's text for input shapes that do not broadcast, None if they do. As PyTorch,
    sizes are compared from the last dim; 'tensor a' is the broadcast of the earlier inputs."""
    acc = tuple(shapes[0])
    for shape in shapes[1:]:
        shape, n = tuple(shape), max(len(acc), len(shape))
        a_full, b_full = (1,) * (n - len(acc)) + acc, (1,) * (n - len(shape)) + shape
        for dim in range(n - 1, -1, -1):
            a, b = a_full[dim], b_full[dim]
            if a != b and a != 1 and b != 1:
                return BROADCAST_MISMATCH.format(a=a, b=b, dim=dim)
        acc = tuple(b if a == 1 else a for a, b in zip(a_full, b_full))
    return None


def node_word(grad_fn: str) -> str:
    """How PyTorch names a node in that text: 'AddBackward0' -> 'Add', 'SumBackward1' ->
    'Sum1', 'SqBackward' -> 'Sq'; its C++ nodes by their qualified name."""
    if grad_fn in ("CopySlices", "CopyBackwards"):
        return f"torch::autograd::{grad_fn}"
    return grad_fn.replace("Backward0", "").replace("Backward", "")


TYPE_NAMES = {
    "float32": "torch.FloatTensor",
    "float64": "torch.DoubleTensor",
    "float16": "torch.HalfTensor",
    "bfloat16": "torch.BFloat16Tensor",
    "int64": "torch.LongTensor",
    "int32": "torch.IntTensor",
    "int16": "torch.ShortTensor",
    "int8": "torch.CharTensor",
    "uint8": "torch.ByteTensor",
    "bool": "torch.BoolTensor",
    "complex64": "torch.ComplexFloatTensor",  # named (x.type(...)), then refused
    "complex128": "torch.ComplexDoubleTensor",
}


def torch_type_name(dtype) -> str:
    """PyTorch's legacy type name for a dtype, e.g. float32 -> 'torch.FloatTensor'."""
    return TYPE_NAMES.get(np.dtype(dtype).name, f"torch.{np.dtype(dtype).name}")


def torch_size(shape) -> str:
    """PyTorch's repr of a shape, e.g. (2, 3) -> 'torch.Size([2, 3])'."""
    return f"torch.Size([{', '.join(str(int(s)) for s in shape)}])"


def short_shape(shape) -> str:
    """The bracketed shape PyTorch prints in version errors, e.g. (4,) -> '[4]'."""
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def torch_scalar_type(dtype) -> str:
    """PyTorch's scalar type name, e.g. float32 -> 'Float', int64 -> 'Long'."""
    return torch_type_name(dtype)[len("torch.") : -len("Tensor")]


_TYPEMETA_NAMES = {
    "float32": "float",
    "float64": "double",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
}


def torch_typemeta_name(dtype) -> str:
    """The C++ type name some PyTorch messages print, e.g. float32 -> 'float'."""
    return _TYPEMETA_NAMES.get(np.dtype(dtype).name, np.dtype(dtype).name)


# ---------------------------------------------------------------- ops, layers and losses of the
# wider PyTorch surface (methods/math_more.py, methods/arrange.py, nn/recurrent.py,
# nn/functional_*.py)
DATA_DEPENDENT_SHAPE = (
    "{op}() inside funcgrad.tape.jit: the size of its result depends on the values of its "
    "input, which are not known while the step is traced."
    "\n[funcgrad] Call it outside the compiled step, or give the result a fixed size (e.g. "
    "torch.where with a mask instead of masked_select)."
)
UNSUPPORTED = (
    "{what} is not supported by funcgrad.tape."
    "\n[funcgrad] See the README's list of what is supported; open an issue if you need it."
)
CROSS_DIM_WARNING = (
    "Using torch.cross without specifying the dim arg is deprecated.\n"
    "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
    "The default value of dim will change to agree with that of linalg.cross in a future "
    "release."
)
MESHGRID_WARNING = (
    "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument."
)
PAD_SIZE = (
    "Padding size {size} is not supported for {ndim}D input tensor.\n"
    "Supported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)
DROPOUT1D_DIMS = (
    "dropout1d: Expected 2D or 3D input, but received a {ndim}D input. Note that dropout1d "
    "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
    "dimension, and an optional batch dimension (i.e. 2D or 3D inputs)."
)
DROPOUT2D_DIMS_WARNING = (
    "dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will result "
    "in an error in a future release. To retain the behavior and silence this warning, please "
    "use dropout instead. Note that dropout2d exists to provide channel-wise dropout on "
    "inputs with 2 spatial dimensions, a channel dimension, and an optional batch dimension "
    "(i.e. 3D or 4D inputs)."
)
DROPOUT2D_3D_WARNING = (
    "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
    "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
    "dim. This behavior will change in a future release to interpret the input as one "
    "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
    "dropout behavior, please switch to using dropout1d instead."
)
KL_DIV_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)
BCE_INPUT_RANGE = "all elements of input should be between 0 and 1"
BCE_TARGET_SIZE = (
    "Using a target size ({target}) that is different to the input size ({input}) is "
    "deprecated. Please ensure they have the same size."
)
CHAIN_MATMUL_WARNING = (
    "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
    "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
    "multiple parameters."
)
EMBEDDING_SPARSE = (
    "embedding(sparse=True) is not supported by funcgrad: its gradients are dense"
    "\n[funcgrad] Drop sparse=True (the optimizers update dense gradients)."
)
CLIP_GRAD_NONFINITE = (
    "The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
    "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
    "anyway, set `error_if_nonfinite=False`"
)

# torch.utils.checkpoint (funcgrad/tape/utils/checkpoint.py)
_CHECKPOINT_ADVICE = (
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants."
)
CHECKPOINT_USE_REENTRANT = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
    "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
    "exception. " + _CHECKPOINT_ADVICE
)
CHECKPOINT_SEQUENTIAL_USE_REENTRANT = (
    "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
    "passed explicitly. In version 2.9 we will raise an exception if use_reentrant is not "
    "passed. " + _CHECKPOINT_ADVICE
)
CHECKPOINT_NO_INPUT_GRAD = "None of the inputs have requires_grad=True. Gradients will be None"
CHECKPOINT_REENTRANT_GRAD = (
    "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or passing "
    "an `inputs` parameter to .backward(). To resolve this error, you can either set "
    "use_reentrant=False, or call .backward() without passing the `inputs` argument."
)
_CHECKPOINT_RERUN_HINT = (
    "\n[funcgrad] The checkpointed function must run the same ops when backward reruns it "
    "(funcgrad has no checkpoint debug mode)."
)
CHECKPOINT_MORE_SAVED = (
    "torch.utils.checkpoint: trying to save more tensors during recomputation than during "
    "the original forward pass." + _CHECKPOINT_RERUN_HINT
)
CHECKPOINT_COUNT_MISMATCH = (
    "torch.utils.checkpoint: A different number of tensors was saved during the original "
    "forward and recomputation.\nNumber of tensors saved during forward: {forward}\n"
    "Number of tensors saved during recomputation: {rerun}." + _CHECKPOINT_RERUN_HINT
)
CHECKPOINT_OPTION = (
    "torch.utils.checkpoint.checkpoint({option}=...) is not supported by funcgrad"
    "\n[funcgrad] Checkpoint without it (funcgrad has no checkpoint debug mode or "
    "recomputation contexts)."
)
