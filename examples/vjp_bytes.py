"""What a kept `vjp_fn` retains, in bytes, for the examples' torch.func forms.

The two forms of a torch.func example differ only in their imports, and this is one of
them: `torch_func.py` imports `torch_vjp_bytes`, `tape_func.py` imports `tape_vjp_bytes`.

- PyTorch: `torch.func.vjp` refuses saved-tensor hooks ("don't yet support saved tensor
  hooks"), so they cannot count what it saves, as the `torch_ref.py` forms do. Its
  `vjp_fn` is a closure over the outputs of the forward it recorded; this walks the
  autograd graph behind those outputs and adds up the tensors its nodes saved
  (`_saved_*` attributes), each once.
- The tape: the `vjp_fn` holds a JAX pullback, whose leaves are its residuals:
  `funcgrad.functional.residual_bytes`.

`torch_vjp_count` and `tape_vjp_count` return the same count with how it was made, as
`funcgrad compare` reads it from a workload's `graph_bytes`.

The two counts need not be equal: the nodes PyTorch records and the residuals JAX keeps
differ (the examples' READMEs and tests compare each side with its own reference).
"""

from __future__ import annotations

from funcgrad.functional import residual_bytes


def tape_vjp_bytes(vjp_fn) -> int:
    """Bytes of the residuals a funcgrad.tape.func `vjp_fn` keeps alive."""
    return residual_bytes(vjp_fn)


def tape_vjp_count(vjp_fn) -> tuple[int, str]:
    """(bytes, how) for `funcgrad compare`: `tape_vjp_bytes` of a kept `vjp_fn`."""
    return tape_vjp_bytes(vjp_fn), "the kept vjp_fn's pullback residuals (residual_bytes)"


def torch_vjp_count(vjp_fn) -> tuple[int, str]:
    """(bytes, how) for `funcgrad compare`: `torch_vjp_bytes` of a kept `vjp_fn`."""
    how = "the tensors saved by the graph the kept vjp_fn holds (its nodes' _saved_*)"
    return torch_vjp_bytes(vjp_fn), how


def torch_vjp_bytes(vjp_fn) -> int:
    """Bytes of the tensors saved by the autograd graph a torch.func `vjp_fn` keeps."""
    import torch

    roots, seen = [], set()
    _tensors_in_closure(vjp_fn, roots, seen, torch.Tensor)
    nodes, saved, stack = set(), {}, [t.grad_fn for t in roots if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or node in nodes:
            continue
        nodes.add(node)
        for name in dir(node):
            value = getattr(node, name, None) if name.startswith("_saved_") else None
            if isinstance(value, torch.Tensor):
                saved[id(value)] = value.numel() * value.element_size()
        stack.extend(child for child, _ in node.next_functions)
    return sum(saved.values())


def _tensors_in_closure(obj, out: list, seen: set, tensor_type) -> None:
    """The tensors reachable from a function's closure cells (through nested functions,
    lists, tuples and dicts)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, tensor_type):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _tensors_in_closure(item, out, seen, tensor_type)
    elif isinstance(obj, dict):
        for item in obj.values():
            _tensors_in_closure(item, out, seen, tensor_type)
    elif callable(obj):
        for cell in getattr(obj, "__closure__", None) or ():
            _tensors_in_closure(cell.cell_contents, out, seen, tensor_type)
