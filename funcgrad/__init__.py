"""funcgrad: PyTorch's eager autograd tape and JAX's functional pullbacks, side by side."""

__all__ = []

__version__ = "0.1.0"
