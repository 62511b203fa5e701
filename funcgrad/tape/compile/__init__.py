"""`jit()`: a stateful PyTorch-style step (forward, `backward()`, `optimizer.step()`)
compiled into one `jax.jit` program.

A step reads and writes state that lives outside the call: parameters, their `.grad`s,
optimizer state, module buffers, the random generator's state. `jit` lifts that state into
a flat list of arrays, traces the step once with every state tensor's array swapped for a tracer
(the tape runs as usual on tracers: each op's small `jax.jit` inlines into the outer trace,
the engine's pullbacks run on tracers), and records what the step changed: which tensors got
new values, which `.grad`s appeared or were replaced, which attributes of modules and
optimizers were reassigned. After each call of the compiled program those changes are
written back into the live objects (version counters bumped as the eager step would), so
the Python objects look exactly as they would after running the step eagerly.

The approach is Flax NNX's `split` / `merge` / `update` (and Objax's `Jit`): state found by
walking objects, a pure function of arrays, and the result merged back. What is state:

- objects given as `modules=`, `optimizers=`, `tensors=`;
- tensors, modules and optimizers reachable from the step's closure cells and the globals
  its code names (also through the user functions it calls), and from its arguments;
- the tape's random generator (`funcgrad.tape.random.default_generator`): its mt19937
  words, read position and cached normal value, through the same `_state_arrays()`
  protocol as optimizers, so draws inside the step continue the eager stream.

Modules are walked through their attributes (parameters, buffers, submodules, `training`);
optimizers through `_state_arrays()` / `_load_state_arrays()` (their optax state and
hyperparameters, as arrays: a new learning rate does not retrace). Python values found in
the state (`training`, a static option) and in the arguments are part of the program's
signature: when one changes, or a shape, a dtype, or the structure (a `.grad` that was None
now is a tensor), the step is traced again and a `RetraceWarning` says which leaf changed.

What this module does not do: run Python side effects of the step more than once (they
happen while tracing), keep the autograd graph of returned tensors (they come back
detached), read values of tensors it was not shown (a tensor neither found nor declared
is a constant of the program; one that the step modifies raises), donate the old state's
buffers to the program (arrays held elsewhere stay valid), or trace steps in two threads
at once.
"""

from .diagnostics import RetraceWarning as RetraceWarning
from .step import CompiledStep as CompiledStep, jit as jit

__all__ = ["CompiledStep", "RetraceWarning", "jit"]
