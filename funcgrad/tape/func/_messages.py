"""The error texts of `funcgrad.tape.func`: PyTorch's own words (torch 2.13), then a
`[funcgrad]` hint where one helps. Every text here is listed in docs/errors.md."""

# ---------------------------------------------------------------- inside a transform
BACKWARD_INSIDE = (
    "backward() called inside a functorch transform. This is not supported, please use "
    "functorch.grad or functorch.vjp instead or call backward() outside of functorch "
    "transforms."
)
BACKWARD_INSIDE_HINT = (
    "\n[funcgrad] Inside funcgrad.tape.func transforms JAX differentiates the function "
    "(jax.grad, jax.vjp) and no tape graph is recorded, so there is nothing to backward "
    "through: return the loss and take its gradient with torch.func.grad or torch.func.vjp."
)
SAVED_TENSORS_HOOKS = (
    "torch.func.{grad, vjp, jacrev, hessian} don't yet support saved tensor hooks. Please "
    "open an issue with your use case."
)
SAVED_TENSORS_HOOKS_HINT = (
    "\n[funcgrad] What a torch.func.vjp keeps is its vjp_fn's residuals: read "
    "vjp_fn.residual_bytes (or funcgrad.functional.residual_bytes(vjp_fn)) instead."
)
VJP_FN_FREED_HINT = (
    "\n[funcgrad] This vjp_fn was called with retain_graph=False, which dropped its pullback "
    "(the residuals). Call it with the default retain_graph=True to use it again."
)
AUTOGRAD_GRAD_INSIDE = (
    "funcgrad.tape.func: torch.autograd.grad was called inside a torch.func transform. "
    "PyTorch allows it; funcgrad does not, because no tape graph is recorded inside a "
    "transform (JAX differentiates the whole function).\n[funcgrad] Take the inner gradient "
    "with torch.func.grad or torch.func.vjp instead."
)
FUNCTION_SETUP_CONTEXT = (
    "In order to use an autograd.Function with functorch transforms (vmap, grad, jvp, "
    "jacrev, ...), it must override the setup_context staticmethod. For more details, please "
    "see https://pytorch.org/docs/main/notes/extending.func.html"
)
CUSTOM_FUNCTION_INSIDE = (
    "funcgrad.tape.func: the custom autograd.Function {name} was called inside a torch.func "
    "transform. PyTorch would use its backward (and its vmap rule); funcgrad runs transforms "
    "in JAX, which would differentiate its forward instead, so it refuses.\n[funcgrad] "
    "Write the function with tape ops (JAX then differentiates it), or call it outside the "
    "transform."
)
VMAP_ITEM = (
    "vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over "
    "calling .item() on a Tensor, please try to rewrite what you're doing with other "
    "operations. If error is occurring somewhere inside PyTorch internals, please file a bug "
    "report."
)
VMAP_CONTROL_FLOW = (
    "vmap: It looks like you're attempting to use a Tensor in some data-dependent control "
    "flow. We don't support that yet, please file an issue at "
    "https://github.com/pytorch/pytorch/issues ."
)
VMAP_DATA_POINTER = "Cannot access data pointer of Tensor that doesn't have storage"
VMAP_VALUE_HINT = (
    "\n[funcgrad] Inside vmap a tensor holds one value per batch element (a jax.vmap "
    "tracer), so there is no single number to read. Keep the computation in tensor ops: "
    "torch.where(cond, a, b) instead of a Python `if`."
)
CAPTURED_INPLACE = (
    "During a grad (vjp, jvp, grad, etc) transform, the function provided attempted to call "
    "in-place operation ({op}) that would mutate a captured Tensor. This is not supported; "
    "please rewrite the function being transformed to explicitly accept the mutated "
    "Tensor(s) as inputs."
)
VMAP_INPLACE = (
    "vmap: {op}(self, *extra_args) is not possible because there exists a Tensor `other` in "
    "extra_args that has more elements than `self`. This happened due to `other` being "
    "vmapped over but `self` not being vmapped over in a vmap. Please try to use out-of-place "
    "operators instead of {op}. If said operator is being called inside the PyTorch "
    "framework, please file a bug report instead."
)
VMAP_BATCH_NORM = (
    "Batch norm got a batched tensor as input while the running_mean or running_var, which "
    "will be updated in place, were not batched.\nIf you are using a module and do not need "
    "eval mode, please set `track_running_stats` to be False.If you are using a prebuilt "
    "module and do not need eval mode, please see the functorch website for resources on "
    "how to patch your module to work with vmap"
)
INPLACE_HINT = (
    "\n[funcgrad] A tensor made outside the transform (or, in vmap, one without the batch "
    "dimension) cannot hold a value that depends on the transform's inputs: write the "
    "result to a new tensor (out-of-place ops) and return it."
)
RANDOM_IN_VMAP = (
    "vmap: called random operation while in randomness error mode. Please either use the "
    "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
    "of vmap"
)
RANDOMNESS_VALUE = (
    "Only allowed values for randomness are 'error', 'different', or 'same'. Got {value}"
)
JACFWD_DIFFERENT = (
    "funcgrad.tape.func.jacfwd: randomness='different' is not supported: jax.jacfwd "
    "evaluates the function once, for all basis vectors together, so every column sees the "
    "same random draws.\n[funcgrad] Use randomness='same', or draw the random values "
    "outside and pass them in."
)

# ---------------------------------------------------------------- arguments of grad, vjp, jvp
ARGNUM_RANGE = "Got argnum={argnum}, but only {n} positional inputs"
ARGNUMS_TYPE = "argnums must be int or Tuple[int, ...], got: {type}"
ARGNUM_TYPE = "argnum must be int, got: {type}"
ARGNUMS_EMPTY = "argnums must be non-empty"
ARGNUMS_UNIQUE = "argnums elements must be unique, got {argnums}"
NOT_A_TENSOR = "Thing passed to transform API must be Tensor, got {type}"
FLOAT_PRIMAL = "Expected primal to be floating point or complex, but got: {dtype}"
GRAD_API = "grad_and_value(f)(*args)"
VJP_API = "vjp(f, *primals)"
JVP_API = "jvp(f, primals, tangents)"
HAS_AUX = "{api}: output of function f should be a tuple: (output, aux) if has_aux is True"
AUX_NOT_TENSOR = "Expected tensors, got unsupported type {type}"
GRAD_NOT_TENSOR = "grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type}"
GRAD_NOT_SCALAR = (
    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with "
    "{ndim} dims. Maybe you wanted to use the vjp or jacrev APIs instead?"
)
OUTPUT_NOT_TENSOR = (
    "{api}: expected f(*primals) to return only tensors, got unsupported type {type}"
)
COTANGENT_STRUCTURE = (
    "Expected pytree structure of cotangents to be the same as pytree structure of outputs "
    "to the function. cotangents: {given}, primal output: {expected}"
)
COTANGENT_TYPE = "gradients can be either Tensors or None, but got {type}"
JVP_PRIMALS_TUPLE = (
    "jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it should be valid to "
    "call f(*primals)."
)
JVP_NO_PRIMALS = "jvp(f, primals, tangents): Expected primals to contain at least one Tensor."
JVP_STRUCTURE = (
    "jvp(f, primals, tangents): Expected primals and tangents to have the same python "
    "structure. For example, if primals is a tuple of 3 tensors, tangents also must be. Got "
    "primals with structure {primals} and tangents with structure {tangents}"
)
JVP_ONLY_TENSORS = "jvp(f, primals, tangents): Expected {what} to only contain Tensors, got {type}"
TANGENT_SIZE = (
    "Trying to set a forward gradient that has a different size than that of the original "
    "Tensor, this is not supported. Tensor is of size {primal} while the given forward "
    "gradient is of size {tangent}."
)
LINEARIZE_TANGENTS = (
    "Expected the tangents {tangents} to have the same argspec as the primals {primals}"
)
LINEARIZE_TANGENT_SHAPE = (
    "tangent:{i} with shape {tangent} in flattened pytree doesn't match the shape {primal} "
    "of the corresponding primal."
)
JACREV_CHUNK = "jacrev: `chunk_size` should be greater than 0."

# ---------------------------------------------------------------- vmap's arguments
VMAP_CHUNK = "vmap: chunk_size should be None or greater than 0. (got {chunk_size})"
VMAP_NO_INPUTS = (
    "vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying "
    "to vmap over a function with no inputs. The latter is unsupported."
)
VMAP_IN_DIMS_TYPE = (
    "vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
    "(potentially nested) tuple matching the structure of inputs, got: {type}."
)
VMAP_IN_DIMS_STRUCTURE = (
    "vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
    "structure of `inputs`. in_dims has structure {dims_spec} but inputs has structure "
    "{inputs_spec}."
)
VMAP_IN_DIM_VALUE = (
    "vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for an input but "
    "in_dim must be either an integer dimension or None."
)
VMAP_IN_DIM_NOT_TENSOR = (
    "vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for an input but the "
    "input is of type {type}. We cannot vmap over non-Tensor arguments, please use None as "
    "the respective in_dim"
)
VMAP_IN_DIM_RANGE = (
    "vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for some input, but "
    "that input is a Tensor of dimensionality {ndim} so expected in_dim to satisfy "
    "-{ndim} <= in_dim < {ndim}."
)
VMAP_NOTHING_BATCHED = "vmap: Expected at least one Tensor to vmap over"
VMAP_SIZES = (
    "vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
    "{sizes} for the mapped dimension"
)
VMAP_OUT_DIMS_TYPE = (
    "vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a python "
    "collection of ints representing where in the outputs the vmapped dimension should "
    "appear."
)
VMAP_OUT_DIMS_STRUCTURE = (
    "vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with the "
    "structure of `outputs`. out_dims has structure {dims_spec} but outputs has structure "
    "{outputs_spec}."
)
VMAP_OUTPUT_NOT_TENSOR = (
    "vmap({name}, ...): `{name}` must only return Tensors, got type {type}. Did you mean to "
    "set out_dims= to None for output?"
)
VMAP_BATCHED_OUT_NONE = (
    "vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None"
)
DIM_RANGE = "Dimension out of range (expected to be in range of [{low}, {high}], but got {dim})"

# ---------------------------------------------------------------- results on the tape
TAPE_LINK = (
    "funcgrad.tape.func: backward reached the result of torch.func.{api} (or of the function "
    "it returned), whose inputs require grad. funcgrad does not connect these results to the "
    "tape's graph, so no gradient can flow from them to those inputs.\n[funcgrad] Take the "
    "gradient with torch.func.grad or jacrev (their results are connected), or pass "
    "detached inputs."
)
TAPE_LINK_CREATE_GRAPH = (
    "funcgrad.tape.func: create_graph=True through the result of a torch.func transform is "
    "not supported: its backward is one JAX pullback, not recorded on the tape.\n[funcgrad] "
    "Nest the transforms instead, e.g. torch.func.grad(torch.func.grad(f))."
)

# ---------------------------------------------------------------- stack_module_state
STACK_NO_MODELS = "stack_module_state: Expected at least one model, got 0."
STACK_CLASSES = "stack_module_state: Expected all models to be of the same class."
STACK_MODES = "stack_module_state: Expected all models to have the same training/eval mode."
STACK_REQUIRES_GRAD = "Expected {name} from each model to have the same .requires_grad"
