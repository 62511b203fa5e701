"""style_transfer: neural style transfer, content and style losses optimised with L-BFGS."""

# How closely the forms' first-step gradients agree (`numpy.allclose`; `atol_of_max`:
# that fraction of the largest reference magnitude is added to atol): funcgrad compare.
TOLERANCE = {"rtol": 1e-4, "atol": 0.0, "atol_of_max": 1e-4}
