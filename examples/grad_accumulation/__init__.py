"""grad_accumulation: micro-batch gradients summed before one optimiser step, three ways."""

# How closely the forms' first-step gradients agree (`numpy.allclose`; `atol_of_max`:
# that fraction of the largest reference magnitude is added to atol): funcgrad compare.
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
