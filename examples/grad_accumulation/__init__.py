"""grad_accumulation: micro-batch gradients summed before one optimiser step, three ways."""
