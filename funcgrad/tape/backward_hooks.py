"""Module full backward hooks (`register_full_backward_hook`), built on custom `Function`.

PyTorch's way, followed here: the module's tensor inputs and outputs pass through an
identity `Function` (`BackwardHookFunction`), whose nodes are where the gradients w.r.t.
the outputs and then the inputs become known; `BackwardHook` calls the module's hooks with
both. It reads the module's `_backward_hooks` and `_backward_pre_hooks` registries (dicts)
and knows nothing else of `nn.Module`.
"""

from __future__ import annotations

import warnings

from . import errors
from .function import Function
from .grad_mode import is_grad_enabled
from .tensor import Tensor

__all__ = ["BackwardHook", "BackwardHookFunction"]


class BackwardHookFunction(Function):
    """Identity on the module's tensors; its node is where module backward hooks run
    (PyTorch's `BackwardHookFunctionBackward`)."""

    @staticmethod
    def forward(ctx, *tensors):
        outs = tuple(Tensor._wrap(t._data) for t in tensors)
        ctx.mark_non_differentiable(*[o for o, t in zip(outs, tensors) if not t.requires_grad])
        return outs

    @staticmethod
    def backward(ctx, *grads):
        return grads


class BackwardHook:
    """Links the gradients w.r.t. a module's outputs with those w.r.t. its inputs, and calls
    the user hooks when both are known (PyTorch's `torch.utils.hooks.BackwardHook`)."""

    def __init__(self, module):
        self.module = module
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = -1
        self.input_index = self.output_index = None

    def _wrap(self, args, on_node):
        index = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in index]
        if not (any(t.requires_grad for t in tensors) and is_grad_enabled()):
            return args, None
        new = BackwardHookFunction.apply(*tensors)
        node = next(t.grad_fn for t in new if t.grad_fn is not None)
        node.register_prehook(on_node)
        out = list(args)
        for i, t in zip(index, new):
            out[i] = t
        return tuple(out), index

    def _pack(self, index, values, size):
        out = [None] * size
        for i, v in zip(index, values):
            out[i] = None if v is None else (v if isinstance(v, Tensor) else Tensor._wrap(v))
        return tuple(out)

    @staticmethod
    def _unpack(index, values, like):
        out = []
        for i, old in zip(index, like):
            v = values[i]
            out.append(v._data if isinstance(v, Tensor) and not isinstance(old, Tensor) else v)
        return tuple(out)

    def setup_input_hook(self, args):
        def on_inputs(grads):
            if self.grad_outputs is None:  # the gradient did not come through the outputs
                return None
            res = self._pack(self.input_index, grads, self.n_inputs)
            for hook in list(self.module._backward_hooks.values()):
                out = hook(self.module, res, self.grad_outputs)
                if out is None:
                    continue
                if len(out) != len(res):
                    raise RuntimeError(
                        "Backward hook returned an invalid number of grad_input, "
                        f"got {len(out)}, but expected {len(res)}"
                    )
                res = out
            self.grad_outputs = None
            return self._unpack(self.input_index, res, grads)

        args, self.input_index = self._wrap(args, on_inputs)
        self.n_inputs = len(args)
        return args

    def setup_output_hook(self, output):
        is_tuple = isinstance(output, tuple)
        outputs = output if is_tuple else (output,)

        def on_outputs(grads):
            self.grad_outputs = self._pack(self.output_index, grads, self.n_outputs)
            for hook in list(self.module._backward_pre_hooks.values()):
                new = hook(self.module, self.grad_outputs)
                if new is None:
                    continue
                if len(new) != len(self.grad_outputs):
                    raise RuntimeError(
                        "Backward pre hook returned an invalid number of grad_output, "
                        f"got {len(new)}, but expected {len(self.grad_outputs)}"
                    )
                self.grad_outputs = tuple(new)
            local = self.grad_outputs
            if self.input_index is None:
                warnings.warn(errors.FULL_BACKWARD_HOOK_NO_INPUTS, stacklevel=2)
                grad_inputs = (None,) * self.n_inputs
                for hook in list(self.module._backward_hooks.values()):
                    res = hook(self.module, grad_inputs, self.grad_outputs)
                    if res is not None and not all(r is None for r in res):
                        raise RuntimeError(
                            "Backward hook for Modules where no input requires gradient "
                            "should always return None or None for all gradients."
                        )
                self.grad_outputs = None
            return self._unpack(self.output_index, local, grads)

        outputs, self.output_index = self._wrap(outputs, on_outputs)
        self.n_outputs = len(outputs)
        return outputs if is_tuple else outputs[0]
